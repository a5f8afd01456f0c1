"""The `ircmd` console entry point.

`ircmd` alone (or with root options only) opens the command screen, and the start
of that screen is what a responder waits for at 3 a.m. So this module reads the
root options itself, from the one table click's root group is built from
(`ROOT_OPTIONS`), and opens the screen without importing click or the CLI's sixty
verbs (about 20 ms). Anything else (a verb, `--help`, `--version`, a value that does
not parse, an option given twice, and every command line of a locked SSH session
but the administrator's own) goes to click, which parses and refuses it as ever.

The collector is paused for start-up (see `collector`); the command or the screen
resumes it when it starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from . import collector


@dataclass(frozen=True)
class RootOption:
    """One option of the root command: `flag` on the command line, `name` the
    keyword `config.resolve` takes; `kind` converts its value, None for a switch."""

    flag: str
    name: str
    kind: type[str] | type[float] | None
    help: str
    metavar: str | None = None


ROOT_OPTIONS: tuple[RootOption, ...] = (
    RootOption("--db", "db", str, "Database file (env IRCMD_DB).", "PATH"),
    RootOption("--as", "user", str, "Act as this person (env IRCMD_USER).", "NAME"),
    RootOption("--read-only", "read_only", None, "Open the record read-only."),
    RootOption(
        "--playbooks", "playbooks", str, "Extra playbook directory (env IRCMD_PLAYBOOKS).", "DIR"
    ),
    RootOption(
        "--timeout",
        "timeout",
        float,
        "How long to wait for another writer's lock (env IRCMD_TIMEOUT, default 5).",
        "SECONDS",
    ),
    RootOption(
        "--force-time",
        "force_time",
        None,
        "Record a time that looks wrong (future, or over a week before the incident's"
        " start) (env IRCMD_FORCE_TIME).",
    ),
)


def screen_options(argv: Sequence[str], env: Mapping[str, str]) -> dict[str, Any] | None:
    """The root options of a command line that only opens the screen, as
    `config.resolve` keywords; None when click must read it.

    A locked session's client is a stranger, held to click's allow-list (`lock`):
    only the administrator's bare forced command, with no command of the client's
    (SSH_ORIGINAL_COMMAND), is read here."""
    from .config import lock_user

    if lock_user(env) and (argv or env.get("SSH_ORIGINAL_COMMAND", "").strip()):
        return None
    by_flag = {o.flag: o for o in ROOT_OPTIONS}
    found: dict[str, Any] = {}
    words = iter(argv)
    for word in words:
        flag, eq, value = word.partition("=")
        option = by_flag.get(flag)
        if option is None or option.name in found:
            return None
        if option.kind is None:
            if eq:
                return None
            found[option.name] = True
            continue
        if not eq:
            given = next(words, None)
            if given is None or given.startswith("-"):
                return None
            value = given
        try:
            found[option.name] = option.kind(value)
        except ValueError:
            return None
    return found


def fail(message: str, code: int = 1) -> NoReturn:
    """End with one line on standard error: never a traceback."""
    from .display import printable

    print(f"ircmd: error: {printable(message)}", file=sys.stderr)
    sys.exit(code)


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
