"""The Store's connection on PostgreSQL (`store.Backend`): a psycopg connection and
the one thread it runs on.

The Store's shape is kept: every verb and read is one hop to the connection's own
thread (a one-thread executor here; on SQLite, aiosqlite's thread for reads, while
writes run on the event loop's own thread, `connection.write`). What differs is
here: connecting by URL, reconnecting after the server went away, reading a large
incident through a server-side cursor, the feed's version check (the newest event
id: commits are announced by NOTIFY, not by a file) and backup (pg_dump).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncGenerator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..domain import StorageError
from . import queries
from .postgres import POSTGRESQL, Connection, connect, pg_errors, redact, session_facts
from .reader import Reader
from .tx import Write

T = TypeVar("T")


class PgBackend:
    """One PostgreSQL connection, its thread, and how to get it back."""

    def __init__(self, conn: Connection, url: str, read_only: bool, timeout: float) -> None:
        self.url = url
        self._conn = conn
        self._read_only = read_only
        self._timeout = timeout
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ircmd-pg")

    @classmethod
    async def connect(
        cls, url: str, *, read_only: bool, must_exist: bool, timeout: float
    ) -> tuple[PgBackend, bool, str | None]:
        """Connect (a command that only reads, `must_exist`, never creates the schema);
        the backend, whether the server is a standby, and the login events are
        recorded as under identity = "database" (`postgres.session_facts`)."""
        loop = asyncio.get_running_loop()
        conn = await loop.run_in_executor(
            None,
            lambda: connect(url, read_only=read_only, timeout=timeout, create=not must_exist),
        )
        backend = cls(conn, url, read_only, timeout)
        standby, db_user = await backend.call(session_facts)
        return backend, standby, db_user

    async def call(self, job: Callable[[Any], T]) -> T:
        """`job(connection)` on the connection's thread; a connection the server
        dropped is replaced first (a write is never retried: it may have committed)."""
        loop = asyncio.get_running_loop()

        def run() -> T:
            with pg_errors(self.url, self._timeout):
                if self._conn.broken:
                    self._conn = connect(self.url, read_only=self._read_only, timeout=self._timeout)
                return job(self._conn)

        return await loop.run_in_executor(self._thread, run)

    async def write(self, job: Write[T]) -> T:
        """Whole, in one hop (`call`): the server, not this process, queues the writers."""
        return await self.call(job)

    async def chunks(self, sql: str, params: Sequence[Any], size: int) -> AsyncGenerator[list[Any]]:
        """Through a server-side cursor in one read transaction."""

        def open_cursor(conn: Connection) -> Any:
            conn.execute(POSTGRESQL.begin_read)
            cur = conn.raw.cursor(name="ircmd_chunks")
            cur.execute(sql, params)
            return cur

        cur = await self.call(open_cursor)
        try:
            while rows := await self.call(lambda _conn: cur.fetchmany(size)):
                yield list(rows)
        finally:

            def end(conn: Connection) -> None:
                cur.close()
                conn.execute("ROLLBACK")

            await self.call(end)

    async def backup(self, target: Path) -> None:
        """pg_dump's custom format, which `pg_restore` reads."""
        exe = shutil.which("pg_dump")
        if exe is None:
            target.unlink(missing_ok=True)
            raise StorageError("pg_dump is not installed: install PostgreSQL's client tools")
        proc = await asyncio.create_subprocess_exec(
            exe,
            "--format=custom",
            "--no-owner",
            f"--file={target}",
            self.url,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _out, err = await proc.communicate()
        if proc.returncode != 0:
            target.unlink(missing_ok=True)
            line = (err.decode(errors="replace").strip().splitlines() or ["failed"])[-1]
            raise StorageError(f"pg_dump of {redact(self.url)}: {line}")

    def version(self, r: Reader) -> int:
        return queries.last_event_id(r)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._conn.close)
        self._thread.shutdown(wait=False)
