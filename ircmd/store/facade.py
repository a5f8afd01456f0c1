"""What the two faces of the store share: the async `Store` (the screen, most
commands) and the synchronous `SyncStore` (one-shot commands that must start fast).

A face holds the open file's settings and turns a verb call into one function of
the connection: the whole write transaction (`tx.Write`) or one read, which the
async face runs in one piece (see `store`) and the synchronous face runs in
place. The read-only refusal, the checks of `Tx` and SQLite's one-line errors are
thereby the same whichever face a command uses.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from ..domain import MAX_TEXT_BYTES, read_only_refusal
from .dialect import SQLITE, Dialect
from .reader import Connection, Reader
from .tx import Clock, Target, Tx, Write

P = ParamSpec("P")
T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


class Face:
    """One open database and the settings every transaction on it checks."""

    # What differs between engines (a PostgreSQL store sets its own).
    dialect: Dialect = SQLITE

    def __init__(
        self,
        path: Path,
        read_only: bool,
        timeout: float,
        clock: Clock,
        file_id: tuple[int, int] | None = None,
    ) -> None:
        self.path = path
        # The database as it was named: the path, or a PostgreSQL URL (`location`).
        self.location: Path | str = path
        # The database login events are recorded as, when the database says who
        # is writing (PostgreSQL with identity = "database"); None on SQLite.
        self.db_user: str | None = None
        # A PostgreSQL hot standby: read-only whatever was asked.
        self.standby = False
        self.read_only = read_only
        self.timeout = timeout
        self._clock = clock
        # Which file this connection writes to; see `tx.still_at_path`.
        self._file_id = file_id
        # Record times that `rules.check_time` would refuse (--force-time).
        self.force_time = False
        # The largest text of an entry, in bytes of UTF-8 (IRCMD_MAX_TEXT).
        self.max_text = MAX_TEXT_BYTES

    def now(self) -> datetime:
        return self._clock()

    def _write_job(
        self, verb: Callable[Concatenate[Tx, P], T], *args: P.args, **kw: P.kwargs
    ) -> Write[T]:
        """`verb(tx, ...)` as one write transaction on a connection; refused at once in
        a read-only session."""
        if self.read_only:
            if self.standby:
                raise read_only_refusal(
                    "nothing was written (the database is a standby: write on the primary)"
                )
            raise read_only_refusal()
        # A file is checked to still be the one opened; a server database has no file.
        target = Target(self.path, self._file_id) if self.dialect is SQLITE else None
        clock, max_text, force_time = self._clock, self.max_text, self.force_time
        dialect = self.dialect

        def work(conn: Connection) -> T:
            tx = Tx(conn, dialect, clock, max_text=max_text, force_time=force_time)
            return verb(tx, *args, **kw)

        return Write(dialect, work, self.timeout, target)

    def _read_job(
        self, query: Callable[Concatenate[Reader, P], T], *args: P.args, **kw: P.kwargs
    ) -> Callable[[Connection], T]:
        """`query(reader, ...)` as one function of a connection."""
        dialect = self.dialect
        return lambda conn: query(Reader(conn, dialect), *args, **kw)
