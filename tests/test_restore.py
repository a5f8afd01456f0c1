"""`ircmd restore BACKUP`: a verified backup in place, the old file kept, running
writers refused afterwards instead of writing into the file moved aside."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest
from helpers.cli import RunCli, assert_error, assert_ok
from helpers.processes import Feeder, Holder, notes

from ircmd.store import Store


@pytest.fixture
def backed_up(run_cli: RunCli, db_path: Path, tmp_path: Path) -> Path:
    """INC-1 with one note, backed up to the returned path; then one more note."""
    assert_ok(run_cli("declare", "Checkout down", "--severity", "2"))
    assert_ok(run_cli("log", "INC-1", "before the backup"))
    backup = tmp_path / "safe" / "backup.db"
    assert_ok(run_cli("backup", str(backup)))
    assert_ok(run_cli("log", "INC-1", "after the backup"))
    return backup


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_restore_puts_the_backup_in_place_and_keeps_the_old_file(
    backed_up: Path, db_path: Path, run_cli: RunCli, feeder: type[Feeder]
) -> None:
    writer = feeder(db_path)  # a writer that opened the database before the restore
    writer.send(b"written before the restore")
    writer.ack()
    out = assert_ok(run_cli("restore", str(backed_up)))
    assert "(2 events)" in out
    (aside,) = db_path.parent.glob("ircmd.db.before-restore-*[0-9]Z")
    assert f"kept as {aside}" in out
    assert list(notes(db_path).values()) == ["before the backup"]
    assert "chain intact: 2 events" in assert_ok(run_cli("verify"))
    # The running writer refuses now rather than writing into the moved file.
    writer.send(b"written after the restore")
    assert "was replaced by another file" in writer.err_line()
    code, acks, _ = writer.finish(close_stdin=False)
    assert code == 1 and acks == []
    assert list(notes(db_path).values()) == ["before the backup"]
    # The old file is kept whole, with its own -wal: it opens as it was.
    old = list(notes(aside).values())
    assert old == ["before the backup", "after the backup", "written before the restore"]
    assert "chain intact: 4 events" in assert_ok(run_cli("--read-only", "verify", db=aside))
    assert not [n for n in listing(db_path.parent) if "restoring" in n], "temporary copy left"


def test_restore_refuses_while_others_are_present_unless_forced(
    backed_up: Path, db_path: Path, run_cli: RunCli
) -> None:
    async def bob_is_watching() -> None:
        async with await Store.open(db_path) as store:
            await store.heartbeat("bob-session", 1, "bob", "laptop")

    asyncio.run(bob_is_watching())
    before = listing(db_path.parent)
    inode = db_path.stat().st_ino
    assert_error(run_cli("restore", str(backed_up)), "open in other sessions (bob)", "--force")
    assert listing(db_path.parent) == before and db_path.stat().st_ino == inode
    assert len(notes(db_path)) == 2
    assert_ok(run_cli("restore", str(backed_up), "--force"))
    assert list(notes(db_path).values()) == ["before the backup"]


def test_restore_refuses_a_backup_that_fails_verification(
    backed_up: Path, db_path: Path, run_cli: RunCli
) -> None:
    conn = sqlite3.connect(backed_up, isolation_level=None)
    try:
        conn.execute("DROP TRIGGER events_append_only_update")
        conn.execute("UPDATE events SET text = 'nothing happened' WHERE id = 2")
    finally:
        conn.close()
    before = listing(db_path.parent)
    assert_error(run_cli("restore", str(backed_up)), str(backed_up), "fails verification", "#2")
    assert listing(db_path.parent) == before
    assert len(notes(db_path)) == 2


@pytest.mark.parametrize("kind", ["missing", "empty", "not sqlite"])
def test_restore_refuses_what_is_not_a_backup(
    kind: str, backed_up: Path, db_path: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.db"
    if kind == "empty":
        bad.touch()
    elif kind == "not sqlite":
        bad.write_text("hello\n" * 100)
    before = listing(db_path.parent)
    needle = {"missing": "no such database", "empty": "is empty", "not sqlite": "not a SQLite"}
    assert_error(run_cli("restore", str(bad)), needle[kind])
    assert listing(db_path.parent) == before


def test_restore_waits_for_the_write_lock(
    backed_up: Path, db_path: Path, run_cli: RunCli, holder_of: type[Holder]
) -> None:
    holder = holder_of(db_path)  # a writer mid-transaction
    before = listing(db_path.parent)
    assert_error(
        run_cli("restore", str(backed_up), env={"IRCMD_TIMEOUT": "0.3"}),
        "locked by another writer",
    )
    assert listing(db_path.parent) == before
    holder.release()
    assert_ok(run_cli("restore", str(backed_up)))


def test_restore_is_refused_to_locked_and_read_only_sessions(
    backed_up: Path, db_path: Path, run_cli: RunCli
) -> None:
    before = listing(db_path.parent)
    assert_error(
        run_cli("restore", str(backed_up), env={"IRCMD_LOCK_USER": "alice"}),
        "locked by its administrator",
        "restore refused",
    )
    assert_error(run_cli("--read-only", "restore", str(backed_up)), "read-only")
    assert listing(db_path.parent) == before


def test_restore_where_no_database_is(backed_up: Path, tmp_path: Path, run_cli: RunCli) -> None:
    fresh = tmp_path / "new" / "ircmd.db"
    out = assert_ok(run_cli("restore", str(backed_up), db=fresh))
    assert "kept as" not in out
    assert list(notes(fresh).values()) == ["before the backup"]
    assert os.listdir(fresh.parent) == ["ircmd.db"]


def test_the_restored_record_is_as_private_as_the_live_one(
    backed_up: Path, db_path: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    """Whatever the umask: the record takes the live file's mode (here opened to a
    team, 0660), and a restore where there was none is 0600."""
    os.chmod(db_path, 0o660)
    old = os.umask(0o022)
    try:
        assert_ok(run_cli("restore", str(backed_up)))
        fresh = tmp_path / "new" / "ircmd.db"
        assert_ok(run_cli("restore", str(backed_up), db=fresh))
    finally:
        os.umask(old)
    assert oct(db_path.stat().st_mode & 0o777) == oct(0o660)
    assert oct(fresh.stat().st_mode & 0o777) == oct(0o600)
