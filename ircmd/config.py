"""Where settings come from, in one place: flags > environment > defaults.

IRCMD_DB, IRCMD_USER, IRCMD_READ_ONLY, IRCMD_PLAYBOOKS (os.pathsep-separated),
IRCMD_TIMEOUT (seconds to wait for another writer's lock, default 5),
IRCMD_FORCE_TIME (record times that look wrong: future, or long before the incident),
IRCMD_MAX_TEXT (the largest entry text, in bytes; default 64 KiB) and
IRCMD_LOCK_USER (set by an SSH forced command: the session acts only as that person,
on the database the administrator chose, and only with the verbs and options in
ircmd/lock.py; `--as`, `--db` and `--playbooks` are refused) and IRCMD_EVIDENCE_DIR
(where `evidence add --stdin` keeps a copy of each item; only the environment sets it,
so a locked client cannot).
config.toml's `[database]` table is read here too: `url` (the database, after --db and
IRCMD_DB) and `identity` ("client", the default: the actor is --as / IRCMD_USER / the OS
user; "database": each person logs in as their own PostgreSQL role, the actor is that
login, and --as and IRCMD_USER are refused; see `opened`).
The anchor log's settings (IRCMD_ANCHOR_*) are read by `anchor_settings`, from the
environment only. `config.toml` (serve, ingest, status-page) is read by `settings.py`,
which only those commands import.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import platformdirs

from .domain import MAX_TEXT_BYTES, InvalidInput
from .rules import check_name

APP = "ircmd"
DEFAULT_TIMEOUT = 5.0
DEFAULT_ANCHOR_EVERY_EVENTS = 100
DEFAULT_ANCHOR_EVERY_MINUTES = 10.0
# Who names an event's actor (config.toml `[database] identity`).
IDENTITIES = ("client", "database")
# IRCMD_MAX_TEXT's upper bound: a report streams entries, but each one whole.
MAX_TEXT_CEILING = 16 * 1024 * 1024


def default_db() -> Path:
    return platformdirs.user_data_path(APP) / "ircmd.db"


def default_anchor_log() -> Path:
    """In the user state directory: away from the database's own directory by default."""
    return platformdirs.user_state_path(APP) / "anchors.jsonl"


def config_dir() -> Path:
    return platformdirs.user_config_path(APP)


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def lock_user(env: Mapping[str, str]) -> str:
    """The person an SSH forced command locked this session to, or "" when unlocked."""
    return env.get("IRCMD_LOCK_USER", "").strip()


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class AnchorSettings:
    """Where anchors go and how they are signed and checked.

    `log` None means no anchor log at all: nothing is anchored or checked (what a
    Config built by hand in a test gets, so no test touches the real state directory).
    A period of 0 turns that trigger of the screen's automatic anchoring off.
    """

    log: Path | None = None
    key: Path | None = None
    signers: Path | None = None
    every_events: int = 0
    every_minutes: float = 0.0


@dataclass(frozen=True)
class Config:
    """Who is acting on which database, and how: resolved once from flags, environment
    and config.toml, then passed to everything that needs it."""

    # A SQLite file, or a PostgreSQL URL (`store.postgres.is_url`).
    db: Path | str
    user: str
    read_only: bool = False
    user_locked: bool = False
    playbook_dirs: tuple[Path, ...] = field(default_factory=tuple)
    config_dir: Path = field(default_factory=config_dir)
    timeout: float = DEFAULT_TIMEOUT
    evidence_dir: Path | None = None
    anchor: AnchorSettings = field(default_factory=AnchorSettings)
    force_time: bool = False
    max_text: int = MAX_TEXT_BYTES
    # Who names the actor of an event: "client" (--as, IRCMD_USER, the OS user) or
    # "database" (config.toml: each person logs in as their own PostgreSQL role).
    identity: str = "client"
    # The user was named (--as, IRCMD_USER, the lock), not taken from the OS account.
    user_named: bool = False


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
    locked = lock_user(env)
    if user is not None and not user.strip():
        raise InvalidInput("--as needs a name (it is empty)")
    table = file_database_table(env)
    identity = table.get("identity", "client")
    if identity not in IDENTITIES:
        raise InvalidInput(
            f"{settings_path(env)}: [database] identity must be one of {', '.join(IDENTITIES)}"
        )
    if identity == "database" and (user or env.get("IRCMD_USER")):
        flag = "--as" if user else "IRCMD_USER"
        raise InvalidInput(
            f"{flag} refused: each person logs in as themself"
            ' (config.toml [database] identity = "database")'
        )
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
        db=database(db or env.get("IRCMD_DB") or table.get("url")),
        user=locked or asked or os_user(),
        user_named=bool(locked or asked),
        identity=identity,
        read_only=bool(read_only) if read_only is not None else _truthy(env.get("IRCMD_READ_ONLY")),
        user_locked=bool(locked),
        playbook_dirs=tuple(dirs),
        timeout=timeout,
        evidence_dir=Path(env["IRCMD_EVIDENCE_DIR"]) if env.get("IRCMD_EVIDENCE_DIR") else None,
        anchor=anchor_settings(env),
        force_time=bool(force_time) or _truthy(env.get("IRCMD_FORCE_TIME")),
        max_text=max_text,
    )


