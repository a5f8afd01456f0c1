"""Screens: the command screen and its modal dialogs."""
