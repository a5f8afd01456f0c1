"""The `ircmd` console entry point: the CLI imported with the collector paused
(see `collector`), which the command or the screen resumes when it starts."""

from __future__ import annotations

from . import collector


def main() -> None:
    collector.pause()
    from .cli import main as run

    run()
