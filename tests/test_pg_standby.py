"""A read-only session on a PostgreSQL hot standby: reads work and see the primary's
new events once they replicate; every write is refused in one line that says the
session is read-only; the screen's session says it is read-only.

A private primary (tests/helpers/pg.py starts it with wal_level=replica) and a
replica made by pg_basebackup -R, on ports of their own; both stopped after.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
import subprocess
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


def start_replica(base: Path, primary_port: int) -> str:
    """pg_basebackup of the primary into base/replica (-R: a standby that follows
    it), started on a port of its own; its superuser URL."""
    bins = pg.bindir()
    assert bins is not None
    data = base / "replica"
    source = ["-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres"]
    subprocess.run(
        pg.as_owner([str(bins / "pg_basebackup"), "-R", "-X", "stream", "-D", str(data), *source]),
        check=True,
        capture_output=True,
        cwd=base,
    )
    port = pg._free_port()
    # max_connections may not be below the primary's, or the standby will not start.
    opts = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        " -c max_connections=300 -c hot_standby=on -c shared_buffers=64MB"
    )
    log = str(base / "replica.log")
    subprocess.run(
        pg.as_owner([str(bins / "pg_ctl"), "-D", str(data), "-o", opts, "-l", log, "-w", "start"]),
        check=True,
        capture_output=True,
        cwd=base,
    )
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def stop_replica(base: Path) -> None:
    bins = pg.bindir()
    if bins is not None and (base / "replica").exists():
        data = str(base / "replica")
        subprocess.run(
            pg.as_owner([str(bins / "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            cwd=base,
        )


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    """A primary holding INC-1 (declared by alice) and its hot standby."""
    pg_admin_url()  # no server on this host: skipped (failed in CI) the same way
    # Not under tmp_path: as root, the server runs as `postgres`, which must reach it.
    base = Path(tempfile.mkdtemp(prefix="ircmd-standby-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(base, owner.pw_uid, owner.pw_gid)
    home = tmp_path / "home"
    home.mkdir()
    try:
        primary = pg.start(base / "primary")
        assert_ok(ircmd("declare", "Checkout failing", db=primary, home=home))
        port = int((base / "primary" / "port").read_text())
        replica = start_replica(base, port)
        yield Pair(primary, replica, home)
    finally:
        stop_replica(base)
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
