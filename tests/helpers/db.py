"""Reading a record's tables directly, on either backend, as a test checks them:
`query(db, sql, *params)` with `?` placeholders, against a SQLite file (sqlite3) or
a PostgreSQL URL (psycopg, through the dialect's placeholder spelling)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from ircmd.store.postgres import POSTGRESQL, is_url

Db = Path | str


def query(db: Db, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Every row of `sql` as plain tuples."""
    if is_url(db):
        import psycopg

        with psycopg.connect(str(db), autocommit=True) as conn:
            return [tuple(r) for r in conn.execute(POSTGRESQL.sql(sql), params or None)]
    conn = sqlite3.connect(db)
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


def stored_bytes(db: Db) -> bytes:
    """Everything the record holds, to search for what must never be stored (secrets):
    the SQLite file and its -wal/-shm as bytes, or every row of every table of the
    PostgreSQL database as text."""
    if not is_url(db):
        path = Path(db)
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    tables = query(db, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    rows = [r for (t,) in tables for r in query(db, f"SELECT t::text FROM {t} t")]
    return "\n".join(str(r[0]) for r in rows).encode()
