"""The `ircmd` console entry point.

`ircmd` alone (or with root options only) opens the command screen, and the start
of that screen is what a responder waits for at 3 a.m. So this module reads the
root options itself, from the one table click's root group is built from
(`root.ROOT_OPTIONS`), and opens the screen without importing click or the CLI's sixty
verbs (about 20 ms). Anything else (a verb, `--help`, `--version`, a value that does
not parse, an option given twice, and every command line of a locked SSH session
but the administrator's own) goes to click, which parses and refuses it as ever.

The collector is paused for start-up (see `collector`); the command or the screen
resumes it when it starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from . import collector
from .root import fail, screen_options


def open_screen(options: Mapping[str, Any]) -> None:
    """The command screen on the configured database, as the configured person."""
    from .app import run_app
    from .config import resolve
    from .domain import IrcmdError

    try:
        cfg = resolve(**options)
    except IrcmdError as e:
        fail(str(e))
    try:
        run_app(cfg)  # the screen resumes the collector once it has painted
    except KeyboardInterrupt:
        sys.exit(130)


def main() -> None:
    collector.pause()
    options = screen_options(sys.argv[1:], os.environ)
    if options is not None:
        open_screen(options)
        return
    from .cli import main as run

    run()
