"""`ircmd migrate`: move a SQLite record to an empty PostgreSQL database, whole.

The record moves as it is: every event row with its id, its times, its text and
its hashes byte for byte, so the chain's head on PostgreSQL is the head the
SQLite file had and every anchor written for the file still names it. The steps:

1. The source is read in one snapshot (a read transaction held to the end) and its
   chain is walked first (`verify.link_fault`, the test `verify` makes of each link),
   with SQLite's own integrity check and the anchors of the file: a broken source
   is refused, naming the fault, before anything is written anywhere.
2. The target is connected (the schema is created in an empty database) and, in one
   transaction under the write lock every writer takes (`begin_write`), must hold
   no record yet: no event, incident, projection or outbox row.
3. The events are copied with COPY, and meanwhile replayed (`projections.statements`,
   the shared replay) into an in-memory SQLite schema: the projections are rebuilt
   from the events alone, never read from the source's tables (which a person with
   the sqlite3 shell could have edited), and then COPY'd in too.
4. The outbox's routing and its unfinished deliveries are copied (see `_outbox`);
   `presence` (who has a screen open) is session state and is not.
5. Before the commit, the shared verify (`verify.check`) runs on what the transaction
   wrote: chain, schema and a fresh replay compared with the tables; its head must
   be the source's. A copy that fails it is rolled back: the target holds no record.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..domain import InvalidInput, StorageError
from ..models import Head, VerifyResult
from . import schema
from .connection import fresh_schema, open_sqlite, sqlite_errors
from .dialect import SQLITE
from .postgres import POSTGRESQL, SERVICE_ROLE, Connection, connect, pg_errors, redact
from .projections import statements
from .reader import Reader
from .record import EVENT_COLUMNS, GENESIS, Chained, chained_from_row
from .verify import check, damage, link_fault

#: The outbox's tables (`hooks.outbox`): neither record nor projection.
OUTBOX = ("hook_routes", "contact_routes", "deliveries")
#: Rows per progress report.
PROGRESS_EVERY = 10_000

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Migrated:
    """What `migrate` did: the events copied, the deliveries still to be sent that
    came along, how many anchors of the source hold, and the target's verify."""

    events: int
    head: Head
    deliveries: int
    anchors: int
    result: VerifyResult


def migrate(
    source: Path,
    url: str,
    *,
    timeout: float,
    anchor_log: Path | None = None,
    progress: Progress | None = None,
) -> Migrated:
    """Copy the SQLite record at `source` into the empty PostgreSQL database `url`
    (see the module's docstring); raise a one-line error and write nothing on
    failure."""
    source = source.expanduser()
    where = redact(url)
    src = open_sqlite(source, read_only=True, must_exist=True, timeout=timeout)
    try:
        with sqlite_errors(source, timeout):
            src.row_factory = None
            src.execute("BEGIN")  # one snapshot: the walk and the copy read the same rows
            head = _check_source(src, source)
            anchors = _check_anchors(src, source, anchor_log, head)
            target = connect(url, read_only=False, timeout=timeout, create=True)
            try:
                with pg_errors(url, timeout):
                    deliveries, result = _copy(src, target, where, head, progress)
            finally:
                target.close()
    finally:
        src.close()
    return Migrated(head.count, head, deliveries, anchors, result)


# ------------------------------------------------------------------ the source


def _events(src: sqlite3.Connection) -> Iterator[tuple[Any, ...]]:
    with closing(src.execute(f"SELECT {EVENT_COLUMNS} FROM events ORDER BY id")) as cur:
        while rows := cur.fetchmany(2000):
            yield from rows


def _check_source(src: sqlite3.Connection, source: Path) -> Head:
    """The source's head, once its file and its whole chain check; else refuse."""
    fault = damage(Reader(src, SQLITE))
    prev, last_id = GENESIS, 0
    if fault is None:
        for row in _events(src):
            fault = link_fault(row, prev, last_id)
            if fault is not None:
                break
            prev, last_id = row[9], row[0]
    if fault is not None:
        raise StorageError(f"{source} fails verification ({fault}): nothing migrated")
    if last_id == 0:
        raise InvalidInput(f"{source} holds no events: nothing to migrate")
    return Head(count=last_id, id=last_id, hash=prev)


