"""The async Store on PostgreSQL: the same verbs and reads, on a psycopg connection.

The Store's shape is kept: one connection per Store, every verb and read one hop
to the connection's own thread (a one-thread executor here, aiosqlite's thread on
SQLite), a per-process asyncio lock between coroutines. What differs is below:
opening by URL, reconnecting after the server went away, reading a large
incident through a server-side cursor, `data_version` (the newest event id: the
feed is told of commits by NOTIFY, not by the file) and backup (pg_dump).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncGenerator, Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..domain import StorageError
from ..models import Event, Kind
from . import queries, verify
from .postgres import POSTGRESQL, Connection, connect, pg_errors, redact, session_facts
from .reader import IncidentRef, Reader
from .record import event_from_row
from .store import Store
from .tx import Clock

T = TypeVar("T")


class PgStore(Store):
    """The incident record in a PostgreSQL database. Open with `await Store.open(url)`."""

    dialect = POSTGRESQL

    def __init__(
        self, conn: Connection, url: str, read_only: bool, timeout: float, clock: Clock
    ) -> None:
        # No aiosqlite connection: `_call` below replaces every use of it.
        super().__init__(None, Path(redact(url)), read_only, timeout, clock)  # type: ignore[arg-type]
        self.url = url
        self.location = url
        self._conn = conn
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ircmd-pg")

    @classmethod
    async def connect(cls, url: str, *, read_only: bool, timeout: float, clock: Clock) -> PgStore:
        loop = asyncio.get_running_loop()
        conn = await loop.run_in_executor(
            None, lambda: connect(url, read_only=read_only, timeout=timeout)
        )
        store = cls(conn, url, read_only, timeout, clock)
        await store._call(store._settle)
        return store

    def _settle(self, conn: Connection) -> None:
        standby, self.db_user = session_facts(conn)
        if standby:
            self.read_only = True

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._conn.close)
        self._thread.shutdown(wait=False)

    async def _call(self, job: Callable[[Any], T]) -> T:
        """`job(connection)` on the connection's thread; a connection the server
        dropped is replaced first (a write is never retried: it may have committed)."""
        loop = asyncio.get_running_loop()

        def run() -> T:
            with pg_errors(self.url, self.timeout):
                if self._conn.broken:
                    self._conn = connect(self.url, read_only=self.read_only, timeout=self.timeout)
                return job(self._conn)

        return await loop.run_in_executor(self._thread, run)

    async def data_version(self) -> int:
        """The newest event's id: NOTIFY tells the feed of commits, and this confirms
        one after a reconnect or a slow poll."""
        return await self._read(queries.last_event_id)

    async def event_chunks(
        self,
        ref: IncidentRef,
        *,
        by_time: bool = False,
        kinds: Collection[Kind] | None = None,
        upto: int | None = None,
        size: int = 1000,
    ) -> AsyncGenerator[list[Event], None]:
        """`Store.event_chunks` through a server-side cursor in one read transaction."""
        async with self._lock:
            n = await self._call(lambda conn: Reader(conn, POSTGRESQL).incident_id(ref))
            sql, params = queries.event_chunks_sql(n, by_time=by_time, kinds=kinds, upto=upto)
            sql = POSTGRESQL.sql(sql)

            def open_cursor(conn: Connection) -> Any:
                conn.execute(POSTGRESQL.begin_read)
                cur = conn.raw.cursor(name="ircmd_chunks")
                cur.execute(sql, params)
                return cur

            cur = await self._call(open_cursor)
            try:
                while rows := await self._call(lambda _conn: cur.fetchmany(size)):
                    yield [event_from_row(r) for r in rows]
            finally:

                def end(conn: Connection) -> None:
                    cur.close()
                    conn.execute("ROLLBACK")

                await self._call(end)

    async def backup(self, dest: str | Path) -> Path:
        """A consistent copy by pg_dump (custom format: `pg_restore` reads it)."""
        exe = shutil.which("pg_dump")
        if exe is None:
            raise StorageError("pg_dump is not installed: install PostgreSQL's client tools")
        target = verify.backup_file(Path(dest).expanduser())
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
        return target
