"""Widgets of the command screen."""
