"""The few SQL differences between database engines, behind one small interface.

The verbs and queries speak to a DB-API connection in the `?` placeholder style and
ask the dialect for what differs: how a writer takes the write lock, which errors
mean "someone else holds it", how the hash chain is read and extended, how to
spell a placeholder and an upsert. Every statement the shared code runs passes
through `sql`. SQLite is implemented here, PostgreSQL in `postgres`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Protocol

from .record import EVENT_COLUMNS


class Dialect(Protocol):
    # "sqlite" or "postgresql": what `verify` checks beyond the shared walk and replay.
    name: str
    # The statement that opens a write transaction holding the writer's lock at once,
    # so the rules are checked against the state the write will follow.
    begin_write: str
    # A read transaction that sees one snapshot throughout (verify).
    begin_read: str
    # The chain's newest event as (id, hash), no row when empty; read under the lock.
    chain_head: str
    # One event row, EVENT_COLUMNS in order, `?` placeholders. The append is where
    # engines differ most (PostgreSQL will also NOTIFY the feed in this transaction).
    insert_event: str

    def sql(self, text: str) -> str:
        """`text`, written with `?` placeholders, in this engine's parameter style."""
        ...

    def busy(self, error: BaseException) -> bool:
        """Does `error` say that another writer holds the lock (worth retrying)?"""
        ...

    def upsert(self, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
        """Insert a row of `columns`, replacing the row with the same `key`."""
        ...


class SQLite:
    name = "sqlite"
    begin_write = "BEGIN IMMEDIATE"
    begin_read = "BEGIN"
    chain_head = "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1"
    insert_event = (
        f"INSERT INTO events ({EVENT_COLUMNS})"
        f" VALUES ({', '.join('?' * len(EVENT_COLUMNS.split(',')))})"
    )

    def sql(self, text: str) -> str:
        return text

    def busy(self, error: BaseException) -> bool:
        # "database is locked" (SQLITE_BUSY), "database table is locked" (SQLITE_LOCKED).
        low = str(error).lower()
        return isinstance(error, sqlite3.OperationalError) and ("locked" in low or "busy" in low)

    def upsert(self, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
        # SQLite's REPLACE deletes the conflicting row (by any unique key) first.
        marks = ", ".join("?" * len(columns))
        return f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES ({marks})"


SQLITE = SQLite()
