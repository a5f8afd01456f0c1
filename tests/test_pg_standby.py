"""A read-only session on a PostgreSQL hot standby: reads work and see the primary's
new events once they replicate; every write is refused in one line that says the
session is read-only; the screen's session says it is read-only.

A private primary (tests/helpers/pg.py starts it with wal_level=replica) and a
replica made by pg_basebackup -R, on ports of their own; both stopped after.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import pg_admin_url
from helpers import pg
from helpers.cli import assert_error, assert_ok, ircmd

from ircmd.config import Config
from ircmd.session import Session

# How long a new event may take to reach the replica before the test fails.
REPLICATION_WAIT = 30.0


@dataclass
class Pair:
    primary: str
    replica: str
    home: Path


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    """A primary holding INC-1 (declared by alice) and its hot standby."""
    pg_admin_url()  # no server on this host: skipped (failed in CI) the same way
    # Not under tmp_path: as root, the server runs as `postgres`, which must reach it.
    base = Path(tempfile.mkdtemp(prefix="ircmd-standby-"))
    base.chmod(0o711)  # each server's own directory below is private to it
    home = tmp_path / "home"
    home.mkdir()
    try:
        primary = pg.start(base / "primary")
        assert_ok(ircmd("declare", "Checkout failing", db=primary, home=home))
        replica = pg.standby(base / "primary", base / "replica")
        yield Pair(primary, replica, home)
    finally:
        pg.stop(base / "replica", mode="immediate")
        pg.stop(base / "primary", mode="immediate")
        shutil.rmtree(base, ignore_errors=True)


def texts(p: Pair, db: str) -> list[str]:
    shown = json.loads(assert_ok(ircmd("show", "INC-1", "--json", db=db, home=p.home)))
    return [e["text"] for e in shown["events"]]


def wait_for(p: Pair, text: str) -> list[str]:
    """The replica's INC-1 once it shows `text`."""
    deadline = time.monotonic() + REPLICATION_WAIT
    while True:
        seen = texts(p, p.replica)
        if text in seen or time.monotonic() > deadline:
            return seen
        time.sleep(0.2)


def test_reads_on_the_standby_follow_the_primary_and_writes_are_refused(pair: Pair) -> None:
    listed = assert_ok(ircmd("list", db=pair.replica, home=pair.home))
    assert "Checkout failing" in listed
    assert_ok(ircmd("log", "INC-1", "rolled back the deploy", db=pair.primary, home=pair.home))
    seen = wait_for(pair, "rolled back the deploy")
    assert "rolled back the deploy" in seen
    assert texts(pair, pair.primary) == seen

    # Every kind of write: the one-shot store (log), the async one (declare,
    # severity), and a read-only session asked for as such.
    for args in (
        ("log", "INC-1", "from the standby"),
        ("declare", "Another"),
        ("severity", "INC-1", "SEV1"),
        ("--read-only", "log", "INC-1", "asked read-only"),
    ):
        r = ircmd(*args, db=pair.replica, home=pair.home)
        assert_error(r, "read-only")
    # Refused by ircmd, which knows it is on a standby, not by the server's error.
    r = ircmd("log", "INC-1", "from the standby", db=pair.replica, home=pair.home)
    assert_error(r, "this session is read-only", "standby: write on the primary")
    r = ircmd("pg-setup", "--apply", db=pair.replica, home=pair.home)
    assert_error(r, "standby")
    assert texts(pair, pair.primary) == seen
    assert_ok(ircmd("verify", db=pair.replica, home=pair.home))


async def test_the_screen_on_a_standby_is_read_only_and_sees_new_events(pair: Pair) -> None:
    cfg = Config(db=pair.replica, user="alice", config_dir=pair.home)
    session = await Session.open(cfg, lambda: datetime.now(UTC))
    try:
        assert session.read_only
        assert session.anchoring is None
        before = await session.store.last_event_id()
        assert_ok(ircmd("log", "INC-1", "seen on the screen", db=pair.primary, home=pair.home))
        deadline = time.monotonic() + REPLICATION_WAIT
        while await session.store.last_event_id() == before:
            assert time.monotonic() < deadline, "the event never reached the standby"
            await asyncio.sleep(0.2)
        await session.heartbeat(None)  # presence is not written on a read-only session
    finally:
        await session.close()
