"""`config.toml`: the settings of `ircmd serve`, `ingest`, `status-page` and `deliver`.

Read from the config directory (`~/.config/ircmd/config.toml`) or the file
IRCMD_CONFIG names. Its tokens are secrets, so a file holding one that its group or
others may read is refused. Apart from `config.py` (flags > environment > defaults),
which every command imports, so that no other command pays for these models.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .config import settings_path
from .ingest import Route
from .models import Audience, Format, InvalidInput, Severity

DEFAULT_LISTEN = "127.0.0.1:8080"


class _Section(BaseModel):
    """A table of config.toml: a misspelt key is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Section):
    """`[ingest.sources.NAME]`: POST /ingest/NAME, in this format, with this token."""

    format: Format
    token: str = Field(min_length=16)


class ServeSettings(_Section):
    listen: str = DEFAULT_LISTEN
    cert: Path | None = None
    key: Path | None = None


class IngestSettings(_Section):
    sources: dict[str, Source] = Field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    defaults: Route = Route()


class StatusSettings(_Section):
    title: str = "Service status"


HookKind = Literal["webhook", "slack", "email", "command"]
#: What each kind must be given.
_HOOK_NEEDS: dict[str, tuple[str, ...]] = {
    "webhook": ("url", "secret"),
    "slack": ("url",),
    "email": ("smtp_host", "sender"),
    "command": ("command",),
}


class Hook(_Section):
    """`[[hooks]]`: where some events are delivered. Its secrets (url, secret,
    password) stay here: never in the record, a delivery's outcome or any output."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
    kind: HookKind
    events: tuple[str, ...] = ()
    audience: Audience | None = None  # updates only
    min_severity: Severity | None = None
    incident_type: str | None = None
    timeout: float = Field(default=10.0, gt=0, le=300)  # seconds per attempt
    give_up_after: float = Field(default=86400.0, gt=0)  # seconds after queuing
    # webhook, slack
    url: str | None = None
    secret: str | None = Field(default=None, min_length=16)
    # email
    smtp_host: str | None = None
    smtp_port: int = 587
    starttls: bool = True
    username: str | None = None
    password: str | None = None
    sender: str | None = Field(default=None, alias="from")
    to: tuple[str, ...] = ()
    # command: argv, run without a shell
    command: tuple[str, ...] = ()
    #: Variables of the deliverer's environment the command is also given (a token
    #: its CLI needs, like GH_TOKEN); nothing else of it is passed but what
    #: `hooks.command.PASSED` lists.
    pass_env: tuple[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], ...] = ()

    @field_validator("events")
    @classmethod
    def _events_are_known(cls, events: tuple[str, ...]) -> tuple[str, ...]:
        from .hooks.outbox import EVENTS

        unknown = [e for e in events if e not in EVENTS]
        if unknown:
            raise ValueError(f"unknown event {unknown[0]!r}; known: {', '.join(EVENTS)}")
        return events

    @model_validator(mode="after")
    def _has_what_its_kind_needs(self) -> Hook:
        missing = [k for k in _HOOK_NEEDS[self.kind] if not getattr(self, k)]
        if missing:
            shown = ["from" if k == "sender" else k for k in missing]
            raise ValueError(f"a {self.kind} hook needs {', '.join(shown)}")
        return self


class Contact(_Section):
    """`[contacts."Legal"]`: how an escalation contact is reached by `notify`."""

    hook: str
    address: str | None = None


class DatabaseSettings(_Section):
    """`[database]`: read by `config.file_database_table` for every command; here so
    that a misspelt key is still an error."""

    url: str | None = None
    identity: Literal["client", "database"] = "client"


class Settings(_Section):
    database: DatabaseSettings = DatabaseSettings()
    serve: ServeSettings = ServeSettings()
    ingest: IngestSettings = IngestSettings()
    status: StatusSettings = StatusSettings()
    hooks: tuple[Hook, ...] = ()
    contacts: dict[str, Contact] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names_are_known(self) -> Settings:
        names = [h.name for h in self.hooks]
        if len(set(names)) != len(names):
            raise ValueError("two hooks have the same name")
        for who, c in self.contacts.items():
            if c.hook not in names:
                raise ValueError(f"contact {who!r} names hook {c.hook!r}, which is not defined")
        return self

    @property
    def has_secrets(self) -> bool:
        return bool(self.ingest.sources or self.hooks)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """config.toml as `Settings`; a missing file is all defaults (no ingest sources).

    A file holding a token must be private to its owner: a token anyone on the host
    can read lets anyone on the host open incidents."""
    env = os.environ if env is None else env
    path = settings_path(env)
    try:
        raw = path.read_bytes()
        mode = path.stat().st_mode
    except FileNotFoundError:
        if env.get("IRCMD_CONFIG", "").strip():
            raise InvalidInput(f"IRCMD_CONFIG names {path}, which does not exist") from None
        return Settings()
    except OSError as e:
        raise InvalidInput(f"cannot read {path}: {e.strerror}") from None
    try:
        settings = Settings.model_validate(tomllib.loads(raw.decode()))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise InvalidInput(f"{path} is not valid TOML: {e}") from None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{path}: {where}: {first['msg']}") from None
    if settings.has_secrets and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidInput(
            f"{path} holds secrets and is open to others (mode {stat.S_IMODE(mode):o});"
            f" run: chmod 600 {path}"
        )
    return settings