def database(value: str | Path | None) -> Path | str:
    """--db, IRCMD_DB or config.toml's `[database] url`: a PostgreSQL URL as it is;
    a path (or `sqlite:PATH`) as a path; nothing, the default file."""
    if not value:
        return default_db()
    text = str(value)
    if text.startswith(("postgresql://", "postgres://")):
        return text
    text = text.removeprefix("sqlite://").removeprefix("sqlite:")
    return Path(text).expanduser()


def settings_path(env: Mapping[str, str]) -> Path:
    """config.toml: IRCMD_CONFIG, or the one in the config directory."""
    raw = env.get("IRCMD_CONFIG", "").strip()
    return Path(raw).expanduser() if raw else config_dir() / "config.toml"


def file_database(env: Mapping[str, str]) -> str | None:
    """config.toml's `[database] url`, read without the settings models (every
    command resolves its database; only a few need the rest of the file)."""
    return file_database_table(env).get("url")


def file_database_table(env: Mapping[str, str]) -> dict[str, str]:
    """config.toml's `[database]` table (`url`, `identity`), its values checked to be
    strings; empty when there is no file or no such table."""
    path = settings_path(env)
    try:
        raw = path.read_bytes()
    except OSError:
        return {}
    if b"[database]" not in raw:
        return {}
    import tomllib

    try:
        table = tomllib.loads(raw.decode("utf-8")).get("database", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InvalidInput(f"{path}: {e}") from None
    if not isinstance(table, dict):
        return {}
    for key in ("url", "identity"):
        if key in table and not isinstance(table[key], str):
            raise InvalidInput(f"{path}: [database] {key} must be a string")
    return {k: table[k] for k in ("url", "identity") if k in table}


def opened(cfg: Config, *, db_user: str | None, read_only: bool, on_postgres: bool) -> Config:
    """The Config as the opened database has it: a standby is read-only, and when the
    record's identity is the database's, the actor is the login (session_user).

    Refused: config.toml saying identity = "database" of a record that does not (a
    SQLite file, or a PostgreSQL record not set up so), and a name given by --as,
    IRCMD_USER or the lock that is not the login's."""
    if cfg.identity == "database" and db_user is None:
        if not on_postgres:
            raise InvalidInput(
                'config.toml says identity = "database", but the database is a SQLite'
                " file: only PostgreSQL logins can name people"
            )
        raise InvalidInput(
            'config.toml says identity = "database", but this record does not'
            " (run: ircmd pg-setup --identity database --apply)"
        )
    user = cfg.user
    if db_user is not None:
        if cfg.user_named and cfg.user != db_user:
            raise InvalidInput(
                f"this record's actors are database logins and you log in as {db_user!r}:"
                f" acting as {cfg.user!r} refused"
            )
        if check_name(db_user, "the database login") != db_user:
            raise InvalidInput(f"database login {db_user!r} is not a name the record can keep")
        user = db_user
    if user == cfg.user and read_only <= cfg.read_only:
        return cfg
    return replace(cfg, user=user, read_only=cfg.read_only or read_only)


def anchor_settings(env: Mapping[str, str]) -> AnchorSettings:
    """IRCMD_ANCHOR_LOG (default in the user state directory), IRCMD_ANCHOR_KEY (sign with
    this SSH key), IRCMD_ANCHOR_SIGNERS (an ssh-keygen allowed_signers file to check the
    signatures against), IRCMD_ANCHOR_EVERY_EVENTS and IRCMD_ANCHOR_EVERY_MINUTES."""

    def path(name: str) -> Path | None:
        raw = env.get(name, "").strip()
        return Path(raw).expanduser() if raw else None

    def number(name: str, default: float) -> float:
        raw = env.get(name, "").strip()
        try:
            value = float(raw) if raw else default
        except ValueError:
            raise InvalidInput(f"{name}={raw!r} is not a number") from None
        if not 0 <= value <= 1e9:
            raise InvalidInput(f"{name}={raw!r} is out of range (0 turns it off)")
        return value

    return AnchorSettings(
        log=path("IRCMD_ANCHOR_LOG") or default_anchor_log(),
        key=path("IRCMD_ANCHOR_KEY"),
        signers=path("IRCMD_ANCHOR_SIGNERS"),
        every_events=int(number("IRCMD_ANCHOR_EVERY_EVENTS", DEFAULT_ANCHOR_EVERY_EVENTS)),
        every_minutes=number("IRCMD_ANCHOR_EVERY_MINUTES", DEFAULT_ANCHOR_EVERY_MINUTES),
    )
