"""The Store: the async face of the record.

Each verb (`verbs/`) is a plain synchronous function over one write transaction
(`tx.Tx`); the Store runs it whole, BEGIN IMMEDIATE to COMMIT, in one piece, so the
write lock is held for the time the work takes and not for a round trip through
the event loop per statement. On SQLite that piece runs on the event loop's own
thread, which waits for the lock without blocking (`connection.write`); reads, and
every call on PostgreSQL, take one hop to the connection's thread. A per-process
asyncio lock keeps coroutines sharing the one connection out of each other's
transactions. A caller cancelled while its transaction runs does not stop it: the
transaction is never awaited in the middle (on PostgreSQL the thread finishes it),
so it ends in COMMIT or ROLLBACK and never leaves the lock held.
"""

from __future__ import annotations

import asyncio
from collections.abc import (
    AsyncGenerator,
    Callable,
    Collection,
    Coroutine,
    Sequence,
)
from contextlib import aclosing
from datetime import datetime, timedelta
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Generic,
    ParamSpec,
    Protocol,
    Self,
    TypeVar,
    overload,
)

import aiosqlite

from ..hooks import outbox
from ..models import (
    Action,
    Event,
    Head,
    Incident,
    IncidentState,
    Kind,
    Presence,
    VerifyResult,
)
from . import presence, queries, verify
from .connection import DEFAULT_TIMEOUT, busy_wait, call, open_db, sqlite_errors, write
from .facade import Face, utc_now
from .presence import PRESENCE_TIMEOUT
from .reader import IncidentRef, Reader, hash_of
from .record import Chained, ts
from .rows import event_from_row
from .tx import Clock, Tx, Write
from .verbs import (
    actions,
    alerts,
    checklist,
    comms,
    deliveries,
    entries,
    evidence,
    incident,
    review,
)

if TYPE_CHECKING:  # the status page's module, with its HTML, on first use
    from ..statuspage import PublicIncident

__all__ = ["DEFAULT_TIMEOUT", "PRESENCE_TIMEOUT", "Clock", "Store", "utc_now"]

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")


class _Verb(Generic[P, R, T]):
    """A verb as a Store method: `store.assign(ref, role, person, actor=...)` runs
    `verbs.incident.assign(tx, ref, role, person, actor=...)` in one transaction,
    with the verb's own signature and docstring (`_verb`).

    `then` turns the verb's result into what the Store returns after the transaction
    has committed: `store.log` chains the entry under the write lock and builds its
    record afterwards, so other writers do not wait for it (nor, in a fresh process,
    for `models` to be imported, some 10 ms)."""

    def __init__(self, fn: Callable[Concatenate[Tx, P], R], then: Callable[[R], T]) -> None:
        self.fn = fn
        self.then = then
        self.__doc__ = fn.__doc__

    @overload
    def __get__(self, store: None, owner: type[Store]) -> Self: ...
    @overload
    def __get__(self, store: Store, owner: type[Store]) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(
        self, store: Store | None, owner: type[Store]
    ) -> Self | Callable[P, Coroutine[Any, Any, T]]:
        if store is None:
            return self
        fn, then, run = self.fn, self.then, store._run

        async def method(*args: P.args, **kw: P.kwargs) -> T:
            return then(await run(fn, *args, **kw))

        return method


def _as_is(result: T) -> T:
    return result


def _verb(fn: Callable[Concatenate[Tx, P], T]) -> _Verb[P, T, T]:
    """`fn` as a Store method returning what it returns."""
    return _Verb(fn, _as_is)


