"""Tampering with the file behind ircmd's back is caught by `ircmd verify` (and, for what
the record cannot show by itself, by its anchors: tests/test_anchor.py)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import pytest
from helpers.attacker import drop_triggers, rehash, remove_files, restore_triggers, sql
from helpers.cli import RunCli, assert_error, assert_ok

from ircmd.models import Kind, Role, Severity, Status
from ircmd.store import Store
from ircmd.store.record import row_hash


async def _record(db: Path) -> None:
    async with await Store.open(db) as s:
        await s.declare("Payments down", actor="alice", severity=Severity.SEV2, commander="")  # 1
        await s.log(1, "first note", actor="alice")  # 2
        await s.log(1, "restarted the pool", actor="alice", kind=Kind.DECISION)  # 3
        await s.assign(1, Role.COMMANDER, "alice", actor="alice")  # 4
        await s.add_item(1, "block the bad IPs", actor="alice")  # 5
        await s.set_status(1, Status.CONTAINED, actor="alice")  # 6
        await s.declare("Disk full", actor="bob")  # 7
        await s.log(2, "cleaned /var", actor="bob")  # 8


@pytest.fixture
def recorded(run_cli: RunCli, db_path: Path) -> Path:
    """INC-1 with events #1..#6, INC-2 with #7..#8; `ircmd verify` passes."""
    asyncio.run(_record(db_path))
    assert "ok: chain intact: 8 events" in assert_ok(run_cli("verify"))
    return db_path


def _sql(db: Path, *statements: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        for s in statements:
            conn.execute(s)
    finally:
        conn.close()


def test_append_only_triggers_refuse_edits(recorded: Path) -> None:
    conn = sqlite3.connect(recorded)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE events SET text = 'nothing happened' WHERE id = 3")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM events WHERE id = 3")
    finally:
        conn.close()


def test_edited_event_text_fails_verify_and_names_the_event(
    recorded: Path, run_cli: RunCli
) -> None:
    _sql(
        recorded,
        "DROP TRIGGER events_append_only_update",
        "UPDATE events SET text = 'kept the pool' WHERE id = 3",
    )
    line = assert_error(run_cli("verify"), "verify failed", "#3")
    assert "#2" not in line and "#4" not in line
    # Verifying one incident checks the whole chain all the same.
    assert_error(run_cli("verify", "INC-2"), "#3")
    assert_error(run_cli("verify", "INC-1"), "#3")


def test_rehashed_event_is_caught_at_its_successor(recorded: Path, run_cli: RunCli) -> None:
    """An editor who recomputes the edited row's hash still breaks the link to #4."""
    conn = sqlite3.connect(recorded, isolation_level=None)
    try:
        conn.execute("DROP TRIGGER events_append_only_update")
        conn.execute("UPDATE events SET actor = 'mallory' WHERE id = 3")
        row = conn.execute(
            "SELECT id, incident_id, occurred_at, recorded_at, actor, kind, text, data,"
            " prev_hash, hash FROM events WHERE id = 3"
        ).fetchone()
        conn.execute("UPDATE events SET hash = ? WHERE id = 3", (row_hash(row),))
    finally:
        conn.close()
    assert_error(run_cli("verify"), "#4", "does not follow")


def test_deleted_event_fails_verify(recorded: Path, run_cli: RunCli) -> None:
    _sql(recorded, "DROP TRIGGER events_append_only_delete", "DELETE FROM events WHERE id = 5")
    assert_error(run_cli("verify"), "verify failed", "#6")


def test_edited_data_json_fails_verify(recorded: Path, run_cli: RunCli) -> None:
    _sql(
        recorded,
        "DROP TRIGGER events_append_only_update",
        """UPDATE events SET data = '{"from":"reported","to":"resolved"}' WHERE id = 6""",
    )
    assert_error(run_cli("verify"), "#6")


@pytest.mark.parametrize(
    ("statement", "table"),
    [
        ("UPDATE incidents SET severity = 'SEV4' WHERE id = 1", "incidents"),
        ("UPDATE checklist SET done = 1, done_by = 'mallory' WHERE n = 1", "checklist"),
        ("DELETE FROM roles", "roles"),
        ("INSERT INTO notifications VALUES (1, 'CEO', '2026-01-01', 'mallory')", "notifications"),
    ],
)
def test_edited_projection_fails_verify(
    recorded: Path, run_cli: RunCli, statement: str, table: str
) -> None:
    _sql(recorded, statement)
    assert_error(run_cli("verify"), "verify failed", f"table {table}")


