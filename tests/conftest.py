"""Shared fixtures: a database path in tmp_path and the real `ircmd` CLI as a process.

The helpers themselves live in tests/helpers/ (a package: this directory is on
sys.path for every test); the fixtures here are what pytest finds by name.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import pg
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


_OWN_SERVER: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Start a PostgreSQL server for the whole run unless .ci/run started one
    (IRCMD_TEST_PG). In the controller only: xdist workers inherit the variable."""
    global _OWN_SERVER
    if hasattr(config, "workerinput") or os.environ.get(pg.ENV):
        return
    base = Path(tempfile.mkdtemp(prefix="ircmd-pg-"))
    try:
        os.environ[pg.ENV] = pg.start(base)
        _OWN_SERVER = base
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", b"") or b""
        os.environ[pg.MISSING] = f"{e} {detail.decode(errors='replace').strip()}".strip()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _OWN_SERVER is not None and not hasattr(config, "workerinput"):
        pg.stop(_OWN_SERVER, mode="immediate")


def pg_admin_url() -> str:
    """The test server's superuser URL; in CI a missing server fails the test, and
    elsewhere it is skipped with the reason, loudly."""
    url = os.environ.get(pg.ENV)
    if url:
        return url
    why = os.environ.get(pg.MISSING, "not started")
    if os.environ.get("CI"):
        pytest.fail(f"no PostgreSQL server for the tests in CI: {why}")
    pytest.skip(f"NO POSTGRESQL SERVER: the PostgreSQL half of this test did not run ({why})")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database of this test's own (dropped after)."""
    admin = pg_admin_url()
    url = pg.fresh_database(admin)
    try:
        yield url
    finally:
        pg.drop_database(admin, url)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked `sqlite_only` (it is about SQLite's file: its locks, its pages,
    its mode bits) gets `db_ref` on SQLite alone, not a skipped PostgreSQL half."""
    if "db_ref" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("sqlite_only")
        metafunc.parametrize("db_ref", BACKENDS[:1] if only else BACKENDS, indirect=True)


BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture
def db_ref(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """The record on each backend in turn: a SQLite file that does not exist yet,
    or a new empty PostgreSQL database (as `--db` and IRCMD_DB take them)."""
    if request.param == "sqlite":
        return tmp_path / "ircmd.db"
    return str(request.getfixturevalue("pg_url"))


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