class Backend(Protocol):
    """One open connection as the Store uses it: SQLite's (`SqliteBackend`, below) or
    PostgreSQL's (`pgstore.PgBackend`). Everything else the Store does is shared."""

    async def call(self, job: Callable[[Any], T]) -> T:
        """`job(connection)` in one hop to the connection's thread, errors in one line."""
        ...

    async def write(self, job: Write[T]) -> T:
        """The write transaction `job`, errors in one line."""
        ...

    def chunks(self, sql: str, params: Sequence[Any], size: int) -> AsyncGenerator[list[Any]]:
        """The rows of one query, `size` at a time, read through one cursor."""
        ...

    async def backup(self, target: Path) -> None:
        """A consistent copy of the database into the new file `target`."""
        ...

    def version(self, r: Reader) -> int:
        """A number that changes when another connection commits (the feed's check)."""
        ...

    async def close(self) -> None: ...


class SqliteBackend:
    """The aiosqlite connection to one SQLite file."""

    def __init__(self, db: aiosqlite.Connection, path: Path, timeout: float) -> None:
        self.db = db
        self._path = path
        self._timeout = timeout
        # Does the connection's busy handler wait (as reads want) or not (as `write`
        # needs; `connection.busy_wait`)? Switched only when a read follows a write or
        # a write a read: a PRAGMA before and after every write cost Store/raw 0.08 in
        # bench/writes (0.43 against 0.51, median of 4 rounds of 20x300).
        self._waits = True

    def _reading(self, job: Callable[[Any], T]) -> Callable[[Any], T]:
        """`job`, after turning the busy handler back on if a write turned it off."""
        if self._waits:
            return job
        self._waits = True

        def switched(conn: Any) -> T:
            busy_wait(conn, True)
            return job(conn)

        return switched

    async def call(self, job: Callable[[Any], T]) -> T:
        with sqlite_errors(self._path, self._timeout):
            return await call(self.db, self._reading(job))

    async def write(self, job: Write[T]) -> T:
        """On the event loop's thread, waiting for the lock there (`connection.write`)."""
        switch, self._waits = self._waits, False
        with sqlite_errors(self._path, self._timeout):
            return await write(self.db, job, switch=switch)

    async def chunks(self, sql: str, params: Sequence[Any], size: int) -> AsyncGenerator[list[Any]]:
        with sqlite_errors(self._path, self._timeout):
            if not self._waits:
                await call(self.db, self._reading(lambda conn: None))
            async with self.db.execute(sql, params) as cur:
                while rows := await cur.fetchmany(size):
                    yield list(rows)

    async def backup(self, target: Path) -> None:
        """Through SQLite's online backup, safe while others write."""
        await self.call(lambda conn: verify.backup(conn, target))

    def version(self, r: Reader) -> int:
        return queries.data_version(r)  # PRAGMA data_version

    async def close(self) -> None:
        await self.db.close()


