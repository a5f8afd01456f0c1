"""A record file as an older ircmd wrote it: the DDL of its schema version only,
and events appended by today's code (whose projections of the kinds that version
knew write only what that version's tables hold)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from ircmd.models import Kind
from ircmd.store import schema
from ircmd.store.connection import split_sql
from ircmd.store.dialect import SQLITE
from ircmd.store.reader import Reader
from ircmd.store.tx import append_event

# One event: its incident, kind, actor, text, data and when it happened.
OldEvent = tuple[int, Kind, str, str, dict[str, Any], datetime]


def old_record(path: Path, version: int, events: Iterable[OldEvent]) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for step in schema.MIGRATIONS[:version]:
            for stmt in split_sql(step):
                conn.execute(stmt)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("BEGIN")
        db = Reader(conn, SQLITE)
        for inc, kind, actor, text, data, at in events:
            append_event(db, inc, kind, actor, text, data, at, at)
        conn.execute("COMMIT")
    finally:
        conn.close()
