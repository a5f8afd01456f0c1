"""`config.toml`: the settings of `ircmd serve`, `ingest` and `status-page`.

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

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .config import config_dir
from .ingest import Route
from .models import Format, InvalidInput

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


class Settings(_Section):
    serve: ServeSettings = ServeSettings()
    ingest: IngestSettings = IngestSettings()
    status: StatusSettings = StatusSettings()


def settings_path(env: Mapping[str, str]) -> Path:
    raw = env.get("IRCMD_CONFIG", "").strip()
    return Path(raw).expanduser() if raw else config_dir() / "config.toml"


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
    if settings.ingest.sources and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidInput(
            f"{path} holds tokens and is open to others (mode {stat.S_IMODE(mode):o});"
            f" run: chmod 600 {path}"
        )
    return settings