class Store(Face):
    """The incident record, in a SQLite file or a PostgreSQL database. Open with
    `await Store.open(path or URL)`."""

    def __init__(
        self,
        backend: Backend,
        path: Path,
        read_only: bool,
        timeout: float,
        clock: Clock,
        file_id: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(path, read_only, timeout, clock, file_id)
        self._backend = backend
        self._lock = asyncio.Lock()

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
        """Open (read-write: create and migrate) the database at `path`; see
        `connection.open_db` for read-only media, empty files and full disks. A
        PostgreSQL URL opens that database (`pgstore.PgBackend`); a command that only
        reads (`must_exist`) never creates anything on either."""
        from .postgres import is_url

        if is_url(path):
            return await cls._postgresql(
                str(path), read_only=read_only, must_exist=must_exist, timeout=timeout, clock=clock
            )
        path = Path(path).expanduser()
        opened = await open_db(path, read_only=read_only, must_exist=must_exist, timeout=timeout)
        backend = SqliteBackend(opened.db, path, timeout)
        return cls(backend, path, read_only, timeout, clock, opened.file_id)

    @classmethod
    async def _postgresql(
        cls, url: str, *, read_only: bool, must_exist: bool, timeout: float, clock: Clock
    ) -> Store:
        from .pgstore import PgBackend
        from .postgres import POSTGRESQL, redact

        backend, standby, db_user = await PgBackend.connect(
            url, read_only=read_only, must_exist=must_exist, timeout=timeout
        )
        # The path is only a name here: nothing on the PostgreSQL side is a file.
        store = cls(backend, Path(redact(url)), read_only or standby, timeout, clock)
        store.dialect = POSTGRESQL
        store.location = url
        store.db_user = db_user
        return store

    async def close(self) -> None:
        await self._backend.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --------------------------------------------------------- the one hop

    async def _call(self, job: Callable[[Any], T]) -> T:
        """`job(connection)` in one hop to the connection's thread, its errors in one line."""
        return await self._backend.call(job)

    async def _run(self, verb: Callable[Concatenate[Tx, P], T], *args: P.args, **kw: P.kwargs) -> T:
        """Run `verb(tx, ...)` in one write transaction (`Backend.write`)."""
        job = self._write_job(verb, *args, **kw)
        async with self._lock:
            return await self._backend.write(job)

    async def _read(
        self, query: Callable[Concatenate[Reader, P], T], *args: P.args, **kw: P.kwargs
    ) -> T:
        """Run `query(reader, ...)` in one hop to the thread."""
        job = self._read_job(query, *args, **kw)
        async with self._lock:
            return await self._call(job)

    # ------------------------------------------------------------ the verbs

    declare = _verb(incident.declare)
    log = _Verb(entries.append_entry, Chained.event)
    log_lines = _verb(incident.log_lines)
    amend = _verb(incident.amend)
    set_severity = _verb(incident.set_severity)
    set_status = _verb(incident.set_status)
    assign = _verb(incident.assign)
    unassign = _verb(incident.unassign)
    retitle = _verb(incident.retitle)
    set_summary = _verb(incident.set_summary)
    mark = _verb(incident.mark)
    set_impact = _verb(incident.set_impact)
    add_item = _verb(checklist.add_item)
    check = _verb(checklist.check)
    skip_item = _verb(checklist.skip_item)
    edit_item = _verb(checklist.edit_item)
    own_item = _verb(checklist.own_item)
    apply_playbook = _verb(checklist.apply_playbook)
    send_update = _verb(comms.send_update)
    notify = _verb(comms.notify)
    unnotify = _verb(comms.unnotify)
    add_evidence = _verb(evidence.add_evidence)
    transfer_evidence = _verb(evidence.transfer_evidence)
    amend_evidence = _verb(evidence.amend_evidence)
    save_review = _verb(review.save_review)
    add_action = _verb(actions.add_action)
    set_action = _verb(actions.set_action)
    retype_action = _verb(actions.retype_action)
    link_action = _verb(actions.link_action)
    ingest_alerts = _verb(alerts.ingest_alerts)
    ingest_batch = _verb(alerts.ingest_batch)
    set_public_title = _verb(alerts.set_public_title)
    record_delivery = _verb(deliveries.record_delivery)
    retry_delivery = _verb(deliveries.retry_delivery)

    # ------------------------------------------------------------ the outbox

    # Writes outside the chain: the deliverer's routing and its leases (`hooks.outbox`).
    set_routes = _verb(outbox.set_routes)
    claim_deliveries = _verb(outbox.claim)
    release_deliveries = _verb(outbox.release)

    async def deliveries(
        self,
        ref: IncidentRef | None = None,
        *,
        failing: bool = False,
        event_ids: Sequence[int] | None = None,
    ) -> list[outbox.DeliveryRow]:
        """Deliveries in id order (`outbox.deliveries`)."""

        def query(r: Reader) -> list[outbox.DeliveryRow]:
            n = r.incident_id(ref) if ref is not None else None
            return outbox.deliveries(r, n, failing=failing, event_ids=event_ids)

        return await self._read(query)

    async def delivery_payloads(self, event_ids: Collection[int]) -> dict[int, dict[str, Any]]:
        return await self._read(outbox.payloads, event_ids)

    async def routes(self) -> list[outbox.Route]:
        return await self._read(outbox.routes)

    async def deliveries_waiting(self) -> int:
        return await self._read(outbox.waiting)

    # -------------------------------------------------------------- presence

    async def heartbeat(
        self, session: str, incident_id: int | None, person: str, host: str
    ) -> None:
        """Say who is looking at what. Session state: no event, no hash."""
        if not self.read_only:
            await self._run(presence.heartbeat, session, incident_id, person, host)

    async def leave(self, session: str) -> None:
        if not self.read_only:
            await self._run(presence.leave, session)

    async def watchers(self, timeout: timedelta) -> list[Presence]:
        """Sessions seen within `timeout`; stale rows (killed sessions) are ignored."""
        return await self._read(presence.watchers, ts(self._clock() - timeout))

    # ----------------------------------------------------------------- reads

    async def list_incidents(self, *, include_closed: bool = False) -> list[Incident]:
        return await self._read(queries.incidents, include_closed=include_closed)

    async def incident(self, ref: IncidentRef) -> Incident:
        return await self._read(lambda r: queries.incident(r, r.incident_id(ref)))

    async def state(self, ref: IncidentRef) -> IncidentState:
        return await self._read(queries.state, ref)

    async def events(
        self,
        ref: IncidentRef | None = None,
        *,
        after_id: int = 0,
        limit: int | None = None,
    ) -> list[Event]:
        """Events in id order, of one incident or all."""
        return await self._read(queries.events, ref, after_id=after_id, limit=limit)

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
        dialect = self.dialect
        async with self._lock:
            n = await self._call(lambda conn: Reader(conn, dialect).incident_id(ref))
            sql, params = queries.event_chunks_sql(n, by_time=by_time, kinds=kinds, upto=upto)
            # Closed here, not left to the garbage collector: a reader that stops early
            # closes this generator, and the cursor must end before the store does.
            async with aclosing(self._backend.chunks(dialect.sql(sql), params, size)) as chunks:
                async for rows in chunks:
                    yield [event_from_row(r) for r in rows]

    async def events_since(self, event_id: int, limit: int | None = None) -> list[Event]:
        """Every event committed after `event_id`: the change feed's query."""
        return await self.events(after_id=event_id, limit=limit)

    async def head(self) -> Head:
        """The chain's newest event and the number of events (`queries.head`)."""
        return await self._read(queries.head)

    async def hash_of(self, event_id: int) -> str | None:
        """The stored hash of event #`event_id`, None if there is no such event."""
        return await self._read(hash_of, event_id)

    async def last_event_id(self) -> int:
        return await self._read(queries.last_event_id)

    async def data_version(self) -> int:
        """Changes whenever another connection commits (PRAGMA data_version; on
        PostgreSQL, where NOTIFY tells the feed of commits, the newest event id)."""
        return await self._read(self._backend.version)

    async def public_incidents(self) -> list[PublicIncident]:
        """What the status page shows (`queries.public_incidents`)."""
        return await self._read(queries.public_incidents)

    async def untriaged(self) -> set[int]:
        """Incidents opened by alerts that no person has triaged yet."""
        return await self._read(queries.untriaged)

    async def action(self, ref: int) -> Action:
        return await self._read(queries.action, ref)

    async def actions(
        self,
        *,
        incident: IncidentRef | None = None,
        owner: str | None = None,
        overdue_at: datetime | None = None,
    ) -> list[Action]:
        """The action log across incidents, optionally filtered."""
        return await self._read(
            queries.actions, incident=incident, owner=owner, overdue_at=overdue_at
        )

    async def verify(self, ref: IncidentRef | None = None) -> VerifyResult:
        """Recompute the hash chain, compare the schema and replay the projections, in
        one read transaction; name the first fault (`verify.verify`)."""
        return await self._read(verify.verify, ref)

    async def backup(self, dest: str | Path) -> Path:
        """A consistent copy, safe while others write: SQLite's online backup, or
        pg_dump's custom format (which `pg_restore` reads)."""
        target = verify.backup_file(Path(dest).expanduser())
        async with self._lock:
            await self._backend.backup(target)
        return target
