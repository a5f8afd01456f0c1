"""Opening the SQLite file: read-only and immutable fallbacks, pragmas, migrations,
and SQLite's errors turned into one-line ones a person can act on.

Everything here is SQLite's business; the verbs and queries above it see a DB-API
connection and the `Dialect` only.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import quote

from ..domain import StorageBusy, StorageError
from . import private, schema, tx
from .dialect import SQLITE

if TYPE_CHECKING:  # imported by `open_db` only: one-shot commands run without asyncio
    import aiosqlite

T = TypeVar("T")

DEFAULT_TIMEOUT = 5.0
# SQLite's own wait per attempt; `tx.begin` loops up to the timeout. 50 ms keeps its
# sleeps short (at most 20 ms each, so a waiting writer stays in the race) while
# sparing the CPU that 20 writers retrying every few ms burned on 2 cores
# (bench/writes: Store/raw 0.42 at 10 ms, 0.48-0.57 at 50 ms; measured again with
# the Store's writes on the event loop's thread: 20 ms worse, 100-500 ms no better).
BUSY_STEP_MS = 50
# The sleeps of SQLite's own busy handler (sqliteDefaultBusyCallback), in ms.
_SQLITE_DELAYS_MS = (1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100)


@dataclass(frozen=True)
class Opened:
    """A prepared connection and the identity of the file it opened (see
    `tx.still_at_path`)."""

    db: aiosqlite.Connection
    file_id: tuple[int, int]


async def call(db: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Run `fn(conn)` on the connection's own thread, in one hop (reads; writes run
    on the event loop's thread, `write`).

    aiosqlite has no public name for this; `_execute` is what its own methods use,
    and this (with `write`, which takes the sqlite3 connection the same way) is the
    one place ircmd uses it.
    """
    conn = db._conn
    return cast(T, await db._execute(lambda: fn(conn)))  # type: ignore[no-untyped-call]


def lock_waits() -> Iterator[float]:
    """The sleeps, in seconds, between the attempts at the write lock that `write`
    makes with no busy handler: those `tx.begin` makes on a connection thread,
    unrolled (SQLite's busy handler's own, up to BUSY_STEP_MS, then one of
    `tx.pauses`, and again), so that a Store waits as every other writer does."""
    step: list[float] = []
    left = BUSY_STEP_MS
    for ms in _SQLITE_DELAYS_MS:
        if left <= 0:
            break
        step.append(min(ms, left) / 1000)
        left -= ms
    for pause in tx.pauses():
        yield from step
        yield pause


def busy_wait(conn: sqlite3.Connection, on: bool) -> None:
    """Let SQLite's busy handler wait on `conn` (BUSY_STEP_MS: for reads, and for
    `tx.begin` on a connection thread), or not at all (0: for `write`, which waits
    on the event loop instead)."""
    conn.execute(f"PRAGMA busy_timeout = {BUSY_STEP_MS if on else 0}")


async def write(db: aiosqlite.Connection, job: tx.Write[T], *, switch: bool) -> T:
    """Run the write transaction `job` on the event loop's own thread, waiting for
    the write lock without blocking the loop (`lock_waits`).

    A hop to the connection's thread and back costs two thread wake-ups between
    one COMMIT and the next BEGIN. Under 20 writers on 2 cores that was the Store's
    largest cost (bench/writes: Store/raw 0.33; the same transactions with no hop,
    0.64): meanwhile a waiting process takes the lock, so the writer loses its warm
    caches and waits for SQLite's backoff. Each attempt here fails at once when the
    lock is held (busy_timeout 0, while writing only: reads on the connection's
    thread keep theirs); once BEGIN IMMEDIATE succeeds, the rest runs in place, so
    the loop is held for the transaction itself (a fraction of a millisecond plus
    the fsync), never for the wait. The Store's lock keeps the connection's thread
    idle meanwhile. `switch`: the connection's busy handler still waits, turn it off
    first (`busy_wait`; the Store turns it on again before its next read).
    """
    import asyncio  # here: one-shot commands import this module and run without it

    conn = db._conn
    if switch:
        busy_wait(conn, False)
    deadline = time.monotonic() + job.timeout
    waits = lock_waits()
    while not tx.take_lock(conn, job.dialect, deadline):
        await asyncio.sleep(next(waits))
    return tx.finish(conn, job.work, job.target)


