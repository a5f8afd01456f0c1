"""The few SQL differences between database engines, behind one small interface.

The verbs and queries speak to a DB-API connection in the `?` placeholder style and
ask the dialect for what differs: how a writer takes the write lock, which errors
mean "someone else holds it", how to spell a placeholder and an upsert. SQLite is
the only implementation; a PostgreSQL backend adds one module implementing this.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Protocol


class Dialect(Protocol):
    # The statement that opens a write transaction holding the writer's lock at once,
    # so the rules are checked against the state the write will follow.
    begin_write: str

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
    begin_write = "BEGIN IMMEDIATE"

    def sql(self, text: str) -> str:
        return text

    def busy(self, error: BaseException) -> bool:
        return isinstance(error, sqlite3.OperationalError) and (
            "locked" in str(error) or "busy" in str(error)
        )

    def upsert(self, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
        # SQLite's REPLACE deletes the conflicting row (by any unique key) first.
        marks = ", ".join("?" * len(columns))
        return f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES ({marks})"


SQLITE = SQLite()
