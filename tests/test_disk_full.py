"""A full disk, for real: the database on a 1 MiB tmpfs, filled to the last byte.

Reads keep working (`show`, `list`, `report`, `verify`, a `--read-only` screen),
even with no session open, when SQLite cannot create the -shm index a WAL reader
needs; writes fail with one line that says the disk is full; `log --stdin`
waits for space and then writes, or prints the line it could not write.

Mounting needs root. CI runs as root on a fresh machine, so a failed mount fails
these tests loudly rather than skipping them: a skipped disk-full test would
leave the promise untested without anyone noticing.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cli import RunCli, assert_error, assert_ok
from helpers.processes import Feeder, notes
from helpers.screen import NOW, ready, running

from ircmd.demo import build_demo
from ircmd.models import StorageBusy
from ircmd.store import Store


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.fail(
            "the disk-full tests mount a 1 MiB tmpfs, which needs root (CI runs as root): "
            + r.stderr.strip()
        )
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "--lazy", str(mnt)], check=True)


def fill(directory: Path) -> Path:
    """Take every free byte of the filesystem holding `directory`."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (b"\0" * 65536, b"\0" * 4096, b"\0"):
            try:
                while True:
                    os.write(fd, chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
    finally:
        os.close(fd)
    assert os.statvfs(directory).f_bavail == 0
    return filler


@pytest.fixture
def full_db(small_disk: Path, run_cli: RunCli) -> Path:
    """INC-1 with a note and a step, every session closed, then the disk filled."""
    db = small_disk / "ircmd.db"
    assert_ok(run_cli("declare", "Checkout down", "--severity", "2", db=db))
    assert_ok(run_cli("log", "INC-1", "written before the disk filled", db=db))
    assert_ok(run_cli("checklist", "add", "INC-1", "block the bad IPs", db=db))
    fill(small_disk)
    return db


def test_reads_work_and_writes_say_the_disk_is_full(full_db: Path, run_cli: RunCli) -> None:
    db = full_db
    for args in (
        ("log", "INC-1", "lost?"),
        ("checklist", "add", "INC-1", "another step"),
        ("declare", "Second incident"),
    ):
        assert_error(run_cli(*args, db=db), "disk", "is full", "nothing was written")
    shown = json.loads(assert_ok(run_cli("show", "INC-1", "--json", db=db)))
    assert shown["incident"]["title"] == "Checkout down"
    assert [e["text"] for e in shown["events"] if e["kind"] == "note"] == [
        "written before the disk filled"
    ]
    assert "INC-1" in assert_ok(run_cli("list", db=db))
    assert "written before the disk filled" in assert_ok(run_cli("report", "INC-1", db=db))
    assert "block the bad IPs" in assert_ok(run_cli("--read-only", "show", "INC-1", db=db))
    assert "chain intact: 3 events" in assert_ok(run_cli("verify", db=db))
    for args in (("metrics", "INC-1"), ("escalation", "INC-1"), ("actions",)):
        assert_ok(run_cli(*args, db=db))
    assert list(notes(db, main_file_only=True).values()) == ["written before the disk filled"]


def test_log_stdin_waits_for_space_then_writes(
    small_disk: Path, run_cli: RunCli, feeder: type[Feeder]
) -> None:
    db = small_disk / "ircmd.db"
    assert_ok(run_cli("declare", "Checkout down", db=db))
    f = feeder(db, {"IRCMD_RETRIES": "100", "IRCMD_RETRY_DELAY": "0.01"})
    f.send(b"before")
    first = f.ack()
    filler = fill(small_disk)
    f.send(b"while the disk is full")
    warning = f.err_line()
    assert warning.startswith("ircmd: warning: line 2: the disk holding"), warning
    assert "is full" in warning and "retry 1 of 100" in warning
    filler.unlink()
    second = f.ack()
    code, out, _ = f.finish()
    assert code == 0 and out == []
    assert notes(db) == {first: "before", second: "while the disk is full"}
    assert "chain intact: 3 events" in assert_ok(run_cli("verify", db=db))


def test_log_stdin_prints_a_line_the_full_disk_kept_out(
    small_disk: Path, run_cli: RunCli, feeder: type[Feeder]
) -> None:
    db = small_disk / "ircmd.db"
    assert_ok(run_cli("declare", "Checkout down", db=db))
    f = feeder(db, {"IRCMD_RETRIES": "1", "IRCMD_RETRY_DELAY": "0.01"})
    f.send(b"before")
    first = f.ack()
    filler = fill(small_disk)
    f.send(b"kept out")
    assert "retry 1 of 1" in f.err_line()
    lost = f.err_line()
    assert lost.startswith("ircmd: error: line 2 not written: the disk holding"), lost
    assert lost.endswith(': "kept out"')
    filler.unlink()
    f.send(b"after")
    third = f.ack()
    code, out, err = f.finish()
    assert code == 1 and out == [] and err == []
    assert notes(db) == {first: "before", third: "after"}


async def test_a_read_only_screen_opens_on_a_full_disk(small_disk: Path) -> None:
    db = small_disk / "ircmd.db"
    await build_demo(db, "alice", now=NOW)
    fill(small_disk)
    async with running(db, read_only=True, open_incident=1, size=(120, 30)) as pilot:
        screen = await ready(pilot)
        assert screen.timeline.rows, "the timeline is empty"
        assert screen.state is not None and screen.state.incident.id == 1


async def test_a_write_the_full_disk_stopped_leaves_the_store_usable(small_disk: Path) -> None:
    """Writes the full disk stopped leave nothing half-done behind: once there is
    room again the same process writes, and none of the failed ones is on the record."""
    db = small_disk / "ircmd.db"
    async with await Store.open(db) as store:
        await store.declare("Checkout down", actor="alice")
        filler = fill(small_disk)
        for attempt in range(3):
            with pytest.raises(StorageBusy, match="is full"):
                await store.add_item(1, f"step {attempt}" + " x" * 2000, actor="alice")
            with pytest.raises(StorageBusy, match="is full"):
                await store.log(1, f"note {attempt}" + " x" * 2000, actor="alice")
        filler.unlink()
        await store.add_item(1, "step after", actor="alice")
        await store.log(1, "note after", actor="alice")
        assert [i.text for i in (await store.state(1)).checklist] == ["step after"]
        assert (await store.verify()).ok


def test_an_event_and_its_deliveries_are_written_together_or_not_at_all(
    small_disk: Path,
) -> None:
    """Updates of a few KiB each, two hooks wanting every one, until the disk is
    full: each update on the record has both its deliveries, and the one the disk
    stopped left neither."""
    from ircmd.hooks.outbox import Route, set_routes
    from ircmd.models import Audience
    from ircmd.store.sync import SyncStore
    from ircmd.store.verbs.comms import send_update
    from ircmd.store.verbs.incident import declare

    db = small_disk / "ircmd.db"
    with SyncStore.open(db) as store:
        store.run(declare, "Checkout down", actor="alice")
        hooks = [Route("ops", "webhook", ("update",)), Route("chat", "slack", ("update",))]
        store.run(set_routes, hooks, [])
        filler = fill(small_disk)
        os.truncate(filler, filler.stat().st_size - 320 * 1024)  # room for a few updates
        written = 0
        with pytest.raises(StorageBusy, match="is full"):
            for i in range(1000):
                store.run(send_update, 1, Audience.EXTERNAL, f"{i} " + "x" * 2000, actor="alice")
                written += 1
        assert written > 2
    with sqlite3.connect(db) as conn:
        updates = [r[0] for r in conn.execute("SELECT id FROM events WHERE kind = 'update'")]
        queued = conn.execute(
            "SELECT event_id, group_concat(hook) FROM deliveries GROUP BY event_id ORDER BY 1"
        ).fetchall()
    assert len(updates) == written
    assert [(e, sorted(h.split(","))) for e, h in queued] == [(e, ["chat", "ops"]) for e in updates]