def _check_anchors(src: sqlite3.Connection, source: Path, log: Path | None, head: Head) -> int:
    """How many anchors of the source hold (each one's head event is still the one
    anchored, and the record is no shorter); the source is refused at the first that
    does not. Their signatures are `ircmd verify`'s to check: the lines themselves
    are not moved, and the head they name is copied unchanged."""
    if log is None:
        return 0
    from ..anchor import disagreement, read_all

    held = 0
    for number, anchor in read_all(log, source):
        why: str | None
        if anchor is None:
            why = f"line {number} of {log} is not an anchor"
        else:
            found = src.execute("SELECT hash FROM events WHERE id = ?", (anchor.head_id,))
            row = found.fetchone()
            why = disagreement(anchor, None if row is None else str(row[0]))
            if why is None and head.count < anchor.count:
                why = (
                    f"the record holds {head.count} events, fewer than the {anchor.count} anchored"
                )
            if why is not None:
                why = f"{anchor.describe(number)} does not hold: {why}"
        if why is not None:
            raise StorageError(f"{source} fails its anchors ({why}): nothing migrated")
        held += 1
    return held


def _chained(row: tuple[Any, ...]) -> Chained:
    """An event row as the replay takes it (no model: 100,000 of them are built)."""
    try:
        return chained_from_row(row)
    except (ValueError, TypeError) as e:
        raise StorageError(f"event #{row[0]} cannot be read ({e}): nothing migrated") from None


# ------------------------------------------------------------------ the target


