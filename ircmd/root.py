"""The root command's options and its one-line error, shared by click's root group
(`cli`) and the screen's fast start (`launch`), so that both read a command line
alike and neither imports the other."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn


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
