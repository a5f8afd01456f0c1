"""The record read (and, for tamper tests, written) directly, on either backend.

`ref` is what `--db` takes: a SQLite file's path or a `postgresql://` URL. The SQL
is written with `?` placeholders, as the shared code writes it, and runs through
sqlite3 or psycopg as plain DB-API: no ircmd code in between, so a test that
checks the Store's work through these is not checking it with itself.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

Ref = Path | str


def is_pg(ref: Ref) -> bool:
    return isinstance(ref, str) and ref.startswith(("postgresql://", "postgres://"))


class _Pg:
    """A psycopg connection (autocommit) that takes `?` placeholders."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.raw = psycopg.connect(url, autocommit=True)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if params:
            return self.raw.execute(sql.replace("%", "%%").replace("?", "%s"), params)
        return self.raw.execute(sql)

    def close(self) -> None:
        self.raw.close()


@contextmanager
def connect(ref: Ref) -> Iterator[Any]:
    """A plain connection to the record, every statement committed as it runs."""
    if is_pg(ref):
        conn: Any = _Pg(str(ref))
    else:
        conn = sqlite3.connect(ref, isolation_level=None)
    with closing(conn):
        yield conn


def rows(ref: Ref, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with connect(ref) as conn:
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]


def scalar(ref: Ref, sql: str, params: Sequence[Any] = ()) -> Any:
    found = rows(ref, sql, params)
    return found[0][0] if found else None


def execute(ref: Ref, sql: str, params: Sequence[Any] = ()) -> None:
    with connect(ref) as conn:
        conn.execute(sql, params)


def tables(ref: Ref) -> list[str]:
    """The record's tables, by name."""
    if is_pg(ref):
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1"
    return [str(r[0]) for r in rows(ref, sql)]


def dump(ref: Ref) -> list[tuple[object, ...]]:
    """Every row of every table, in a fixed order: to prove a refused write changed
    nothing (PostgreSQL returns rows in no promised order, so they are sorted)."""
    out: list[tuple[object, ...]] = []
    with connect(ref) as conn:
        for t in tables(ref):
            found = [tuple(r) for r in conn.execute(f"SELECT * FROM {t}").fetchall()]
            out += [(t, *row) for row in sorted(found, key=repr)]
    return out


def event_count(ref: Ref) -> int:
    return int(scalar(ref, "SELECT count(*) FROM events"))


@contextmanager
def write_lock_held(ref: Ref) -> Iterator[None]:
    """Another writer holding the record's write lock until the block ends: SQLite's
    BEGIN IMMEDIATE, or PostgreSQL's advisory lock in an open transaction."""
    with connect(ref) as conn:
        if is_pg(ref):
            conn.execute("BEGIN")
            conn.execute("SELECT pg_advisory_xact_lock(?)", (0x69726D64,))
        else:
            conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")


def set_schema_version(ref: Ref, version: int) -> None:
    """Mark the record as being of schema `version` (as a newer ircmd would)."""
    if is_pg(ref):
        execute(
            ref, "UPDATE ircmd_meta SET value = ? WHERE key = 'schema_version'", (str(version),)
        )
    else:
        execute(ref, f"PRAGMA user_version = {int(version)}")


class PgLockHolder:
    """Another session holding PostgreSQL's write lock until `release()`, as
    `helpers.processes.Holder` holds a SQLite file's (a server session of its own:
    to the server, another client)."""

    def __init__(self, url: str) -> None:
        self.conn = _Pg(url)
        self.conn.execute("BEGIN")
        self.conn.execute("SELECT pg_advisory_xact_lock(?)", (0x69726D64,))

    def release(self) -> None:
        self.conn.execute("ROLLBACK")

    def close(self) -> None:
        self.conn.close()


def stored_bytes(ref: Ref) -> bytes:
    """Everything the record holds, to search for what must never be stored (secrets):
    the SQLite file and its -wal/-shm as bytes, or every row of every table of the
    PostgreSQL database as text."""
    if not is_pg(ref):
        path = Path(ref)
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    found = [r for t in tables(ref) for r in rows(ref, f"SELECT t::text FROM {t} t")]
    return "\n".join(str(r[0]) for r in found).encode()
