"""Verify and backup: the proof that the record is what ircmd wrote, and a copy of it.

`verify` recomputes the hash chain, compares the schema with the one ircmd creates
and replays the projections, all in one read transaction, and names the first fault.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

from ..models import Head, InvalidInput, StorageError, VerifyResult, incident_key
from . import private, schema
from .connection import fresh_schema
from .projections import replay
from .reader import IncidentRef, Reader, Row
from .record import EVENT_COLUMNS, GENESIS, Chained, chained_from_row, row_hash

_PLANTED = ("trigger", "view")


def verify(r: Reader, ref: IncidentRef | None = None) -> VerifyResult:
    """Check the whole chain (counting the events of `ref` only, if given)."""
    r.execute(r.dialect.begin_read)  # one snapshot: the chain, the schema and the tables agree
    try:
        return check(r, ref)
    finally:
        r.execute("ROLLBACK")


def check(r: Reader, ref: IncidentRef | None = None) -> VerifyResult:
    """`verify` inside the caller's transaction: `migrate` checks what it wrote before
    it commits it."""
    fault = damage(r) if r.dialect.name == "sqlite" else None
    if fault:
        return VerifyResult(ok=False, events=0, message=fault)
    only = r.incident_id(ref) if ref is not None else None
    with closing(r.conn.execute(f"SELECT {EVENT_COLUMNS} FROM events ORDER BY id")) as cur:
        walked = _walk(cur, only)
    if isinstance(walked, VerifyResult):
        return walked
    count, head, events = walked
    mismatch = _schema_fault(r) or _compare_projections(r, events)
    if mismatch:
        return VerifyResult(ok=False, events=count, message=mismatch, head=head)
    scope = incident_key(only) if only else "all incidents"
    return VerifyResult(
        ok=True, events=count, message=f"chain intact: {count} events ({scope})", head=head
    )


def _walk(rows: Iterable[Row], only: int | None) -> VerifyResult | tuple[int, Head, list[Chained]]:
    """Follow the chain: the first fault, or the events counted, the head and the events."""
    prev, count, last_id, total = GENESIS, 0, 0, 0
    events: list[Chained] = []
    for found in rows:
        row = tuple(found)  # a plain tuple: indexed a dozen times below
        fault = link_fault(row, prev, last_id)
        if fault is not None:
            return VerifyResult(ok=False, events=count, bad_event_id=row[0], message=fault)
        prev, last_id, total = row[9], row[0], total + 1
        if only is None or row[1] == only:
            count += 1
        events.append(chained_from_row(row))
    return count, Head(count=total, id=last_id, hash=prev), events


def link_fault(row: Row, prev: str, last_id: int) -> str | None:
    """What is wrong with event `row` (EVENT_COLUMNS) following the event `last_id`
    whose hash is `prev`, or None: the chain's test for one link, shared by `verify`
    and `migrate`."""
    if row[8] != prev or row_hash(row) != row[9]:
        what = "was altered" if row[8] == prev else "does not follow its predecessor"
        return f"event #{row[0]} {what}: the chain is broken there"
    if row[0] != last_id + 1:
        return f"events #{last_id + 1}..#{row[0] - 1} are missing"
    return None


def damage(r: Reader) -> str | None:
    """SQLite's own check of every page and index: a damaged index can leave the
    chain readable (so the walk below passes) while queries through it fail."""
    found = [str(row[0]) for row in r.rows("PRAGMA integrity_check")]
    if found == ["ok"]:
        return None
    return f"the database file is damaged ({found[0]}): restore it from a backup"


def _schema_fault(r: Reader) -> str | None:
    if r.dialect.name == "postgresql":
        from .pgverify import compare_schema

        return compare_schema(r)
    return _compare_schema(r)


def _compare_schema(r: Reader) -> str | None:
    """Name the first schema object that ircmd's migrations did not create as it is.

    Someone with the sqlite3 shell can make reads lie without touching a stored
    row: a trigger that rewrites what later writes insert, a dropped append-only
    trigger, a view, an index or a table edited through writable_schema. Every
    object's (type, name, table, sql) must be what the migrations create; only
    the statistics tables ANALYZE may add are ignored.
    """
    sql = "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%'"
    scratch = fresh_schema()
    try:
        want = {(row[0], row[1]): (row[2], row[3]) for row in scratch.execute(sql)}
    finally:
        scratch.close()
    have = {(row[0], row[1]): (row[2], row[3]) for row in r.rows(sql)}
    # A planted trigger or view is the likelier lie: name it before a renamed table.
    for key in sorted(have.keys() - want.keys(), key=lambda k: (k[0] not in _PLANTED, k)):
        return f"{key[0]} {key[1]} is not part of ircmd's schema (added outside ircmd)"
    for key in sorted(want.keys() - have.keys()):
        return f"{key[0]} {key[1]} is missing from the schema (dropped outside ircmd)"
    for key in sorted(want.keys()):
        if want[key] != have[key]:
            return f"{key[0]} {key[1]} differs from ircmd's schema (altered outside ircmd)"
    return None


def _compare_projections(r: Reader, events: list[Chained]) -> str | None:
    scratch = fresh_schema()
    try:
        replay(scratch, events)
        for table in schema.PROJECTION_TABLES:
            want = sorted(scratch.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            have = sorted([tuple(row) for row in r.rows(f"SELECT * FROM {table}")], key=repr)
            if want != have:
                return f"table {table} does not match the record (edited outside ircmd)"
    finally:
        scratch.close()
    return None


def backup_file(dest: Path) -> Path:
    """Create the backup's file, which must be new, with the record's private mode."""
    if dest.exists():
        raise InvalidInput(f"{dest} already exists; choose a new file")
    try:
        private.make_dirs(dest.parent)
        private.create_file(dest)
    except OSError as e:
        raise StorageError(f"cannot create {dest}: {e.strerror}") from None
    return dest


def backup(conn: sqlite3.Connection, dest: Path) -> None:
    """A consistent copy through SQLite's online backup, safe while others write."""
    target = sqlite3.connect(dest)
    try:
        conn.backup(target)
    finally:
        target.close()
