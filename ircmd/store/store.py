"""The Store: one async method per domain verb, one SQLite transaction each.

Every write starts with BEGIN IMMEDIATE (a deferred read that upgrades to a
write fails at once with "database is locked", whatever the timeout), checks
that the file at the path is still the one it opened (`_still_at_path`), checks the
rules against the state read inside that transaction, appends its event(s) to the
hash chain and applies the projection statements before COMMIT. A per-process
asyncio lock keeps coroutines sharing the one connection out of each other's
transactions.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Collection,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager, suppress
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import quote

import aiosqlite

from .. import rules
from ..models import (
    MAX_NAME_CHARS,
    MAX_TEXT_BYTES,
    REVIEW_FIELDS,
    Action,
    ActionStatus,
    ActionType,
    AppliedPlaybook,
    Assignment,
    Audience,
    ChecklistItem,
    ClosureRefused,
    CommsUpdate,
    CustodyTransfer,
    DatabaseReplaced,
    Event,
    Evidence,
    Head,
    Incident,
    IncidentState,
    InvalidInput,
    Kind,
    Level,
    NotFound,
    Notification,
    Phase,
    Playbook,
    Presence,
    ReadOnly,
    Review,
    Role,
    RuleViolation,
    Severity,
    Status,
    StorageBusy,
    StorageError,
    VerifyResult,
    action_key,
    incident_key,
    parse_incident_ref,
)
from . import private, schema
from .projections import replay, statements
from .record import (
    EVENT_COLUMNS,
    GENESIS,
    encode_data,
    event_from_row,
    event_hash,
    from_ts,
    row_hash,
    ts,
)

Clock = Callable[[], datetime]
IncidentRef = int | str
T = TypeVar("T")

DEFAULT_TIMEOUT = 5.0
# SQLite's own wait per attempt; `_begin` loops up to the timeout. 50 ms keeps its
# sleeps short (at most 20 ms each, so a waiting writer stays in the race) while
# sparing the CPU that 20 writers retrying every few ms burned on 2 cores
# (bench/writes: Store/raw 0.42 at 10 ms, 0.48-0.57 at 50 ms).
BUSY_STEP_MS = 50
# The screen heartbeats every 10 s (app.HEARTBEAT): a session missing 3 is gone.
PRESENCE_TIMEOUT = timedelta(seconds=35)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _opt_ts(value: str | None) -> datetime | None:
    return from_ts(value) if value else None


class Store:
    """The incident record in one SQLite file. Open with `await Store.open(path)`."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        path: Path,
        read_only: bool,
        timeout: float,
        clock: Clock,
    ) -> None:
        self._db = db
        self.path = path
        self.read_only = read_only
        self.timeout = timeout
        self._clock = clock
        self._lock = asyncio.Lock()
        # Which file this connection writes to; see `_still_at_path`.
        self._file_id: tuple[int, int] | None = None
        # Record times that `rules.check_time` would refuse (--force-time).
        self.force_time = False
        # The largest text of an entry, in bytes of UTF-8 (IRCMD_MAX_TEXT).
        self.max_text = MAX_TEXT_BYTES

    # ------------------------------------------------------------ lifecycle

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        read_only: bool = False,
        must_exist: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Clock = utc_now,
    ) -> Store:
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
        path = Path(path).expanduser()
        if read_only:
            _check_exists(path)
            target = f"file:{quote(str(path.resolve()))}?mode=ro"
            try:
                return await cls._connect(path, target, True, read_only, timeout, clock)
            except sqlite3.Error as e:
                full = _out_of_space(e, path) and not _wal_pending(path)
                if not (full or (_cannot_open_or_write(e) and _immutable_ok(path))):
                    with _sqlite_errors(path, timeout):
                        raise
            with _sqlite_errors(path, timeout):
                return await cls._connect(
                    path, target + "&immutable=1", True, read_only, timeout, clock
                )
        if must_exist:
            _check_exists(path)
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
            return await cls._connect(path, str(path), False, read_only, timeout, clock)
        except sqlite3.Error as e:
            if must_exist and _out_of_space(e, path):
                return await cls._open_on_full_disk(path, timeout, clock)
            if _cannot_open_or_write(e) and not _dir_writable(path.parent):
                raise StorageError(
                    f"cannot write {path}: its directory {path.parent} is read-only"
                    f" (SQLite needs to create {path.name}-wal and -shm there);"
                    " use --read-only to read it"
                ) from None
            with _sqlite_errors(path, timeout):
                raise

    @classmethod
    async def _open_on_full_disk(cls, path: Path, timeout: float, clock: Clock) -> Store:
        """A reader's open when the disk is full: SQLite cannot size the shared
        -shm index a WAL reader needs (SQLITE_IOERR_SHMSIZE), so read with the
        index in process memory, which `locking_mode=EXCLUSIVE` set before the
        first read allows. Needs a read-write handle; the store refuses writes.
        The lock is held only for this one command, and writers cannot write
        on this disk meanwhile anyway.
        """
        target = f"file:{quote(str(path.resolve()))}?mode=rw"
        with _sqlite_errors(path, timeout):
            return await cls._connect(
                path, target, True, True, timeout, clock, ["PRAGMA locking_mode = EXCLUSIVE"]
            )

    @classmethod
    async def _connect(
        cls,
        path: Path,
        target: str,
        uri: bool,
        read_only: bool,
        timeout: float,
        clock: Clock,
        first: Sequence[str] = (),
    ) -> Store:
        """Connect and prepare (after the `first` pragmas); SQLite's own
        exceptions pass through untranslated."""
        conn = aiosqlite.connect(target, uri=uri, isolation_level=None, timeout=timeout)
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
        store = cls(db, path, read_only, timeout, clock)
        try:
            for pragma in first:
                await db.execute(pragma)
            await store._prepare()
            store._file_id = _file_id(path)
        except BaseException:
            await db.close()
            raise
        return store

    async def _prepare(self) -> None:
        db = self._db
        await db.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        # Any read fails here with "file is not a database" for a non-SQLite file.
        version = await self._scalar("PRAGMA user_version")
        if version > schema.SCHEMA_VERSION:
            raise StorageError(
                f"{self.path} has schema version {version}, newer than this ircmd knows "
                f"({schema.SCHEMA_VERSION}): upgrade ircmd"
            )
        if version == 0 and await self._scalar("SELECT count(*) FROM sqlite_master"):
            raise StorageError(f"{self.path} is a SQLite database but not an ircmd one")
        await db.execute("PRAGMA foreign_keys = ON")
        if self.read_only:
            if version < schema.SCHEMA_VERSION:
                raise StorageError(f"{self.path} needs a migration; open it once read-write")
            return
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute("PRAGMA synchronous = FULL")
        if version < schema.SCHEMA_VERSION:
            await self._migrate()
        # From here on `_begin` waits for the write lock itself, in short fair steps.
        await db.execute(f"PRAGMA busy_timeout = {BUSY_STEP_MS}")

    async def _migrate(self) -> None:
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            version = await self._scalar("PRAGMA user_version")  # another process may have won
            for step in range(version, schema.SCHEMA_VERSION):
                for stmt in _split_sql(schema.MIGRATIONS[step]):
                    await self._db.execute(stmt)
            await self._db.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION}")
            await self._db.execute("COMMIT")
        except BaseException:
            await self._db.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        await self._db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def now(self) -> datetime:
        return self._clock()

    # --------------------------------------------------------------- helpers

    async def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        # One hop to the connection's thread, not three (execute, fetchone, close):
        # each hop inside a write transaction is time the write lock is held.
        rows = list(await self._db.execute_fetchall(sql, params))
        return rows[0][0] if rows else None

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return list(await self._db.execute_fetchall(sql, params))

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[None]:
        async with self._lock:
            with _sqlite_errors(self.path, self.timeout):
                yield

    @asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[None]:
        """One read transaction: every query inside sees the same committed state, so
        an incident's events and the chain's head read together agree."""
        async with self._read():
            await self._db.execute("BEGIN")
            try:
                yield
            finally:
                await self._db.execute("ROLLBACK")

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[None]:
        if self.read_only:
            raise ReadOnly("this session is read-only: nothing was written")
        async with self._lock:
            with _sqlite_errors(self.path, self.timeout):
                try:
                    await self._begin()
                except BaseException:
                    # A cancelled BEGIN still runs in aiosqlite's thread once the lock
                    # frees; roll it back (queued after it) or this process keeps the
                    # write lock for good. Shielded: the caller is being cancelled.
                    rollback = asyncio.ensure_future(self._db.execute("ROLLBACK"))
                    rollback.add_done_callback(lambda f: f.cancelled() or f.exception())
                    with suppress(BaseException):
                        await asyncio.shield(rollback)
                    raise
                try:
                    yield
                    # A COMMIT that fails (disk full) may leave the transaction
                    # open; roll it back so that a retry starts clean.
                    await self._db.execute("COMMIT")
                except BaseException:
                    await self._call(_rollback)
                    raise

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(conn)` on the connection's own thread, in one hop.

        Each hop to aiosqlite's thread made while holding the write lock is time
        other writers wait, so hot paths do their whole transaction in one call.
        aiosqlite has no public name for this; `_execute` is what its own
        methods use.
        """
        db = self._db
        return cast(T, await db._execute(lambda: fn(db._conn)))  # type: ignore[no-untyped-call]

    async def _begin(self) -> None:
        await self._call(self._begin_in_thread)

    def _begin_in_thread(self, conn: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE, retried until the timeout.

        SQLite's own busy handler backs off to 100 ms sleeps, so under many
        writers a waiting process keeps losing the lock to ones that arrive
        later and fails after the timeout with work still queued. Bounding its
        wait (BUSY_STEP_MS) and retrying in short jittered steps keeps every
        writer in the race.
        """
        deadline = time.monotonic() + self.timeout
        pause = 0.001
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                self._still_at_path(conn)
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    raise
                if time.monotonic() >= deadline:
                    raise
            time.sleep(random.uniform(0, pause))
            pause = min(pause * 2, 0.01)

    def _still_at_path(self, conn: sqlite3.Connection) -> None:
        """Refuse to write if the file at `self.path` is not the one this
        connection opened (restored, replaced or deleted since).

        SQLite writes through the open file handle, so without this check a
        write after a restore lands in the file moved aside, and one after an
        unlink in a file nobody can open again, and both report success.
        Checked after BEGIN IMMEDIATE: `ircmd restore` swaps the file while it
        holds that lock, so no swap can slip in between this check and COMMIT.
        """
        try:
            now: tuple[int, int] | None = _file_id(self.path)
        except FileNotFoundError:
            now = None
        except OSError as e:
            conn.execute("ROLLBACK")
            raise StorageError(
                f"cannot check {self.path}: {e.strerror}; nothing was written"
            ) from None
        if now != self._file_id:
            conn.execute("ROLLBACK")
            gone = "deleted" if now is None else "replaced by another file"
            raise DatabaseReplaced(
                f"{self.path} was {gone} after this process opened it; nothing was"
                " written (run the command again to use the file now at that path)"
            )

    async def _append(
        self,
        incident_id: int | None,
        kind: Kind,
        actor: str,
        text: str = "",
        data: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> Event:
        """Append one event to the chain and apply its projections. Inside `_tx` only."""
        now = self._clock()

        def write(conn: sqlite3.Connection) -> Event:
            self._check_time_in(conn, incident_id, at, now)
            return append_event(conn, incident_id, kind, actor, text, data or {}, at or now, now)

        return await self._call(write)

    async def _incident_id(self, ref: IncidentRef, *, writable: bool = False) -> int:
        """The incident's number; with `writable`, refuse a closed incident."""
        n = ref if isinstance(ref, int) else parse_incident_ref(ref)
        await self._call(lambda conn: _check_incident(conn, n, writable))
        return n

    async def _open_incident(self, ref: IncidentRef) -> IncidentState:
        """The state of an incident that may still change (not closed)."""
        return await self._load(await self._incident_id(ref, writable=True))

    def _check_text(self, text: str, what: str = "text") -> str:
        return rules.check_text(text, what, self.max_text)

    def _check_at(self, at: datetime | None, what: str) -> None:
        """A time given for something other than an event (detection, impact start)."""
        if at is not None and not self.force_time:
            rules.check_time(at, self._clock(), what=what)

    def _check_time_in(
        self, conn: sqlite3.Connection, incident_id: int | None, at: datetime | None, now: datetime
    ) -> None:
        """The one check of an event's stated time (`rules.check_time`), inside its
        write transaction, against the incident as it stands."""
        if at is None or self.force_time:
            return
        row = (
            conn.execute(
                "SELECT coalesce(started_at, detected_at, declared_at) FROM incidents WHERE id = ?",
                (incident_id,),
            ).fetchone()
            if incident_id is not None
            else None
        )
        rules.check_time(at, now, from_ts(row[0]) if row else None)

    # ------------------------------------------------------------ the verbs

    async def declare(
        self,
        title: str,
        *,
        actor: str,
        severity: Severity | None = None,
        type: str = "",
        impact: Level | None = None,
        urgency: Level | None = None,
        summary: str = "",
        at: datetime | None = None,
        detected_at: datetime | None = None,
        started_at: datetime | None = None,
        playbook: Playbook | None = None,
    ) -> Incident:
        """Open a new incident; its id is the next INC-<n> of this database."""
        actor = rules.check_name(actor, "user name")
        self._check_text(title, "title")
        if summary:
            self._check_text(summary, "summary")
        if type and len(type) > MAX_NAME_CHARS:
            raise InvalidInput(f"type is longer than {MAX_NAME_CHARS} characters")
        self._check_at(detected_at, "detected-at")
        self._check_at(started_at, "started-at")
        declared = at or self._clock()
        if detected_at and detected_at > declared:
            raise InvalidInput("detected-at is after the declaration")
        if started_at and started_at > (detected_at or declared):
            raise InvalidInput("started-at is after detection")
        sev = severity or rules.suggest_severity(impact, urgency)
        if severity is None and not (impact or urgency) and playbook and playbook.severity:
            sev = playbook.severity  # e.g. security-breach: SEV1 unless told otherwise
        data: dict[str, Any] = {
            "title": title,
            "severity": sev.value,
            "type": type,
            "summary": summary,
            "impact": impact.value if impact else None,
            "urgency": urgency.value if urgency else None,
            "detected_at": ts(detected_at) if detected_at else None,
            "started_at": ts(started_at) if started_at else None,
            "suggested": rules.suggest_severity(impact, urgency).value
            if impact or urgency
            else None,
        }
        async with self._tx():
            n = (await self._scalar("SELECT coalesce(max(id), 0) FROM incidents")) + 1
            await self._append(n, Kind.DECLARE, actor, title, data, at)
            if playbook is not None:
                await self._apply_playbook(n, playbook, actor, at)
            row = await self._incident_row(n)
        return row

    async def log(
        self,
        ref: IncidentRef,
        text: str,
        *,
        actor: str,
        kind: Kind = Kind.NOTE,
        at: datetime | None = None,
    ) -> Event:
        """A timeline entry: a note or a decision, possibly back-dated."""
        actor = rules.check_name(actor, "user name")
        self._check_text(text)
        if kind not in (Kind.NOTE, Kind.DECISION):
            raise InvalidInput(f"cannot log an entry of kind {kind}")
        n = ref if isinstance(ref, int) else parse_incident_ref(ref)
        if self.read_only:
            raise ReadOnly("this session is read-only: nothing was written")
        now = self._clock()

        def write(conn: sqlite3.Connection) -> Event:
            # The hot path (notes, `log --stdin`): the whole transaction in one hop.
            self._begin_in_thread(conn)
            try:
                _check_incident(conn, n, writable=True)
                self._check_time_in(conn, n, at, now)
                ev = append_event(conn, n, kind, actor, text, {}, at or now, now)
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
            return ev

        async with self._lock:
            with _sqlite_errors(self.path, self.timeout):
                return await self._call(write)

    async def amend(
        self,
        ref: IncidentRef,
        event_id: int,
        text: str,
        *,
        actor: str,
        at: datetime | None = None,
    ) -> Event:
        """Correct an entry: a new event pointing at the old; the old stays as it was."""
        actor = rules.check_name(actor, "user name")
        self._check_text(text)
        async with self._tx():
            n = await self._incident_id(ref, writable=True)
            owner = (
                await self._scalar("SELECT incident_id FROM events WHERE id = ?", (event_id,))
                if 0 < event_id < 2**63  # a bigger int would not even bind (OverflowError)
                else None
            )
            if owner != n:
                raise NotFound(f"no entry #{event_id} in {incident_key(n)}")
            return await self._append(n, Kind.AMEND, actor, text, {"amends": event_id}, at)

    async def set_severity(
        self,
        ref: IncidentRef,
        severity: Severity,
        *,
        actor: str,
        reason: str = "",
        at: datetime | None = None,
    ) -> Event:
        actor = rules.check_name(actor, "user name")
        async with self._tx():
            state = await self._open_incident(ref)
            rules.require_command(state, actor, "change severity")
            data = {"from": state.incident.severity.value, "to": severity.value}
            return await self._append(state.incident.id, Kind.SEVERITY, actor, reason, data, at)

    async def set_status(
        self,
        ref: IncidentRef,
        status: Status,
        *,
        actor: str,
        reason: str = "",
        override: str = "",
        at: datetime | None = None,
    ) -> Event:
        """Move the incident; closing passes the closure gate unless overridden."""
        actor = rules.check_name(actor, "user name")
        if reason:
            self._check_text(reason, "reason")
        if override:
            self._check_text(override, "override reason")
        async with self._tx():
            state = await self._load(await self._incident_id(ref))
            current = state.incident.status
            rules.require_command(state, actor, "change status")
            rules.check_transition(current, status, reason)
            data: dict[str, Any] = {"from": current.value, "to": status.value}
            if status is Status.CLOSED and current is Status.CLOSED:
                raise RuleViolation(f"{state.incident.key} is already closed")
            if status is Status.CLOSED:
                gaps = rules.closure_gaps(state, state.incident.resolved_at)
                if gaps and not override.strip():
                    raise ClosureRefused(state.incident.key, gaps)
                if gaps:
                    data["override"] = override
                    data["gaps"] = gaps
            return await self._append(
                state.incident.id, Kind.STATUS, actor, reason or override, data, at
            )

    async def assign(
        self,
        ref: IncidentRef,
        role: Role,
        person: str,
        *,
        actor: str,
        at: datetime | None = None,
    ) -> Event:
        """Give a role; a new commander is a recorded hand-off from the old one."""
        actor = rules.check_name(actor, "user name")
        person = rules.check_name(person, "person")
        async with self._tx():
            state = await self._open_incident(ref)
            rules.require_command(state, actor, "assign roles")
            holders = state.people(role)
            if person in holders:
                raise RuleViolation(f"{person} is already {role} on {state.incident.key}")
            data: dict[str, Any] = {"role": role.value, "person": person}
            if role.single and holders:
                data["previous"] = holders[0]
            return await self._append(state.incident.id, Kind.ASSIGN, actor, "", data, at)

    async def unassign(
        self,
        ref: IncidentRef,
        role: Role,
        person: str,
        *,
        actor: str,
        at: datetime | None = None,
    ) -> Event:
        actor = rules.check_name(actor, "user name")
        person = rules.check_name(person, "person")
        async with self._tx():
            state = await self._open_incident(ref)
            rules.require_command(state, actor, "assign roles")
            if person not in state.people(role):
                raise NotFound(f"{person} is not {role} on {state.incident.key}")
            data = {"role": role.value, "person": person}
            return await self._append(state.incident.id, Kind.UNASSIGN, actor, "", data, at)

    async def add_item(
        self,
        ref: IncidentRef,
        text: str,
        *,
        actor: str,
        phase: Phase = Phase.CONTAINMENT,
        assignee: str | None = None,
        at: datetime | None = None,
    ) -> ChecklistItem:
        """An ad-hoc containment or recovery step; numbered after the existing ones."""
        actor = rules.check_name(actor, "user name")
        self._check_text(text, "step")
        if assignee:
            assignee = rules.check_name(assignee, "assignee")
        async with self._tx():
            state = await self._open_incident(ref)
            n = max((i.n for i in state.checklist), default=0) + 1
            data = {"n": n, "phase": phase.value, "assignee": assignee}
            ev = await self._append(state.incident.id, Kind.ITEM_ADD, actor, text, data, at)
        return ChecklistItem(
            n=n,
            phase=phase,
            text=text,
            assignee=assignee,
            added_by=actor,
            added_at=ev.occurred_at,
        )

    async def check(
        self,
        ref: IncidentRef,
        n: int,
        *,
        actor: str,
        done: bool = True,
        at: datetime | None = None,
    ) -> Event:
        """Check or uncheck item N. Checking a checked item still lands (two people at
        once both count), and says who had checked it."""
        actor = rules.check_name(actor, "user name")
        async with self._tx():
            state = await self._open_incident(ref)
            item = next((i for i in state.checklist if i.n == n), None)
            if item is None:
                raise NotFound(f"no checklist item {n} on {state.incident.key}")
            data: dict[str, Any] = {"n": n, "phase": item.phase.value}
            if item.done and done:
                data["already"] = item.done_by
            kind = Kind.CHECK if done else Kind.UNCHECK
            return await self._append(state.incident.id, kind, actor, item.text, data, at)

    async def apply_playbook(
        self,
        ref: IncidentRef,
        playbook: Playbook,
        *,
        actor: str,
        at: datetime | None = None,
    ) -> Event:
        actor = rules.check_name(actor, "user name")
        async with self._tx():
            state = await self._open_incident(ref)
            if any(p.name == playbook.name for p in state.playbooks):
                raise RuleViolation(
                    f"playbook {playbook.name} is already applied to {state.incident.key}"
                )
            return await self._apply_playbook(state.incident.id, playbook, actor, at)

    async def _apply_playbook(
        self, incident_id: int, playbook: Playbook, actor: str, at: datetime | None
    ) -> Event:
        first = (
            await self._scalar(
                "SELECT coalesce(max(n), 0) FROM checklist WHERE incident_id = ?",
                (incident_id,),
            )
        ) + 1
        steps = [(Phase.CONTAINMENT, s) for s in playbook.containment]
        steps += [(Phase.RECOVERY, s) for s in playbook.recovery]
        data = {
            "name": playbook.name,
            "required_roles": [r.value for r in playbook.required_roles],
            "steps": [
                {"n": first + i, "phase": phase.value, "text": text}
                for i, (phase, text) in enumerate(steps)
            ],
        }
        return await self._append(incident_id, Kind.PLAYBOOK, actor, playbook.name, data, at)

    async def send_update(
        self,
        ref: IncidentRef,
        audience: Audience,
        text: str,
        *,
        actor: str,
        channel: str = "",
        final: bool = False,
        at: datetime | None = None,
    ) -> Event:
        """Log a stakeholder update; it resets the cadence countdown."""
        actor = rules.check_name(actor, "user name")
        self._check_text(text, "update")
        if channel:
            channel = rules.check_name(channel, "channel")
        async with self._tx():
            state = await self._open_incident(ref)
            data = {"audience": audience.value, "channel": channel, "final": final}
            return await self._append(state.incident.id, Kind.UPDATE, actor, text, data, at)

    async def notify(
        self, ref: IncidentRef, who: str, *, actor: str, at: datetime | None = None
    ) -> Event:
        """Check off an escalation contact as told."""
        actor = rules.check_name(actor, "user name")
        who = rules.check_name(who, "contact")
        async with self._tx():
            state = await self._open_incident(ref)
            return await self._append(state.incident.id, Kind.NOTIFY, actor, who, {"who": who}, at)

    async def add_evidence(
        self,
        ref: IncidentRef,
        description: str,
        *,
        actor: str,
        location: str = "",
        sha256: str | None = None,
        filename: str | None = None,
        size: int | None = None,
        at: datetime | None = None,
    ) -> Evidence:
        """Register an item; the collector is its first custodian. The size in bytes of
        an item streamed in (`evidence add --stdin`) goes on the record with its hash."""
        actor = rules.check_name(actor, "user name")
        self._check_text(description, "description")
        if location:
            self._check_text(location, "location")
        async with self._tx():
            state = await self._open_incident(ref)
            n = max((e.n for e in state.evidence), default=0) + 1
            data = {
                "n": n,
                "location": location,
                "sha256": sha256,
                "filename": filename,
                "custodian": actor,
            } | ({"size": size} if size is not None else {})
            ev = await self._append(
                state.incident.id, Kind.EVIDENCE_ADD, actor, description, data, at
            )
        return Evidence(
            n=n,
            description=description,
            location=location,
            sha256=sha256,
            filename=filename,
            collected_by=actor,
            collected_at=ev.occurred_at,
            custodian=actor,
        )

    async def transfer_evidence(
        self,
        ref: IncidentRef,
        n: int,
        to: str,
        *,
        reason: str,
        actor: str,
        at: datetime | None = None,
    ) -> Event:
        actor = rules.check_name(actor, "user name")
        to = rules.check_name(to, "recipient")
        self._check_text(reason, "reason")
        async with self._tx():
            state = await self._load(await self._incident_id(ref))
            item = next((e for e in state.evidence if e.n == n), None)
            if item is None:
                raise NotFound(f"no evidence EV-{n} on {state.incident.key}")
            rules.check_custody_transfer(state, item, to, actor)
            data = {"n": n, "from": item.custodian, "to": to}
            return await self._append(
                state.incident.id, Kind.EVIDENCE_TRANSFER, actor, reason, data, at
            )

    async def amend_evidence(
        self,
        ref: IncidentRef,
        n: int,
        text: str,
        *,
        actor: str,
        at: datetime | None = None,
    ) -> Event:
        actor = rules.check_name(actor, "user name")
        self._check_text(text, "amendment")
        async with self._tx():
            state = await self._load(await self._incident_id(ref))
            if not any(e.n == n for e in state.evidence):
                raise NotFound(f"no evidence EV-{n} on {state.incident.key}")
            return await self._append(
                state.incident.id, Kind.EVIDENCE_AMEND, actor, text, {"n": n}, at
            )

    async def save_review(
        self,
        ref: IncidentRef,
        *,
        actor: str,
        at: datetime | None = None,
        base: Mapping[str, str | Sequence[str]] | None = None,
        **fields: str | Sequence[str] | None,
    ) -> Event:
        """Merge the given review fields into the saved review, as one event.

        None leaves a field as saved; blank text (or no whys) clears it. `base`
        holds what an editor started from for the fields it changes (the review
        form): a field whose saved value has moved on from its base since, to
        something other than this save's value, refuses the whole save (a lost
        update otherwise), naming who changed it and when. Without `base` (the
        CLI, one-shot) the given fields are simply set.
        """
        actor = rules.check_name(actor, "user name")
        unknown = (set(fields) | set(base or ())) - set(REVIEW_FIELDS)
        if unknown:
            raise InvalidInput(f"unknown review field(s): {', '.join(sorted(unknown))}")
        given: dict[str, str | list[str]] = {}
        for k, v in fields.items():
            if v is None:
                continue
            if isinstance(v, str):
                given[k] = self._check_text(v, k.replace("_", " ")) if v.strip() else ""
            else:
                given[k] = [self._check_text(part, k.replace("_", " ")) for part in v]
        if not given:
            raise InvalidInput("nothing to save: give at least one review field")

        def plain(v: str | Sequence[str]) -> str | list[str]:
            return v if isinstance(v, str) else list(v)

        async with self._tx():
            state = await self._open_incident(ref)
            merged = state.review.model_dump(include=set(REVIEW_FIELDS))
            merged["whys"] = list(merged["whys"])
            moved = [
                k
                for k in given
                if base is not None
                and k in base
                and merged[k] != plain(base[k])
                and merged[k] != given[k]
            ]
            if moved:
                raise RuleViolation(await self._review_moved(state, moved))
            merged.update(given)
            text = "review: " + ", ".join(
                k.replace("_", " ") + ("" if v else " (cleared)") for k, v in given.items()
            )
            return await self._append(
                state.incident.id, Kind.REVIEW, actor, text, {"review": merged}, at
            )

    async def _review_moved(self, state: IncidentState, moved: list[str]) -> str:
        """Who last changed each of the `moved` review fields, and when: one line."""
        rows = await self._rows(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE incident_id = ? AND kind = ? ORDER BY id",
            (state.incident.id, Kind.REVIEW.value),
        )
        last: dict[str, Event] = {}
        before = Review().model_dump(include=set(REVIEW_FIELDS))
        before["whys"] = []
        for ev in map(event_from_row, rows):
            saved = ev.data.get("review", {})
            for k in moved:
                if saved.get(k) != before.get(k):
                    last[k] = ev
            before = saved
        today = self._clock().astimezone(UTC).date()
        groups: dict[str, list[str]] = {}
        for k in moved:
            changer = last.get(k)
            if changer is None:
                who = "someone"
            else:
                when = changer.recorded_at.astimezone(UTC)
                fmt = "%H:%M" if when.date() == today else "%Y-%m-%d %H:%M"
                who = f"{changer.actor} at {when.strftime(fmt)}"
            groups.setdefault(who, []).append(k.replace("_", " "))
        parts: list[str] = []
        for who, names in groups.items():
            joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
            verb = "was" if len(names) == 1 else "were"
            parts.append(f"{joined} {verb} changed by {who}" if not parts else f"{joined} by {who}")
        return (
            f"the review's {' and '.join(parts)} since you opened it;"
            " your text is kept: reopen the form (r) to merge"
        )

    async def add_action(
        self,
        ref: IncidentRef,
        title: str,
        *,
        actor: str,
        owner: str | None = None,
        due: date | None = None,
        type: ActionType = ActionType.CORRECTIVE,
        review_date: date | None = None,
        at: datetime | None = None,
    ) -> Action:
        """A follow-up action; it may start without owner or due, but closing needs both."""
        actor = rules.check_name(actor, "user name")
        self._check_text(title, "action title")
        if owner:
            owner = rules.check_name(owner, "owner")
        async with self._tx():
            state = await self._open_incident(ref)
            aid = (await self._scalar("SELECT coalesce(max(id), 0) FROM actions")) + 1
            data = {
                "action_id": aid,
                "type": type.value,
                "owner": owner,
                "due": due.isoformat() if due else None,
                "review_date": review_date.isoformat() if review_date else None,
            }
            await self._append(state.incident.id, Kind.ACTION_ADD, actor, title, data, at)
            return await self._action(aid)

    async def set_action(
        self,
        action_id: int,
        status: ActionStatus | None = None,
        *,
        actor: str,
        note: str = "",
        evidence: str = "",
        owner: str | None = None,
        due: date | None = None,
        review_date: date | None = None,
        at: datetime | None = None,
    ) -> Action:
        """Move an action through its states and/or change owner and dates."""
        actor = rules.check_name(actor, "user name")
        if owner:
            owner = rules.check_name(owner, "owner")
        for what, value in (("note", note), ("evidence", evidence)):
            if value:
                self._check_text(value, what)
        async with self._tx():
            action = await self._action(action_id)
            new = status or action.status
            if status is not None:
                rules.check_action_transition(action.status, status, note)
            elif not (owner or due or review_date or note or evidence):
                raise InvalidInput(
                    "nothing to change: give a status, --owner, --due, --review, --note"
                    " or --evidence"
                )
            data: dict[str, Any] = {
                "action_id": action_id,
                "from": action.status.value,
                "to": new.value,
            }
            if new is ActionStatus.WONT_DO and status:
                data["reason"] = note
            if new is ActionStatus.VERIFIED and status:
                data["verification"] = note
            if evidence:
                data["closure_evidence"] = evidence
            if owner:
                data["owner"] = owner
            if due:
                data["due"] = due.isoformat()
            if review_date:
                data["review_date"] = review_date.isoformat()
            await self._append(action.incident_id, Kind.ACTION_SET, actor, note, data, at)
            return await self._action(action_id)

    # -------------------------------------------------------------- presence

    async def heartbeat(
        self, session: str, incident_id: int | None, person: str, host: str
    ) -> None:
        """Say who is looking at what. Session state: no event, no hash."""
        if self.read_only:
            return
        async with self._tx():
            await self._db.execute(
                "INSERT OR REPLACE INTO presence (session, incident_id, person, host, seen_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (session, incident_id, person, host, ts(self._clock())),
            )

    async def leave(self, session: str) -> None:
        if self.read_only:
            return
        async with self._tx():
            await self._db.execute("DELETE FROM presence WHERE session = ?", (session,))

    async def watchers(self, timeout: timedelta) -> list[Presence]:
        """Sessions seen within `timeout`; stale rows (killed sessions) are ignored."""
        cutoff = ts(self._clock() - timeout)
        async with self._read():
            rows = await self._rows(
                "SELECT session, incident_id, person, host, seen_at FROM presence"
                " WHERE seen_at >= ? ORDER BY person",
                (cutoff,),
            )
        return [
            Presence(
                session=r[0],
                incident_id=r[1],
                person=r[2],
                host=r[3],
                seen_at=from_ts(r[4]),
            )
            for r in rows
        ]

    # ----------------------------------------------------------------- reads

    async def list_incidents(self, *, include_closed: bool = False) -> list[Incident]:
        where = "" if include_closed else "WHERE status != 'closed'"
        async with self._read():
            rows = await self._rows(
                f"SELECT {_INCIDENT_COLUMNS} FROM incidents {where} ORDER BY id"
            )
        return [_incident(r) for r in rows]

    async def incident(self, ref: IncidentRef) -> Incident:
        async with self._read():
            return await self._incident_row(await self._incident_id(ref))

    async def state(self, ref: IncidentRef) -> IncidentState:
        async with self._read():
            return await self._load(await self._incident_id(ref))

    async def events(
        self,
        ref: IncidentRef | None = None,
        *,
        after_id: int = 0,
        limit: int | None = None,
    ) -> list[Event]:
        """Events in id order, of one incident or all."""
        async with self._read():
            if ref is None:
                rows = await self._rows(
                    f"SELECT {EVENT_COLUMNS} FROM events WHERE id > ? ORDER BY id LIMIT ?",
                    (after_id, -1 if limit is None else limit),
                )
            else:
                n = await self._incident_id(ref)
                rows = await self._rows(
                    f"SELECT {EVENT_COLUMNS} FROM events WHERE incident_id = ? AND id > ?"
                    " ORDER BY id LIMIT ?",
                    (n, after_id, -1 if limit is None else limit),
                )
        return [event_from_row(r) for r in rows]

    async def event_chunks(
        self,
        ref: IncidentRef,
        *,
        by_time: bool = False,
        kinds: Collection[Kind] | None = None,
        upto: int | None = None,
        size: int = 1000,
    ) -> AsyncGenerator[list[Event], None]:
        """One incident's events, `size` at a time, in id order (or, `by_time`, in the
        order things happened: occurred_at, then id), optionally of some kinds only
        and none after event `upto`.

        One query read through one cursor, so a report of 100,000 events holds a
        chunk of them at a time, not all. The store is busy until it is exhausted
        or closed: a caller that may stop early closes it (`contextlib.aclosing`)
        before closing the store."""
        async with self._read():
            n = await self._incident_id(ref)
            where = "incident_id = ?"
            params: list[Any] = [n]
            if kinds is not None:
                where += f" AND kind IN ({', '.join('?' * len(kinds))})"
                params += sorted(k.value for k in kinds)
            if upto is not None:
                where += " AND id <= ?"
                params.append(upto)
            order = "occurred_at, id" if by_time else "id"
            sql = f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} ORDER BY {order}"
            async with self._db.execute(sql, params) as cur:
                while rows := await cur.fetchmany(size):
                    yield [event_from_row(r) for r in rows]

    async def events_since(self, event_id: int, limit: int | None = None) -> list[Event]:
        """Every event committed after `event_id`: the change feed's query."""
        return await self.events(after_id=event_id, limit=limit)

    async def head(self) -> Head:
        """The chain's newest event and the number of events: one query, no scan of
        the chain (count(*) walks the smallest index, not the rows)."""
        async with self._read():
            return await self._head()

    async def _head(self) -> Head:
        rows = await self._rows(
            "SELECT (SELECT count(*) FROM events), id, hash FROM events ORDER BY id DESC LIMIT 1"
        )
        if not rows:
            return Head(count=0, id=0, hash=GENESIS)
        return Head(count=rows[0][0], id=rows[0][1], hash=rows[0][2])

    async def hash_of(self, event_id: int) -> str | None:
        """The stored hash of event #`event_id`, None if there is no such event."""
        async with self._read():
            value = await self._scalar("SELECT hash FROM events WHERE id = ?", (event_id,))
        return None if value is None else str(value)

    async def last_event_id(self) -> int:
        async with self._read():
            return int(await self._scalar("SELECT coalesce(max(id), 0) FROM events"))

    async def data_version(self) -> int:
        """Changes whenever another connection commits (PRAGMA data_version)."""
        async with self._read():
            return int(await self._scalar("PRAGMA data_version"))

    async def action(self, ref: int) -> Action:
        async with self._read():
            return await self._action(ref)

    async def actions(
        self,
        *,
        incident: IncidentRef | None = None,
        owner: str | None = None,
        overdue_at: datetime | None = None,
    ) -> list[Action]:
        """The action log across incidents, optionally filtered."""
        clauses: list[str] = []
        params: list[Any] = []
        async with self._read():
            if incident is not None:
                clauses.append("incident_id = ?")
                params.append(await self._incident_id(incident))
            if owner:
                clauses.append("owner = ?")
                params.append(rules.check_name(owner, "owner"))
            where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
            rows = await self._rows(
                f"SELECT {_ACTION_COLUMNS} FROM actions {where} ORDER BY id", params
            )
        found = [_action(r) for r in rows]
        if overdue_at is not None:
            found = [a for a in found if rules.action_overdue(a, overdue_at)]
        return found

    async def verify(self, ref: IncidentRef | None = None) -> VerifyResult:
        """Recompute the hash chain, compare the schema with the one ircmd creates and
        replay the projections, all in one read transaction; name the first fault."""
        async with self._snapshot():
            only = await self._incident_id(ref) if ref is not None else None
            prev, count, last_id, total = GENESIS, 0, 0, 0
            events: list[Event] = []
            async with self._db.execute(f"SELECT {EVENT_COLUMNS} FROM events ORDER BY id") as cur:
                async for row in cur:
                    if row[8] != prev or row_hash(row) != row[9]:
                        what = (
                            "was altered" if row[8] == prev else "does not follow its predecessor"
                        )
                        return VerifyResult(
                            ok=False,
                            events=count,
                            bad_event_id=row[0],
                            message=f"event #{row[0]} {what}: the chain is broken there",
                        )
                    if row[0] != last_id + 1:
                        return VerifyResult(
                            ok=False,
                            events=count,
                            bad_event_id=row[0],
                            message=f"events #{last_id + 1}..#{row[0] - 1} are missing",
                        )
                    prev, last_id, total = row[9], row[0], total + 1
                    if only is None or row[1] == only:
                        count += 1
                    events.append(event_from_row(row))
            head = Head(count=total, id=last_id, hash=prev)
            mismatch = await self._compare_schema() or await self._compare_projections(events)
        if mismatch:
            return VerifyResult(ok=False, events=count, message=mismatch, head=head)
        scope = incident_key(only) if only else "all incidents"
        return VerifyResult(
            ok=True, events=count, message=f"chain intact: {count} events ({scope})", head=head
        )

    async def _compare_schema(self) -> str | None:
        """Name the first schema object that ircmd's migrations did not create as it is.

        Someone with the sqlite3 shell can make reads lie without touching a stored
        row: a trigger that rewrites what later writes insert, a dropped append-only
        trigger, a view, an index or a table edited through writable_schema. Every
        object's (type, name, table, sql) must be what the migrations create; only
        the statistics tables ANALYZE may add are ignored.
        """
        sql = (
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%'"
        )
        scratch = _fresh_schema()
        try:
            want = {(r[0], r[1]): (r[2], r[3]) for r in scratch.execute(sql)}
        finally:
            scratch.close()
        have = {(r[0], r[1]): (r[2], r[3]) for r in await self._rows(sql)}
        # A planted trigger or view is the likelier lie: name it before a renamed table.
        for key in sorted(have.keys() - want.keys(), key=lambda k: (k[0] not in _PLANTED, k)):
            return f"{key[0]} {key[1]} is not part of ircmd's schema (added outside ircmd)"
        for key in sorted(want.keys() - have.keys()):
            return f"{key[0]} {key[1]} is missing from the schema (dropped outside ircmd)"
        for key in sorted(want.keys()):
            if want[key] != have[key]:
                return f"{key[0]} {key[1]} differs from ircmd's schema (altered outside ircmd)"
        return None

    async def _compare_projections(self, events: list[Event]) -> str | None:
        scratch = _fresh_schema()
        try:
            replay(scratch, events)
            for table in schema.PROJECTION_TABLES:
                want = sorted(scratch.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
                have = sorted(
                    [tuple(r) for r in await self._rows(f"SELECT * FROM {table}")],
                    key=repr,
                )
                if want != have:
                    return f"table {table} does not match the record (edited outside ircmd)"
        finally:
            scratch.close()
        return None

    async def backup(self, dest: str | Path) -> Path:
        """A consistent copy through SQLite's online backup, safe while others write."""
        dest = Path(dest).expanduser()
        if dest.exists():
            raise InvalidInput(f"{dest} already exists; choose a new file")
        try:
            private.make_dirs(dest.parent)
            private.create_file(dest)
        except OSError as e:
            raise StorageError(f"cannot create {dest}: {e.strerror}") from None
        async with self._read():
            target = sqlite3.connect(dest)
            try:
                await self._db.backup(target)
            finally:
                target.close()
        return dest

    # ---------------------------------------------------------- row loading

    async def _incident_row(self, n: int) -> Incident:
        rows = await self._rows(f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?", (n,))
        if not rows:
            raise NotFound(f"no incident {incident_key(n)}")
        return _incident(rows[0])

    async def _action(self, action_id: int) -> Action:
        rows = await self._rows(f"SELECT {_ACTION_COLUMNS} FROM actions WHERE id = ?", (action_id,))
        if not rows:
            raise NotFound(f"no action {action_key(action_id)}")
        return _action(rows[0])

    async def _load(self, n: int) -> IncidentState:
        inc = await self._incident_row(n)
        roles = [
            Assignment(role=Role(r[0]), person=r[1], assigned_at=from_ts(r[2]))
            for r in await self._rows(
                "SELECT role, person, assigned_at FROM roles WHERE incident_id = ?"
                " ORDER BY assigned_at, person",
                (n,),
            )
        ]
        checklist = [
            ChecklistItem(
                n=r[0],
                phase=Phase(r[1]),
                text=r[2],
                done=bool(r[3]),
                done_by=r[4],
                done_at=_opt_ts(r[5]),
                assignee=r[6],
                added_by=r[7],
                added_at=from_ts(r[8]),
            )
            for r in await self._rows(
                "SELECT n, phase, text, done, done_by, done_at, assignee, added_by, added_at"
                " FROM checklist WHERE incident_id = ? ORDER BY n",
                (n,),
            )
        ]
        updates = [
            CommsUpdate(
                event_id=r[0],
                audience=Audience(r[1]),
                channel=r[2],
                text=r[3],
                sent_at=from_ts(r[4]),
                sent_by=r[5],
                final=bool(r[6]),
            )
            for r in await self._rows(
                "SELECT event_id, audience, channel, text, sent_at, sent_by, final FROM updates"
                " WHERE incident_id = ? ORDER BY sent_at, event_id",
                (n,),
            )
        ]
        notifications = [
            Notification(who=r[0], notified_at=from_ts(r[1]), notified_by=r[2])
            for r in await self._rows(
                "SELECT who, notified_at, notified_by FROM notifications WHERE incident_id = ?"
                " ORDER BY notified_at",
                (n,),
            )
        ]
        transfers: dict[int, list[CustodyTransfer]] = {}
        for r in await self._rows(
            "SELECT n, from_person, to_person, reason, at, by FROM custody WHERE incident_id = ?"
            " ORDER BY event_id",
            (n,),
        ):
            transfers.setdefault(r[0], []).append(
                CustodyTransfer(
                    from_person=r[1],
                    to_person=r[2],
                    reason=r[3],
                    at=from_ts(r[4]),
                    by=r[5],
                )
            )
        amendments: dict[int, list[str]] = {}
        for r in await self._rows(
            "SELECT n, text FROM evidence_amendments WHERE incident_id = ? ORDER BY event_id",
            (n,),
        ):
            amendments.setdefault(r[0], []).append(r[1])
        evidence = [
            Evidence(
                n=r[0],
                description=r[1],
                location=r[2],
                sha256=r[3],
                filename=r[4],
                collected_by=r[5],
                collected_at=from_ts(r[6]),
                custodian=r[7],
                transfers=tuple(transfers.get(r[0], ())),
                amendments=tuple(amendments.get(r[0], ())),
            )
            for r in await self._rows(
                "SELECT n, description, location, sha256, filename, collected_by, collected_at,"
                " custodian FROM evidence WHERE incident_id = ? ORDER BY n",
                (n,),
            )
        ]
        review_rows = await self._rows(
            "SELECT summary, root_cause, contributing_factors, whys, went_well, went_poorly,"
            " lessons, updated_at, updated_by FROM review WHERE incident_id = ?",
            (n,),
        )
        review = Review()
        if review_rows:
            r = review_rows[0]
            review = Review(
                summary=r[0],
                root_cause=r[1],
                contributing_factors=r[2],
                whys=tuple(json.loads(r[3])),
                went_well=r[4],
                went_poorly=r[5],
                lessons=r[6],
                updated_at=_opt_ts(r[7]),
                updated_by=r[8],
            )
        actions = [
            _action(r)
            for r in await self._rows(
                f"SELECT {_ACTION_COLUMNS} FROM actions WHERE incident_id = ? ORDER BY id",
                (n,),
            )
        ]
        playbooks = [
            AppliedPlaybook(name=r[0], required_roles=tuple(Role(x) for x in json.loads(r[1])))
            for r in await self._rows(
                "SELECT name, required_roles FROM playbooks_applied WHERE incident_id = ?"
                " ORDER BY applied_at",
                (n,),
            )
        ]
        return IncidentState(
            incident=inc,
            roles=tuple(roles),
            checklist=tuple(checklist),
            updates=tuple(updates),
            notifications=tuple(notifications),
            evidence=tuple(evidence),
            review=review,
            actions=tuple(actions),
            playbooks=tuple(playbooks),
        )


_INCIDENT_COLUMNS = (
    "id, title, severity, status, type, impact, urgency, summary, declared_at, declared_by,"
    " detected_at, started_at, resolved_at, updated_at, last_event_id"
)

_ACTION_COLUMNS = (
    "id, incident_id, title, type, owner, due, review_date, status, reason, verification,"
    " closure_evidence, created_at, updated_at"
)


def _incident(r: sqlite3.Row | tuple[Any, ...]) -> Incident:
    return Incident(
        id=r[0],
        title=r[1],
        severity=Severity(r[2]),
        status=Status(r[3]),
        type=r[4],
        impact=Level(r[5]) if r[5] else None,
        urgency=Level(r[6]) if r[6] else None,
        summary=r[7],
        declared_at=from_ts(r[8]),
        declared_by=r[9],
        detected_at=_opt_ts(r[10]),
        started_at=_opt_ts(r[11]),
        resolved_at=_opt_ts(r[12]),
        updated_at=from_ts(r[13]),
        last_event_id=r[14],
    )


def _action(r: sqlite3.Row | tuple[Any, ...]) -> Action:
    return Action(
        id=r[0],
        incident_id=r[1],
        title=r[2],
        type=ActionType(r[3]),
        owner=r[4],
        due=r[5],
        review_date=r[6],
        status=ActionStatus(r[7]),
        reason=r[8],
        verification=r[9],
        closure_evidence=r[10],
        created_at=from_ts(r[11]),
        updated_at=from_ts(r[12]),
    )


def _check_incident(conn: sqlite3.Connection, n: int, writable: bool) -> None:
    row = conn.execute("SELECT status FROM incidents WHERE id = ?", (n,)).fetchone()
    if row is None:
        raise NotFound(f"no incident {incident_key(n)}")
    if writable and row[0] == Status.CLOSED:
        raise RuleViolation(
            f"{incident_key(n)} is closed: re-open it first by setting an earlier status"
            " with a reason"
        )


def append_event(
    conn: sqlite3.Connection,
    incident_id: int | None,
    kind: Kind,
    actor: str,
    text: str,
    data: dict[str, Any],
    occurred: datetime,
    now: datetime,
) -> Event:
    """Chain one event after the current head and apply its projection statements.

    Inside a write transaction only. Public so that bulk loaders (bench/seed.py)
    write exactly what the Store writes.
    """
    head = conn.execute("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
    prev_id, prev_hash = (head[0], head[1]) if head else (0, GENESIS)
    fields = (
        prev_id + 1,
        incident_id,
        ts(occurred),
        ts(now),
        actor,
        kind.value,
        text,
        encode_data(data),
    )
    digest = event_hash(prev_hash, *fields)
    conn.execute(
        f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*fields, prev_hash, digest),
    )
    ev = Event(
        id=prev_id + 1,
        incident_id=incident_id,
        occurred_at=occurred,
        recorded_at=now,
        actor=actor,
        kind=kind,
        text=text,
        data=data,
        prev_hash=prev_hash,
        hash=digest,
    )
    for sql, params in statements(ev):
        conn.execute(sql, params)
    return ev


_PLANTED = ("trigger", "view")


def _fresh_schema() -> sqlite3.Connection:
    """An in-memory database holding exactly the schema the migrations create."""
    scratch = sqlite3.connect(":memory:")
    for step in schema.MIGRATIONS:
        for stmt in _split_sql(step):
            scratch.execute(stmt)
    return scratch


def _split_sql(script: str) -> list[str]:
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


def _rollback(conn: sqlite3.Connection) -> None:
    """End the open transaction, if SQLite has not already (a failed COMMIT may have)."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _file_id(path: Path) -> tuple[int, int]:
    """The identity of the file at `path`: its device and inode."""
    st = os.stat(path)
    return st.st_dev, st.st_ino


def _check_exists(path: Path) -> None:
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
def _sqlite_errors(path: Path, timeout: float) -> Iterator[None]:
    """Turn SQLite's exceptions into one-line errors a person can act on."""
    try:
        yield
    except sqlite3.Error as e:
        msg = str(e)
        low = msg.lower()
        if "locked" in low or "busy" in low:
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
