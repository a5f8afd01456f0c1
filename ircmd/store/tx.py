"""`Tx`: one write transaction, and the code that opens, checks and ends it.

A verb is a plain synchronous function over a `Tx` (see `verbs/`). `transaction`
runs one whole: BEGIN IMMEDIATE (a deferred read that upgrades to a write fails at
once with "database is locked", whatever the timeout), the check that the file at
the path is still the one the connection opened (`still_at_path`), the verb, which
checks the rules against the state read inside the transaction and appends its
event(s) to the hash chain with their projections, then COMMIT; any failure rolls
back. The checks every verb shares live here once: the actor's name (`verb`), text
and time limits and the closed incident (`Tx` methods).
"""

from __future__ import annotations

import functools
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar

from .. import rules
from ..domain import MAX_TEXT_BYTES, DatabaseReplaced, Kind, StorageError
from ..hooks import outbox
from .dialect import Dialect
from .projections import portable_statements
from .reader import Connection, IncidentRef, Reader
from .record import GENESIS, Chained, encode_data, event_hash, from_ts, ts

if TYPE_CHECKING:
    from ..models import Event, IncidentState

P = ParamSpec("P")
T = TypeVar("T")
Clock = Callable[[], datetime]


class Tx(Reader):
    """A write transaction in progress, with the settings its checks need."""

    def __init__(
        self,
        conn: Connection,
        dialect: Dialect,
        clock: Clock,
        *,
        max_text: int = MAX_TEXT_BYTES,
        force_time: bool = False,
    ) -> None:
        super().__init__(conn, dialect)
        self.clock = clock
        self.max_text = max_text  # IRCMD_MAX_TEXT, in bytes of UTF-8
        self.force_time = force_time  # record times `rules.check_time` would refuse

    def text(self, text: str, what: str = "text") -> str:
        return rules.check_text(text, what, self.max_text)

    def check_at(self, at: datetime | None, what: str) -> None:
        """A time given for something other than an event (detection, impact start)."""
        if at is not None and not self.force_time:
            rules.check_time(at, self.clock(), what=what)

    def state(self, ref: IncidentRef, *, writable: bool = True) -> IncidentState:
        """The incident as it stands; by default one that may still change (not closed)."""
        from . import queries  # with the models: a one-shot `ircmd log` needs neither

        return queries.load(self, self.incident_id(ref, writable=writable))

    def append(
        self,
        incident_id: int | None,
        kind: Kind,
        actor: str,
        text: str = "",
        data: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> Event:
        """`chain`, as the model the verbs return."""
        return self.chain(incident_id, kind, actor, text, data, at).event()

    def chain(
        self,
        incident_id: int | None,
        kind: Kind,
        actor: str,
        text: str = "",
        data: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> Chained:
        """Append one event to the chain and apply its projections, after the one
        check of its stated time (`rules.check_time`) against the incident as it stands;
        queue its deliveries to the hooks that want it (`outbox.enqueue`) in the same
        transaction. The event comes back plain (`record.Chained`): see `verbs.entries`."""
        now = self.clock()
        if at is not None and not self.force_time:
            origin = (
                self.scalar(
                    "SELECT coalesce(started_at, detected_at, declared_at) FROM incidents"
                    " WHERE id = ?",
                    (incident_id,),
                )
                if incident_id is not None
                else None
            )
            rules.check_time(at, now, from_ts(origin) if origin else None)
        ev = append_event(self, incident_id, kind, actor, text, data or {}, at or now, now)
        outbox.enqueue(self, ev.id, incident_id, kind.value, ev.data, now)
        return ev


def verb(fn: Callable[Concatenate[Tx, P], T]) -> Callable[Concatenate[Tx, P], T]:
    """Mark a verb: its `actor` keyword is checked and normalised (`rules.check_name`)
    before the body runs, for every verb alike."""

    @functools.wraps(fn)
    def checked(tx: Tx, /, *args: P.args, **kw: P.kwargs) -> T:
        kw["actor"] = rules.check_name(str(kw["actor"]), "user name")
        return fn(tx, *args, **kw)

    return checked


@dataclass(frozen=True)
class Target:
    """The file a connection writes to: its path, and the identity it had when opened."""

    path: Path
    file_id: tuple[int, int] | None


@dataclass(frozen=True)
class Write(Generic[T]):
    """One write transaction to run (`Face._write_job`): called on a connection, it is
    `transaction` whole; the Store on SQLite runs its parts itself (`connection.write`)."""

    dialect: Dialect
    work: Callable[[Connection], T]
    timeout: float
    target: Target | None

    def __call__(self, conn: Connection) -> T:
        return transaction(conn, self.dialect, self.work, timeout=self.timeout, target=self.target)


def transaction(
    conn: Connection,
    dialect: Dialect,
    work: Callable[[Connection], T],
    *,
    timeout: float,
    target: Target | None = None,
) -> T:
    """Run `work` inside one write transaction on `conn` (see the module's docstring);
    `target` is the file to check (None: a database with no file, in memory)."""
    begin(conn, dialect, timeout)
    return finish(conn, work, target)


def finish(conn: Connection, work: Callable[[Connection], T], target: Target | None) -> T:
    """`transaction` from the moment the write lock is held: the path check, `work`,
    COMMIT; any failure rolls back. Apart from `begin` so that a caller may wait for
    the lock its own way (`Store` on SQLite: `lock_waits`)."""
    try:
        if target is not None:
            still_at_path(target)
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        # A COMMIT that fails (disk full) may leave the transaction open; roll it back
        # so that a retry starts clean.
        rollback(conn)
        raise
    return result


def begin(conn: Connection, dialect: Dialect, timeout: float) -> None:
    """Take the write lock, retried until the timeout.

    SQLite's own busy handler backs off to 100 ms sleeps, so under many writers a
    waiting process keeps losing the lock to ones that arrive later and fails after
    the timeout with work still queued. Bounding its wait (BUSY_STEP_MS) and
    retrying in short jittered steps keeps every writer in the race.
    """
    deadline = time.monotonic() + timeout
    for pause in pauses():
        if take_lock(conn, dialect, deadline):
            return
        time.sleep(pause)


def take_lock(conn: Connection, dialect: Dialect, deadline: float) -> bool:
    """One attempt at the write lock: True once held, False while another writer
    holds it, and that writer's error itself once `deadline` (time.monotonic) has
    passed, or any other error at once."""
    try:
        conn.execute(dialect.begin_write)
        return True
    except Exception as e:
        # PostgreSQL's BEGIN has run when the lock times out: end that aborted
        # transaction, so a retry (or the next write) starts clean.
        rollback(conn)
        if not dialect.busy(e) or time.monotonic() >= deadline:
            raise
    return False


def pauses() -> Iterator[float]:
    """`begin`'s sleeps between attempts: jittered, so that waiting writers do not
    retry in step, and short (at most 10 ms), so that none falls behind."""
    pause = 0.001
    while True:
        yield random.uniform(0, pause)
        pause = min(pause * 2, 0.01)


def still_at_path(target: Target) -> None:
    """Refuse to write if the file at the path is not the one the connection opened
    (restored, replaced or deleted since).

    SQLite writes through the open file handle, so without this check a write after
    a restore lands in the file moved aside, and one after an unlink in a file
    nobody can open again, and both report success. Checked after BEGIN IMMEDIATE:
    `ircmd restore` swaps the file while it holds that lock, so no swap can slip in
    between this check and COMMIT.
    """
    try:
        st = os.stat(target.path)
        now: tuple[int, int] | None = (st.st_dev, st.st_ino)
    except FileNotFoundError:
        now = None
    except OSError as e:
        raise StorageError(
            f"cannot check {target.path}: {e.strerror}; nothing was written"
        ) from None
    if now != target.file_id:
        gone = "deleted" if now is None else "replaced by another file"
        raise DatabaseReplaced(
            f"{target.path} was {gone} after this process opened it; nothing was"
            " written (run the command again, or restart the screen, to use the file"
            " now at that path)"
        )


def rollback(conn: Connection) -> None:
    """End the open transaction, if the engine has not already (a failed COMMIT may have)."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def append_event(
    db: Reader,
    incident_id: int | None,
    kind: Kind,
    actor: str,
    text: str,
    data: dict[str, Any],
    occurred: datetime,
    now: datetime,
) -> Chained:
    """Chain one event after the current head and apply its projection statements.

    Inside a write transaction only; the statements are the dialect's. Only the
    id and the hash depend on the head, so the row is encoded once, first.
    Public so that bulk loaders (bench/seed.py) write exactly what the Store writes.
    """
    row = (incident_id, ts(occurred), ts(now), actor, kind.value, text, encode_data(data))
    heads = db.rows(db.dialect.chain_head)
    prev_id, prev_hash = (heads[0][0], heads[0][1]) if heads else (0, GENESIS)
    digest = event_hash(prev_hash, prev_id + 1, *row)
    db.execute(db.dialect.insert_event, (prev_id + 1, *row, prev_hash, digest))
    ev = Chained(
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
    for sql, params in portable_statements(ev, db.dialect):
        db.execute(sql, params)
    return ev
