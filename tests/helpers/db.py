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
