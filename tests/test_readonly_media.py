"""A database in a directory nobody can write: a backup on read-only media.

SQLite needs a WAL database's -shm (and -wal) file even to read it, so the plain
`mode=ro` open fails there; `--read-only` falls back to `immutable=1`. These tests
run the real CLI against a directory that is truly read-only *for the CLI
process*: `chmod 0o555`. The tests may run as root, which ignores file modes
through CAP_DAC_OVERRIDE; so the CLI is started through conftest.UNPRIVILEGED,
which as root drops every capability before exec. The directory's modes then
apply to it exactly as to an ordinary user: it gets EACCES creating the -shm.
As an ordinary user no wrapper is needed.

Each test first checks that the wrapped process really cannot create a file
in the directory, so a pass cannot come from a directory that was writable.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from helpers.cli import UNPRIVILEGED, RunCli, assert_error, assert_ok

from ircmd.store import Store


class ReadOnlyDir:
    """A directory, and a command prefix under which it is read-only once sealed."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def seal(self) -> None:
        """From here on the directory is read-only for commands run through `run`."""
        self.path.chmod(0o555)
        self.assert_unwritable()

    def assert_unwritable(self) -> None:
        probe = self.path / "probe"
        code = f"open({str(probe)!r}, 'x')"
        r = subprocess.run(
            [*UNPRIVILEGED, sys.executable, "-c", code], capture_output=True, text=True
        )
        assert r.returncode != 0 and not probe.exists(), "the directory is still writable"
        assert "PermissionError" in r.stderr or "Read-only file system" in r.stderr, r.stderr

    def run(self, run_cli: RunCli, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        """`run_cli(*args)`, the real CLI, started without privilege."""
        return run_cli(*args, unprivileged=True, **kw)


@pytest.fixture
def ro(tmp_path: Path) -> Iterator[ReadOnlyDir]:
    d = tmp_path / "romnt"
    d.mkdir()
    try:
        yield ReadOnlyDir(d)
    finally:
        d.chmod(0o755)


@pytest.fixture
def backup(run_cli: RunCli, ro: ReadOnlyDir) -> Path:
    """INC-1 with one note, backed up with `ircmd backup` into the sealed directory."""
    assert_ok(run_cli("declare", "Checkout failing"))
    assert_ok(run_cli("log", "INC-1", "first note"))
    dest = ro.path / "r.db"
    assert "backed up to" in assert_ok(run_cli("backup", str(dest)))
    ro.seal()
    return dest


def test_backup_on_read_only_media_can_be_audited(
    run_cli: RunCli, ro: ReadOnlyDir, backup: Path
) -> None:
    assert_ok(run_cli("log", "INC-1", "after the backup"))  # the live db moves on
    listed = assert_ok(ro.run(run_cli, "--db", str(backup), "--read-only", "list"))
    assert "INC-1" in listed and "Checkout failing" in listed
    shown = assert_ok(ro.run(run_cli, "--db", str(backup), "--read-only", "show", "INC-1"))
    assert "first note" in shown and "after the backup" not in shown
    r = ro.run(run_cli, "--db", str(backup), "--read-only", "verify")
    assert assert_ok(r).startswith("ok: chain intact: 2 events (all incidents); head #")
    r = ro.run(run_cli, "--db", str(backup), "--read-only", "verify", "INC-1")
    assert assert_ok(r).startswith("ok: chain intact: 2 events (INC-1); head #")
    # IRCMD_READ_ONLY is the same mode as the flag.
    env = {"IRCMD_READ_ONLY": "1"}
    assert "INC-1" in assert_ok(ro.run(run_cli, "--db", str(backup), "list", env=env))
    assert sorted(p.name for p in ro.path.iterdir()) == ["r.db"]  # no -shm, no -wal


def test_writes_on_read_only_media_fail_with_one_clear_line(
    run_cli: RunCli, ro: ReadOnlyDir, backup: Path
) -> None:
    line = assert_error(
        ro.run(run_cli, "--db", str(backup), "log", "INC-1", "x"), "directory", "read-only"
    )
    assert str(ro.path.name) in line and "unable to open" not in line
    assert_error(
        ro.run(run_cli, "--db", str(ro.path / "new.db"), "declare", "x"), "directory", "read-only"
    )
    assert_error(
        ro.run(run_cli, "--db", str(backup), "--read-only", "log", "INC-1", "x"), "read-only"
    )
    r = ro.run(run_cli, "--db", str(backup), "--read-only", "verify")
    assert assert_ok(r).startswith("ok: chain intact: 2 events (all incidents); head #")
    assert sorted(p.name for p in ro.path.iterdir()) == ["r.db"]


def _copy_with_live_wal(run_cli: RunCli, db: Path, dest: Path, names: tuple[str, ...]) -> None:
    """INC-1 with two notes, the second only in db's -wal (a reader holds the WAL
    open, so nothing checkpoints it); copy `names` of db, -wal, -shm into `dest`."""
    assert_ok(run_cli("declare", "Checkout failing"))
    assert_ok(run_cli("log", "INC-1", "first note"))
    holder = sqlite3.connect(db)
    try:
        holder.execute("SELECT count(*) FROM events").fetchone()
        assert_ok(run_cli("log", "INC-1", "only in the wal"))
        for suffix in names:
            shutil.copy(f"{db}{suffix}", dest / f"r.db{suffix}")
    finally:
        holder.close()


def test_uncheckpointed_wal_without_its_shm_is_refused(
    run_cli: RunCli, ro: ReadOnlyDir, db_path: Path
) -> None:
    """immutable=1 ignores a -wal file, so it would silently hide committed events."""
    _copy_with_live_wal(run_cli, db_path, ro.path, ("", "-wal"))
    ro.seal()
    copy = ro.path / "r.db"
    uri = f"file:{quote(str(copy))}?mode=ro&immutable=1"
    with sqlite3.connect(uri, uri=True) as conn:  # what immutable alone would show
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 2
    for verb in (("list",), ("show", "INC-1"), ("verify",)):
        line = assert_error(ro.run(run_cli, "--db", str(copy), "--read-only", *verb), "r.db-wal")
        assert "copy r.db and r.db-wal" in line


def test_wal_with_its_shm_is_read_in_full(run_cli: RunCli, ro: ReadOnlyDir, db_path: Path) -> None:
    """With -wal and -shm beside it SQLite reads a read-only WAL itself: nothing hidden."""
    _copy_with_live_wal(run_cli, db_path, ro.path, ("", "-wal", "-shm"))
    ro.seal()
    copy = str(ro.path / "r.db")
    assert "only in the wal" in assert_ok(
        ro.run(run_cli, "--db", copy, "--read-only", "show", "INC-1")
    )
    r = ro.run(run_cli, "--db", copy, "--read-only", "verify")
    assert assert_ok(r).startswith("ok: chain intact: 3 events (all incidents); head #")


def test_empty_wal_beside_the_backup_is_harmless(
    run_cli: RunCli, ro: ReadOnlyDir, db_path: Path
) -> None:
    assert_ok(run_cli("declare", "Checkout failing"))
    assert "backed up" in assert_ok(run_cli("backup", str(ro.path / "r.db")))
    (ro.path / "r.db-wal").touch()
    ro.seal()
    r = ro.run(run_cli, "--db", str(ro.path / "r.db"), "--read-only", "verify")
    assert assert_ok(r).startswith("ok: chain intact: 1 events (all incidents); head #")


def test_directory_closed_only_to_this_user_is_refused(run_cli: RunCli, tmp_path: Path) -> None:
    """Mode 0o575: not writable by its owner (this user) but writable by its group, so a
    writer may be active and immutable=1 would be unsafe: refuse, saying why."""
    d = tmp_path / "shared"
    d.mkdir()
    assert_ok(run_cli("declare", "Checkout failing"))
    assert "backed up" in assert_ok(run_cli("backup", str(d / "r.db")))
    ro = ReadOnlyDir(d)
    try:
        ro.seal()
        d.chmod(0o575)
        ro.assert_unwritable()
        line = assert_error(ro.run(run_cli, "--db", str(d / "r.db"), "--read-only", "list"))
        assert "r.db-shm" in line and "cannot write" in line
    finally:
        d.chmod(0o755)


async def test_read_only_store_in_a_writable_directory_still_sees_new_writes(
    db_path: Path,
) -> None:
    """The normal read-only path is unchanged (no immutable): a live writer is seen."""
    async with await Store.open(db_path) as rw:
        await rw.declare("first", actor="alice")
        async with await Store.open(db_path, read_only=True) as ro:
            assert len(await ro.list_incidents()) == 1
            await rw.declare("second", actor="alice")
            assert len(await ro.list_incidents()) == 2