def _held(target: Connection) -> tuple[str, int] | None:
    """The first table of the target that holds rows, and how many; None if empty."""
    for table in ("events", *schema.PROJECTION_TABLES, *OUTBOX):
        n = int(target.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        if n:
            return table, n
    return None


def _check_identity(target: Connection, where: str) -> None:
    """Under `identity = "database"` an event must name the login that writes it, but
    the copied events name the people who wrote them: only a service login (a member
    of SERVICE_ROLE) may copy them."""
    identity, user, service = target.execute(
        "SELECT (SELECT value FROM ircmd_meta WHERE key = 'identity'), session_user,"
        " EXISTS (SELECT 1 FROM pg_auth_members m"
        " JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member"
        f" WHERE g.rolname = '{SERVICE_ROLE}' AND u.rolname = session_user)"
    ).fetchone()  # the test the events_identity trigger makes
    if identity == "database" and not service:
        raise StorageError(
            f"{where} records each event as its database login (identity = database):"
            f" run migrate as a member of {SERVICE_ROLE}, not {user}, as the copied events"
            " name the people who wrote them"
        )


def _has_nul(values: Sequence[Any]) -> bool:
    """PostgreSQL's text cannot hold a NUL character, which SQLite's can."""
    return any(isinstance(v, str) and "\x00" in v for v in values)


def _nul_refusal(what: str) -> InvalidInput:
    return InvalidInput(
        f"{what} holds a NUL character, which PostgreSQL cannot store: nothing migrated"
    )


def _copy(
    src: sqlite3.Connection,
    target: Connection,
    where: str,
    head: Head,
    progress: Progress | None,
) -> tuple[int, VerifyResult]:
    """The copy, checked, in one transaction under the write lock: the deliveries
    copied, and the verify of the copy."""
    target.execute(POSTGRESQL.begin_write)
    try:
        held = _held(target)
        if held is not None:
            table, n = held
            raise InvalidInput(
                f"{where} already holds a record ({n} rows in {table}):"
                " migrate only into an empty database"
            )
        _check_identity(target, where)
        scratch = fresh_schema()
        try:
            _copy_events(src, target, scratch, head, progress)
            for table in schema.PROJECTION_TABLES:
                _copy_table(scratch.execute(f"SELECT * FROM {table}"), target, table)
        finally:
            scratch.close()
        deliveries = _outbox(src, target)
        # The shared verify of what this transaction wrote, before it is committed: the
        # chain, the schema, the tables against a fresh replay, and the source's head.
        result = check(Reader(target, POSTGRESQL))
        if not result.ok:
            raise StorageError(
                f"the copy fails verification on {where} ({result.message}): nothing migrated"
            )
        if result.head != head:
            raise StorageError(
                f"the copy on {where} does not end where the source does: nothing migrated"
            )
        target.execute("COMMIT")
    except BaseException:
        with suppress(Exception):
            target.execute("ROLLBACK")
        raise
    return deliveries, result


def _copy_events(
    src: sqlite3.Connection,
    target: Connection,
    scratch: sqlite3.Connection,
    head: Head,
    progress: Progress | None,
) -> None:
    """COPY the event rows as they are stored, replaying each into `scratch`. They
    are the rows `_check_source` walked (the same read snapshot): each is checked to
    follow the one before and the last to be the head walked, and `verify` hashes
    every one again on the target."""
    prev, last_id = GENESIS, 0
    with (
        target.raw.cursor() as cur,
        cur.copy(f"COPY events ({EVENT_COLUMNS}) FROM STDIN") as copy,
    ):
        for row in _events(src):
            if row[0] != last_id + 1 or row[8] != prev:  # cannot happen in one snapshot
                raise StorageError(f"the source changed during the copy (at event #{row[0]})")
            if _has_nul(row):
                raise _nul_refusal(f"event #{row[0]}")
            copy.write_row(row)
            for sql, params in statements(_chained(row)):
                scratch.execute(sql, params)
            prev, last_id = row[9], row[0]
            if progress is not None and last_id % PROGRESS_EVERY == 0:
                progress(last_id, head.count)
    if (last_id, prev) != (head.id, head.hash):
        raise StorageError("the source changed during the copy: nothing migrated")
    if progress is not None:
        progress(last_id, head.count)


def _copy_table(rows: sqlite3.Cursor, target: Connection, table: str) -> int:
    """COPY every row of `rows` (a SELECT * of `table`) into `table`; how many."""
    columns = ", ".join(d[0] for d in rows.description)
    n = 0
    with (
        closing(rows),
        target.raw.cursor() as cur,
        cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            if _has_nul(row):
                raise _nul_refusal(f"a row of {table}")
            copy.write_row(row)
            n += 1
    return n


def _outbox(src: sqlite3.Connection, target: Connection) -> int:
    """The outbox as the deliverer will find it on the target; the deliveries copied.

    The routing (`hook_routes`, `contact_routes`: names and filters, never a secret)
    comes along, so writers on the target queue deliveries before the deliverer has
    started there (it rewrites the routing when it does). Deliveries still to be
    sent (queued, or leased by a deliverer of the source: queued again, unleased)
    and those that failed (`ircmd deliveries retry` may queue them again) come with
    their ids; sent ones do not: their outcome is an event, in the record already."""
    for table in OUTBOX[:2]:
        _copy_table(src.execute(f"SELECT * FROM {table}"), target, table)
    rows = src.execute(
        "SELECT id, event_id, incident_id, hook, address,"
        " CASE state WHEN 'sending' THEN 'queued' ELSE state END AS state,"
        " attempts, next_at,"
        " CASE state WHEN 'sending' THEN NULL ELSE lease_owner END AS lease_owner,"
        " CASE state WHEN 'sending' THEN NULL ELSE lease_until END AS lease_until,"
        " queued_at, last_status, last_reason"
        " FROM deliveries WHERE state <> 'sent' ORDER BY id"
    )
    n = _copy_table(rows, target, "deliveries")
    # Should `deliveries.id` draw from a sequence, it must start past the copied ids.
    seq = target.execute("SELECT pg_get_serial_sequence('deliveries', 'id')").fetchone()[0]
    if seq is not None and n:
        target.raw.execute("SELECT setval(%s, (SELECT max(id) FROM deliveries))", (seq,))
    return n