async def open_db(path: Path, *, read_only: bool, must_exist: bool, timeout: float) -> Opened:
    """`open_sqlite`, run whole on the thread of an aiosqlite connection (the
    connection then lives on that thread), so every check and fallback is the same."""
    import aiosqlite

    conn = aiosqlite.Connection(
        lambda: open_sqlite(path, read_only=read_only, must_exist=must_exist, timeout=timeout),
        iter_chunk_size=64,
    )
    try:
        db = await conn
    except BaseException:
        # A failed connect queues the worker thread's stop without waiting for
        # it; wait here, or the thread may report to an event loop asyncio.run
        # has already closed (a stray traceback as the CLI exits).
        thread = getattr(conn, "_thread", None)
        if thread is not None and thread.is_alive():
            thread.join(timeout=5)
        raise
    return Opened(db, file_id(path))


def open_sqlite(
    path: Path, *, read_only: bool, must_exist: bool, timeout: float
) -> sqlite3.Connection:
    """Open (read-write: create and migrate) the database at `path`.

    `must_exist` is for commands that only read: they never create a file or
    a directory, so a mistyped --db is an error rather than a new empty
    record, and an empty (0-byte) file is refused. If the disk is full, a
    reader still opens (`_open_on_full_disk`).

    Read-only mode opens `file:...?mode=ro`. A WAL database needs its -shm
    (and -wal) file even to be read, so in a directory nobody can write (a
    backup on read-only media, a `chmod a-w` directory) that open fails;
    then, and only then, it falls back to `immutable=1` (see `_immutable_ok`).
    """
    if read_only:
        check_exists(path)
        target = f"file:{quote(str(path.resolve()))}?mode=ro"
        try:
            return _connect(path, target, True, read_only, timeout)
        except sqlite3.Error as e:
            full = _out_of_space(e, path) and not _wal_pending(path)
            if not (full or (_cannot_open_or_write(e) and _immutable_ok(path))):
                with sqlite_errors(path, timeout):
                    raise
        with sqlite_errors(path, timeout):
            return _connect(path, target + "&immutable=1", True, read_only, timeout)
    if must_exist:
        check_exists(path)
    try:
        private.make_dirs(path.parent)
    except OSError as e:
        raise StorageError(f"cannot create {path.parent}: {e.strerror}") from None
    if path.is_dir():
        raise StorageError(f"{path} is a directory, not a database file")
    # Created here, with its mode, before SQLite would create it by the umask;
    # when that fails, SQLite's own open below says why, in the usual words.
    with suppress(OSError):
        private.create_file(path)
    try:
        return _connect(path, str(path), False, read_only, timeout)
    except sqlite3.Error as e:
        if must_exist and _out_of_space(e, path):
            return _open_on_full_disk(path, timeout)
        if _cannot_open_or_write(e) and not _dir_writable(path.parent):
            raise StorageError(
                f"cannot write {path}: its directory {path.parent} is read-only"
                f" (SQLite needs to create {path.name}-wal and -shm there);"
                " use --read-only to read it"
            ) from None
        with sqlite_errors(path, timeout):
            raise


def _open_on_full_disk(path: Path, timeout: float) -> sqlite3.Connection:
    """A reader's open when the disk is full: SQLite cannot size the shared
    -shm index a WAL reader needs (SQLITE_IOERR_SHMSIZE), so read with the
    index in process memory, which `locking_mode=EXCLUSIVE` set before the
    first read allows. Needs a read-write handle; the store refuses writes.
    The lock is held only for this one command, and writers cannot write
    on this disk meanwhile anyway.
    """
    target = f"file:{quote(str(path.resolve()))}?mode=rw"
    with sqlite_errors(path, timeout):
        return _connect(path, target, True, True, timeout, ["PRAGMA locking_mode = EXCLUSIVE"])


