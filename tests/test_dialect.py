"""The shared code reaches the database only through the dialect: a PostgreSQL
backend implements `dialect.Dialect`, and every verb, the append included, then
speaks its parameter style and takes its lock. Checked on an in-memory SQLite
database with a dialect that marks each statement it is asked to spell."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ircmd.models import Kind, Role, StorageBusy, StorageError
from ircmd.store.connection import fresh_schema, sqlite_errors
from ircmd.store.dialect import SQLITE, SQLite
from ircmd.store.reader import Connection
from ircmd.store.record import row_hash
from ircmd.store.tx import Tx, transaction
from ircmd.store.verbs import checklist, incident

MARK = "/* spelled by the dialect */ "
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Marking(SQLite):
    """SQLite, but each statement passed through `sql` carries a comment saying so."""

    def sql(self, text: str) -> str:
        return MARK + text


def test_every_statement_of_a_verb_goes_through_the_dialect() -> None:
    conn = fresh_schema()
    conn.isolation_level = None
    conn.row_factory = sqlite3.Row
    executed: list[str] = []
    conn.set_trace_callback(executed.append)
    dialect = Marking()

    def run(verb: Callable[[Tx], object]) -> None:
        def work(c: Connection) -> object:
            return verb(Tx(c, dialect, lambda: NOW))

        transaction(conn, dialect, work, timeout=1)

    try:
        run(lambda tx: incident.declare(tx, "checkout down", actor="alice"))
        run(lambda tx: incident.assign(tx, 1, Role.SCRIBE, "bob", actor="alice"))
        run(lambda tx: incident.log(tx, 1, "rolled back", actor="alice", kind=Kind.DECISION))
        run(lambda tx: checklist.add_item(tx, 1, "block the bad IPs", actor="alice"))
        own = {dialect.begin_write, "COMMIT"}
        assert len(executed) > 4 * len(own)
        assert [s for s in executed if s not in own and not s.startswith(MARK)] == []
        # What went through the dialect is a well-formed chain.
        rows = conn.execute("SELECT * FROM events ORDER BY id").fetchall()
        assert [r["kind"] for r in rows] == ["declare", "assign", "decision", "item_add"]
        assert all(row_hash(tuple(r)) == r["hash"] for r in rows)
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("message", "busy"),
    [
        ("database is locked", True),
        ("database table is locked", True),
        ("Database Is Busy", True),
        ("no such table: events", False),
    ],
)
def test_busy_is_one_test_for_retrying_and_reporting(message: str, busy: bool) -> None:
    """`tx.begin` retries exactly the errors `sqlite_errors` reports as StorageBusy."""
    error = sqlite3.OperationalError(message)
    assert SQLITE.busy(error) is busy
    with pytest.raises(StorageBusy if busy else StorageError), sqlite_errors(Path("x.db"), 1.0):
        raise error
