"""Where settings come from, in one place: flags > environment > defaults.

IRCMD_DB, IRCMD_USER, IRCMD_READ_ONLY, IRCMD_PLAYBOOKS (os.pathsep-separated),
IRCMD_TIMEOUT (seconds to wait for another writer's lock, default 5),
IRCMD_FORCE_TIME (record times that look wrong: future, or long before the incident),
IRCMD_MAX_TEXT (the largest entry text, in bytes; default 64 KiB) and
IRCMD_LOCK_USER (set by an SSH forced command: the session acts only as that person,
on the database the administrator chose, and `--as`, `--db` and `--playbooks` are refused).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from .models import MAX_TEXT_BYTES, InvalidInput
from .rules import check_name

APP = "ircmd"
DEFAULT_TIMEOUT = 5.0
# IRCMD_MAX_TEXT's upper bound: a report streams entries, but each one whole.
MAX_TEXT_CEILING = 16 * 1024 * 1024


def default_db() -> Path:
    return platformdirs.user_data_path(APP) / "ircmd.db"


def config_dir() -> Path:
    return platformdirs.user_config_path(APP)


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Config:
    db: Path
    user: str
    read_only: bool = False
    user_locked: bool = False
    playbook_dirs: tuple[Path, ...] = field(default_factory=tuple)
    config_dir: Path = field(default_factory=config_dir)
    timeout: float = DEFAULT_TIMEOUT
    force_time: bool = False
    max_text: int = MAX_TEXT_BYTES


def resolve(
    *,
    db: str | Path | None = None,
    user: str | None = None,
    read_only: bool | None = None,
    playbooks: str | Path | None = None,
    timeout: float | None = None,
    force_time: bool | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Build the effective configuration; a flag beats its variable beats the default."""
    env = os.environ if env is None else env
    locked = env.get("IRCMD_LOCK_USER", "").strip()
    if user is not None and not user.strip():
        raise InvalidInput("--as needs a name (it is empty)")
    # Names are compared and recorded in one normal form (rules.check_name).
    if locked:
        locked = check_name(locked, "IRCMD_LOCK_USER")
    # Under a lock the OS account is shared, so only an explicit name can disagree.
    asked = user or env.get("IRCMD_USER")
    if asked:
        asked = check_name(asked, "--as" if user else "IRCMD_USER")
    if locked and asked and asked != locked:
        raise InvalidInput(f"this session is locked to user {locked!r}; --as {asked!r} refused")
    if locked and (db or playbooks):
        # The administrator chose the record in the forced command; a client may not swap it.
        flag = "--db" if db else "--playbooks"
        raise InvalidInput(f"this session is locked by its administrator; {flag} refused")
    dirs: list[Path] = [config_dir() / "playbooks"]
    extra = str(playbooks) if playbooks else env.get("IRCMD_PLAYBOOKS", "")
    dirs += [Path(p).expanduser() for p in extra.split(os.pathsep) if p]
    if timeout is None:
        raw = env.get("IRCMD_TIMEOUT", "").strip()
        try:
            timeout = float(raw) if raw else DEFAULT_TIMEOUT
        except ValueError:
            raise InvalidInput(f"IRCMD_TIMEOUT={raw!r} is not a number of seconds") from None
    if not 0 <= timeout <= 3600:
        raise InvalidInput(f"timeout {timeout:g} s is out of range (0..3600)")
    raw = env.get("IRCMD_MAX_TEXT", "").strip()
    try:
        max_text = int(raw) if raw else MAX_TEXT_BYTES
    except ValueError:
        raise InvalidInput(f"IRCMD_MAX_TEXT={raw!r} is not a number of bytes") from None
    if not 1 <= max_text <= MAX_TEXT_CEILING:
        raise InvalidInput(f"IRCMD_MAX_TEXT={max_text} is out of range (1..{MAX_TEXT_CEILING})")
    return Config(
        db=Path(db or env.get("IRCMD_DB") or default_db()).expanduser(),
        user=locked or asked or os_user(),
        read_only=bool(read_only) if read_only is not None else _truthy(env.get("IRCMD_READ_ONLY")),
        user_locked=bool(locked),
        playbook_dirs=tuple(dirs),
        timeout=timeout,
        force_time=bool(force_time) or _truthy(env.get("IRCMD_FORCE_TIME")),
        max_text=max_text,
    )