def _connect(
    path: Path,
    target: str,
    uri: bool,
    read_only: bool,
    timeout: float,
    first: Sequence[str] = (),
) -> sqlite3.Connection:
    """Connect and prepare (after the `first` pragmas); SQLite's own
    exceptions pass through untranslated."""
    # Not bound to the opening thread: the Store reads on aiosqlite's thread and writes
    # on the event loop's (`write`), one at a time under its lock.
    conn = sqlite3.connect(
        target, uri=uri, isolation_level=None, timeout=timeout, check_same_thread=False
    )
    try:
        _prepare(conn, path, read_only, timeout, first)
    except BaseException:
        conn.close()
        raise
    return conn


def _prepare(
    conn: sqlite3.Connection, path: Path, read_only: bool, timeout: float, first: Sequence[str]
) -> None:
    for pragma in first:
        conn.execute(pragma)
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    # Rows are read by column name (`rows.decode`).
    conn.row_factory = sqlite3.Row
    # Any read fails here with "file is not a database" for a non-SQLite file. The
    # version and the tables are read in one statement, so in one snapshot: read
    # apart, another process creating the database could commit in between, and
    # tables with version 0 would look like somebody else's database.
    version, tables = conn.execute(
        "SELECT (SELECT user_version FROM pragma_user_version),"
        " (SELECT count(*) FROM sqlite_master)"
    ).fetchone()
    if version > schema.SCHEMA_VERSION:
        raise StorageError(
            f"{path} has schema version {version}, newer than this ircmd knows "
            f"({schema.SCHEMA_VERSION}): upgrade ircmd"
        )
    if version == 0 and tables:
        raise StorageError(f"{path} is a SQLite database but not an ircmd one")
    conn.execute("PRAGMA foreign_keys = ON")
    if read_only:
        if version < schema.SCHEMA_VERSION:
            raise StorageError(f"{path} needs a migration; open it once read-write")
        return
    _into_wal(conn, timeout)
    conn.execute("PRAGMA synchronous = FULL")
    if version < schema.SCHEMA_VERSION:
        _migrate(conn)
    # From here on `tx.begin` waits for the write lock itself, in short fair steps.
    conn.execute(f"PRAGMA busy_timeout = {BUSY_STEP_MS}")


def _into_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Put the database in WAL mode, waiting up to `timeout` for another process
    doing the same.

    On a new file the switch is a write made from inside a read: SQLite does not
    call the busy handler for that upgrade (it could deadlock), so a process
    meeting another one's switch fails at once with "database is locked", however
    long busy_timeout is. Several sessions started together on a new record met it.
    Retried in `tx.pauses` steps: once the other switch commits, this one has
    nothing left to write.
    """
    deadline = time.monotonic() + timeout
    for pause in tx.pauses():
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if not SQLITE.busy(e) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute(SQLITE.begin_write)
    try:
        version = _scalar(conn, "PRAGMA user_version")  # another process may have won
        for step in range(version, schema.SCHEMA_VERSION):
            for stmt in split_sql(schema.MIGRATIONS[step]):
                conn.execute(stmt)
        conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _scalar(conn: sqlite3.Connection, sql: str) -> Any:
    row = conn.execute(sql).fetchone()
    return row[0] if row else None


def fresh_schema() -> sqlite3.Connection:
    """An in-memory database holding exactly the schema the migrations create."""
    scratch = sqlite3.connect(":memory:")
    for step in schema.MIGRATIONS:
        for stmt in split_sql(step):
            scratch.execute(stmt)
    return scratch


def split_sql(script: str) -> list[str]:
    """Split DDL into statements, keeping trigger bodies whole (sqlite3.complete_statement)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    return [s for s in out if s]


def file_id(path: Path) -> tuple[int, int]:
    """The identity of the file at `path`: its device and inode."""
    st = os.stat(path)
    return st.st_dev, st.st_ino


