"""SyncStore: the record opened for one command, with no event loop and no thread.

A one-shot `ircmd log INC-3 text` makes one write: importing asyncio and aiosqlite
and hopping to a connection thread would cost it more than the write. SyncStore
opens the file exactly as the Store does (`connection.open_sqlite`) and runs the
same verbs, through the same transaction and checks (`facade.Face`), in place.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Concatenate, ParamSpec, Self, TypeVar

from .connection import DEFAULT_TIMEOUT, file_id, open_sqlite, sqlite_errors
from .facade import Face, utc_now
from .reader import Reader
from .tx import Clock, Tx

P = ParamSpec("P")
T = TypeVar("T")


class SyncStore(Face):
    """The record on a plain sqlite3 connection. Open with `SyncStore.open(path)`;
    use it as a context manager so the connection is closed."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        read_only: bool,
        timeout: float,
        clock: Clock,
        file_id: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(path, read_only, timeout, clock, file_id)
        self._conn = conn

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        read_only: bool = False,
        must_exist: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Clock = utc_now,
    ) -> SyncStore:
        """Open as `Store.open` does (`connection.open_sqlite`, or by URL
        `postgres.connect`)."""
        from .postgres import is_url

        if is_url(path):
            return cls._postgresql(
                str(path), read_only=read_only, must_exist=must_exist, timeout=timeout, clock=clock
            )
        path = Path(path).expanduser()
        conn = open_sqlite(path, read_only=read_only, must_exist=must_exist, timeout=timeout)
        return cls(conn, path, read_only, timeout, clock, file_id(path))

    @classmethod
    def _postgresql(
        cls, url: str, *, read_only: bool, must_exist: bool, timeout: float, clock: Clock
    ) -> SyncStore:
        from .postgres import POSTGRESQL, connect, redact, session_facts

        conn = connect(url, read_only=read_only, timeout=timeout, create=not must_exist)
        store = cls(conn, Path(redact(url)), read_only, timeout, clock)  # type: ignore[arg-type]
        store.dialect = POSTGRESQL
        store.location = url
        with store._errors():
            store.standby, store.db_user = session_facts(conn)
        store.read_only = read_only or store.standby
        return store

    def _errors(self) -> AbstractContextManager[None]:
        if isinstance(self.location, str):
            from .postgres import pg_errors

            return pg_errors(self.location, self.timeout)
        return sqlite_errors(self.path, self.timeout)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, verb: Callable[Concatenate[Tx, P], T], *args: P.args, **kw: P.kwargs) -> T:
        """`verb(tx, ...)` in one write transaction."""
        job = self._write_job(verb, *args, **kw)
        with self._errors():
            return job(self._conn)

    def read(self, query: Callable[Concatenate[Reader, P], T], *args: P.args, **kw: P.kwargs) -> T:
        """`query(reader, ...)` on the connection."""
        job = self._read_job(query, *args, **kw)
        with self._errors():
            return job(self._conn)