# Each check in Store.verify has a test here that fails when that check is removed:
# the chain link (test_rehashed_event_is_caught_at_its_successor), the row hash
# (test_edited_event_text_fails_verify_and_names_the_event), the id sequence, the
# schema and the projections (test_edited_projection_fails_verify). The attacks put
# the append-only triggers back after editing, so no other check catches them.


def test_deleted_event_with_the_rest_rehashed_shows_only_as_a_gap(
    recorded: Path, run_cli: RunCli
) -> None:
    """Note #2 deleted and #3.. re-linked and re-hashed: every link and hash holds and
    the projections replay the same (later events set what #2 set); the ids do not."""
    saved = drop_triggers(recorded)
    sql(recorded, "DELETE FROM events WHERE id = 2;")
    rehash(recorded, 3)
    restore_triggers(recorded, saved)
    line = assert_error(run_cli("verify"), "verify failed", "events #2..#2 are missing")
    assert "table" not in line and "schema" not in line


def test_rolled_back_to_a_backup_is_caught_by_the_anchor(
    recorded: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    backup = tmp_path / "backups" / "early.db"
    assert_ok(run_cli("backup", str(backup)))
    assert_ok(run_cli("log", "INC-1", "after the backup"))
    assert_ok(run_cli("anchor"))
    remove_files(recorded)
    shutil.copyfile(backup, recorded)
    assert "ok: chain intact: 8 events" in assert_ok(
        run_cli("verify", env={"IRCMD_ANCHOR_LOG": str(tmp_path / "none" / "a.jsonl")})
    )
    assert_error(run_cli("verify"), "verify failed", "line 1", "event #9 is gone")


@pytest.mark.parametrize(
    ("attack", "needle"),
    [
        ("DROP TRIGGER events_append_only_delete;", "trigger events_append_only_delete is missing"),
        (
            "DROP TRIGGER events_append_only_update;"
            " CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events WHEN 0"
            " BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;",
            "trigger events_append_only_update differs from ircmd's schema",
        ),
        ("DROP INDEX events_by_incident;", "index events_by_incident is missing"),
        ("CREATE TABLE aside (id INTEGER);", "table aside is not part of ircmd's schema"),
        (
            "PRAGMA writable_schema = ON;"
            " UPDATE sqlite_master SET sql = replace(sql, 'text        TEXT NOT NULL DEFAULT',"
            " 'text        TEXT DEFAULT') WHERE name = 'events';"
            " PRAGMA writable_schema = OFF;",
            "table events differs from ircmd's schema",
        ),
    ],
    ids=["dropped-trigger", "neutered-trigger", "dropped-index", "extra-table", "edited-table"],
)
def test_schema_not_made_by_ircmd_fails_verify(
    recorded: Path, run_cli: RunCli, attack: str, needle: str
) -> None:
    sql(recorded, attack)
    assert_error(run_cli("verify"), "verify failed", needle)


def test_a_damaged_index_fails_verify(recorded: Path, run_cli: RunCli) -> None:
    """One entry of the events index edited on disk (INC-1's event #1 filed under
    incident 0): the chain still reads in id order and the file still opens, but
    SQLite's integrity check fails, and so must verify."""
    _sql(recorded, "PRAGMA wal_checkpoint(TRUNCATE)")
    conn = sqlite3.connect(recorded)
    try:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'events_by_incident'"
        ).fetchone()
    finally:
        conn.close()
    with recorded.open("r+b") as f:
        f.seek((root - 1) * page_size)
        page = bytearray(f.read(page_size))
        # The index cell (incident_id 1, id 1, rowid 1): payload 4 bytes, header 4,
        # three serial types 9 (the constant 1). Type 8 is the constant 0.
        at = page.index(b"\x04\x04\x09\x09\x09")
        page[at + 2] = 0x08
        f.seek((root - 1) * page_size)
        f.write(page)
    assert_error(run_cli("verify"), "verify failed", "damaged", "restore it from a backup")
