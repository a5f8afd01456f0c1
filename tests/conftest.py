"""Shared fixtures: a database path in tmp_path and the real `ircmd` CLI as a process.

The helpers themselves live in tests/helpers/ (a package: this directory is on
sys.path for every test); the fixtures here are what pytest finds by name.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers.cli import RunCli, ircmd
from helpers.processes import feeder_fixture, holder_of_fixture
from helpers.receivers import receiver
from helpers.serve import server_fixture

__all__ = [
    "feeder_fixture",
    "holder_of_fixture",
    "receiver",
    "server_fixture",
]  # fixtures, found by pytest by name


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A database file that does not exist yet (the Store creates it)."""
    return tmp_path / "ircmd.db"


@pytest.fixture
def run_cli(tmp_path: Path, db_path: Path) -> RunCli:
    """`run_cli("log", "INC-1", "text")` runs the real CLI against db_path as alice."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)

    def run(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        kw.setdefault("db", db_path)
        return ircmd(*args, home=home, **kw)  # type: ignore[arg-type]

    return run