def check_exists(path: Path) -> None:
    """For readers: the database must be there, and be more than an empty file."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise StorageError(f"{path}: no such database") from None
    except OSError as e:
        raise StorageError(f"cannot open {path}: {e.strerror}") from None
    if path.is_dir():
        raise StorageError(f"{path} is a directory, not a database file")
    if size == 0:
        raise StorageError(f"{path} is empty: not an ircmd database")


def _out_of_space(e: sqlite3.Error, path: Path) -> bool:
    """Did this error come from a full disk? SQLITE_FULL says so; an I/O error
    (e.g. SQLITE_IOERR_SHMSIZE, when the -shm index cannot grow) does when the
    filesystem holding `path` has no free blocks left."""
    if _primary_code(e) == sqlite3.SQLITE_FULL or "disk is full" in str(e):
        return True
    if _primary_code(e) != sqlite3.SQLITE_IOERR:
        return False
    try:
        return os.statvfs(path.resolve().parent).f_bavail == 0
    except OSError:
        return False


def _primary_code(e: sqlite3.Error) -> int:
    """SQLite's primary result code (SQLITE_IOERR for SQLITE_IOERR_SHMSIZE), 0 if unknown."""
    return int(getattr(e, "sqlite_errorcode", None) or 0) & 0xFF


def _wal_pending(path: Path) -> bool:
    """Does a non-empty -wal beside `path` hold changes not yet in the main file?"""
    try:
        return (path.resolve().parent / f"{path.name}-wal").stat().st_size > 0
    except FileNotFoundError:
        return False


def _cannot_open_or_write(e: sqlite3.Error) -> bool:
    """SQLite could not open or create a file it needed (e.g. the WAL's -shm)."""
    code = getattr(e, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY)
    low = str(e).lower()
    return "unable to open" in low or "readonly" in low


def _dir_writable(directory: Path) -> bool:
    """Can this process create files in `directory` (False on a read-only mount)?"""
    return os.access(directory, os.W_OK | os.X_OK)


def _immutable_ok(path: Path) -> bool:
    """May the read-only open of `path` fall back to SQLite's `immutable=1`?

    immutable=1 reads the file with no locking, no -shm and no change detection,
    and it ignores any -wal file. That is only correct while nothing writes the
    database. A WAL writer must create `<db>-wal` and `<db>-shm` beside the file,
    so nothing can be writing when the directory is on a read-only filesystem or
    has no write permission for anyone (root aside): then True. False when the
    directory is writable by this process (the failure is something else: report
    it as it is). Raises StorageError, one line, when the directory is only
    closed to this process (its owner may be writing right now), or when a
    non-empty -wal lies beside the database: its committed changes may not be in
    the main file yet, and immutable mode would silently leave them out.
    """
    directory = path.resolve().parent
    if _dir_writable(directory):
        return False
    try:
        nobody_writes = bool(os.statvfs(directory).f_flag & os.ST_RDONLY) or not (
            directory.stat().st_mode & 0o222
        )
    except OSError:
        nobody_writes = False
    if not nobody_writes:
        raise StorageError(
            f"cannot open {path}: SQLite needs to create {path.name}-shm in {directory},"
            " which you cannot write; ask its owner, or copy the database somewhere writable"
        )
    if _wal_pending(path):
        wal = f"{path.name}-wal"
        raise StorageError(
            f"cannot open {path}: {wal} beside it may hold committed changes that"
            f" cannot be read in the read-only directory {directory}; copy {path.name}"
            f" and {wal} together to a writable directory and open the copy"
        )
    return True


@contextmanager
def sqlite_errors(path: Path, timeout: float) -> Iterator[None]:
    """Turn SQLite's exceptions into one-line errors a person can act on."""
    try:
        yield
    except sqlite3.Error as e:
        msg = str(e)
        low = msg.lower()
        if SQLITE.busy(e):
            text = f"{path} is locked by another writer for more than {timeout:g} s; try again"
            raise StorageBusy(text) from None
        if _out_of_space(e, path):
            raise StorageBusy(
                f"the disk holding {path} is full: nothing was written; free some space"
            ) from None
        if _primary_code(e) == sqlite3.SQLITE_IOERR:
            raise StorageBusy(f"I/O error on {path} ({msg}): nothing was written") from None
        if "not a database" in low or "file is encrypted" in low:
            text = f"{path} is not a SQLite database"
        elif "readonly" in low or "read-only" in low:
            text = f"{path} is read-only: cannot write (check file and directory permissions)"
        elif "malformed" in low or "corrupt" in low:
            text = f"{path} is corrupt ({msg}): restore it from a backup"
        elif "unable to open" in low:
            text = f"cannot open {path}: {msg}"
        else:
            text = f"database error on {path}: {msg}"
        raise StorageError(text) from None
