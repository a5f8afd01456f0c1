"""ircmd: run a live incident from one terminal screen, on a tamper-evident record."""

__version__ = "0.1.0"
