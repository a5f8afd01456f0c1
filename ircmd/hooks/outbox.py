"""The outbox: which events each hook wants, the delivery rows queued for them in
the writer's own transaction, and the lease by which a deliverer takes them.

Routing lives in the database and secrets in config. Writers are many processes
of many users, each with its own config directory, so a writer cannot read the
hooks from its own config.toml: the deliverer writes the routing of its hooks
(`set_routes`: names, events and filters, never a URL, token or password) into
`hook_routes` and `contact_routes`, and `enqueue`, called by `Tx.append` after each
event, reads it with one small SELECT and inserts a `deliveries` row per hook that
wants the event. So an event never exists without its deliveries, and a crash
between "recorded" and "sent" loses nothing.

This module is on every writer's path (`ircmd log`): plain SQL, plain dataclasses,
no pydantic, and no query at all for the kinds no hook can want (notes, checklist).

A delivery's states: `queued` (waiting for `next_at`; with attempts > 0 it is
retrying), `sending` (leased by a deliverer until `lease_until`), `sent`, `failed`
(a permanent refusal, e.g. HTTP 400) and `gave_up` (still failing after the hook's
`give_up_after`); `ircmd deliveries retry ID` queues a failed or given-up one again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..store.reader import Reader
from ..store.record import from_ts, ts

#: The names a hook's `events` may list, and the event kinds each stands for. "close"
#: is the status change to closed only; "status" is every status change, closing too.
EVENTS: dict[str, frozenset[str]] = {
    "declare": frozenset({"declare"}),
    "severity": frozenset({"severity"}),
    "status": frozenset({"status"}),
    "close": frozenset({"status"}),
    "assign": frozenset({"assign", "unassign"}),
    "update": frozenset({"update"}),
    "notify": frozenset({"notify"}),
    "action": frozenset({"action_add", "action_set", "action_retype"}),
    "alert": frozenset({"alert"}),
}
#: Kinds that some hook may want: for every other kind (and `delivery` outcomes,
#: which are never delivered, so no loop) `enqueue` reads nothing.
HOOKED_KINDS = frozenset().union(*EVENTS.values())

QUEUED, SENDING, SENT, FAILED, GAVE_UP = "queued", "sending", "sent", "failed", "gave_up"
#: States a delivery is still to be sent in: they hold back later events of the
#: same incident to the same hook, so each hook hears an incident in order.
PENDING = (QUEUED, SENDING)
#: States `ircmd deliveries retry` may queue again.
RETRYABLE = (FAILED, GAVE_UP)

#: A lease outlives the sends before it in its run by this much: the time to record
#: an outcome, even with the write lock contended.
LEASE_MARGIN = timedelta(seconds=5)
#: At most this many deliveries of one incident to one hook are taken in one claim
#: (sent one after another, in order), and at most CLAIM_LIMIT in all.
RUN_LIMIT = 50
CLAIM_LIMIT = 200
#: How many pending rows a claim looks at: a backlog larger than this is taken in
#: turns, oldest first.
CLAIM_WINDOW = 5000


@dataclass(frozen=True)
class Route:
    """One hook as the writers see it: what it wants, not how it is reached."""

    name: str
    kind: str
    events: tuple[str, ...]
    audience: str | None = None  # updates only
    min_severity: str | None = None  # "SEV2": SEV1 and SEV2
    incident_type: str | None = None


@dataclass(frozen=True)
class ContactRoute:
    """`notify CONTACT` reaches the contact through `hook`, at `address`."""

    contact: str
    hook: str
    address: str | None = None


def set_routes(db: Reader, routes: Sequence[Route], contacts: Sequence[ContactRoute]) -> None:
    """Replace the routing with a deliverer's (inside one write transaction): the
    deliverer that starts last decides what is queued from then on."""
    db.execute("DELETE FROM hook_routes")
    db.execute("DELETE FROM contact_routes")
    for r in routes:
        db.execute(
            "INSERT INTO hook_routes (name, kind, events, audience, min_severity, incident_type)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (r.name, r.kind, " ".join(r.events), r.audience, r.min_severity, r.incident_type),
        )
    for c in contacts:
        db.execute(
            "INSERT INTO contact_routes (contact_key, contact, hook, address) VALUES (?, ?, ?, ?)",
            (c.contact.casefold(), c.contact, c.hook, c.address),
        )


def routes(db: Reader) -> list[Route]:
    return [
        Route(name, kind, tuple(events.split()), audience, min_sev, inc_type)
        for name, kind, events, audience, min_sev, inc_type in db.rows(
            "SELECT name, kind, events, audience, min_severity, incident_type"
            " FROM hook_routes ORDER BY name"
        )
    ]


def contact_route(db: Reader, who: str) -> ContactRoute | None:
    """How `notify WHO` reaches WHO, matched in any case as the escalation list is."""
    found = db.rows(
        "SELECT contact, hook, address FROM contact_routes WHERE contact_key = ?",
        (who.casefold(),),
    )
    return ContactRoute(*found[0]) if found else None


# ----------------------------------------------------------------- enqueue


def enqueue(
    db: Reader,
    event_id: int,
    incident_id: int | None,
    kind: str,
    data: Mapping[str, Any],
    now: datetime,
) -> int:
    """Queue the event for every hook that wants it, in the transaction that appended
    it; the number queued.

    `notify X` goes to the hook of contact X, with X's address, whatever that hook's
    `events` and filters say: naming the contact is the request to reach them. A hook
    that lists "notify" also hears every notify (once, if it is X's hook too).
    """
    if kind not in HOOKED_KINDS:
        return 0
    wanted: dict[str, str | None] = {}  # hook -> address
    rows = db.rows(
        "SELECT name, events, audience, min_severity, incident_type FROM hook_routes ORDER BY name"
    )
    if rows:
        facts: tuple[str, str] | None = None
        for name, events, audience, min_sev, inc_type in rows:
            if not _wants(events.split(), kind, data):
                continue
            if audience and kind == "update" and data.get("audience") != audience:
                continue
            if min_sev or inc_type:
                if facts is None:
                    facts = _facts(db, incident_id)
                severity, itype = facts
                if min_sev and not (severity and _rank(severity) <= _rank(min_sev)):
                    continue
                if inc_type and itype.casefold() != inc_type.casefold():
                    continue
            wanted[name] = None
    if kind == "notify":
        contact = contact_route(db, str(data.get("who", "")))
        if contact is not None:
            wanted[contact.hook] = contact.address
    if wanted:
        at = ts(now)
        db.execute(
            "INSERT INTO deliveries (event_id, incident_id, hook, address, next_at, queued_at)"
            f" VALUES {', '.join(['(?, ?, ?, ?, ?, ?)'] * len(wanted))}",
            [
                v
                for hook, address in wanted.items()
                for v in (event_id, incident_id, hook, address, at, at)
            ],
        )
    return len(wanted)


def _wants(names: Iterable[str], kind: str, data: Mapping[str, Any]) -> bool:
    for name in names:
        if kind in EVENTS.get(name, ()) and (name != "close" or data.get("to") == "closed"):
            return True
    return False


def _facts(db: Reader, incident_id: int | None) -> tuple[str, str]:
    """The incident's severity and type as they stand in this transaction."""
    if incident_id is None:
        return "", ""
    found = db.rows("SELECT severity, type FROM incidents WHERE id = ?", (incident_id,))
    return (str(found[0][0]), str(found[0][1] or "")) if found else ("", "")


def _rank(severity: str) -> int:
    """SEV1 is 1: a smaller rank is more severe."""
    digits = severity.strip().upper().removeprefix("SEV")
    return int(digits) if digits.isdigit() else 99


# ------------------------------------------------------------------ claims


@dataclass(frozen=True)
class Claimed:
    """A delivery a deliverer has leased, with what it needs to send it."""

    id: int
    event_id: int
    incident_id: int | None
    hook: str
    address: str | None
    attempt: int  # this attempt's number, 1 on the first
    queued_at: datetime
    last_status: str


@dataclass(frozen=True)
class Claim:
    """What one claim took, in runs (one per incident and hook, each in event order,
    to be sent one after another), and when the next pending delivery falls due
    (None: nothing is waiting but what was taken, or what another deliverer holds)."""

    runs: list[list[Claimed]]
    next_due: datetime | None


def claim(
    db: Reader,
    owner: str,
    timeouts: Mapping[str, float],
    now: datetime,
    *,
    holding: Collection[int] = (),
    gone: Callable[[str], bool] = lambda owner: False,
    limit: int = CLAIM_LIMIT,
) -> Claim:
    """Lease the deliveries that are due to `owner` (inside one write transaction).

    Only hooks in `timeouts` (name -> seconds per attempt) are taken: a deliverer
    without a hook's secrets leaves its deliveries to one that has them. Per incident
    and hook only the oldest pending ones are taken, in order, and none after one that
    is not due yet or that another deliverer holds: a hook never hears event N+1 of an
    incident before N. A delivery left `sending` by a deliverer that died is taken
    again once its lease has run out. Each lease covers the sends before it in its
    run, so a live deliverer's lease never runs out under it; `holding` (the ids the
    caller is sending now) are never taken twice, even if a lease did run out. A
    lease whose holder `gone` says is dead (a process of this host that no longer
    exists) is void at once, so a deliverer restarted after a crash resends at once.
    """
    if not timeouts:
        return Claim([], None)
    marks = ", ".join("?" * len(timeouts))
    pending = db.rows(
        "SELECT id, event_id, incident_id, hook, address, state, attempts, next_at,"
        " lease_owner, lease_until, queued_at, last_status FROM deliveries"
        f" WHERE state IN (?, ?) AND hook IN ({marks}) ORDER BY id LIMIT ?",
        (*PENDING, *timeouts, CLAIM_WINDOW),
    )
    at = ts(now)
    blocked: set[tuple[int | None, str]] = set()
    runs: dict[tuple[int | None, str], list[Claimed]] = {}
    taken = 0
    next_due: str | None = None
    for row in pending:
        (rid, event_id, incident_id, hook, address, state, attempts, next_at) = row[:8]
        lease_owner, lease_until, queued_at, last_status = row[8:]
        group = (incident_id, hook)
        if group in blocked:
            continue
        if rid in holding:
            blocked.add(group)
            continue
        free_at = next_at if state == QUEUED else lease_until
        if state == SENDING and lease_owner != owner and free_at > at and gone(lease_owner):
            free_at = at
        run = runs.get(group, [])
        if free_at > at or len(run) >= RUN_LIMIT or taken >= limit:
            blocked.add(group)
            if free_at > at and not (state == SENDING and lease_owner == owner) and not run:
                next_due = free_at if next_due is None else min(next_due, free_at)
            continue
        run.append(
            Claimed(
                rid,
                event_id,
                incident_id,
                hook,
                address,
                attempts + 1,
                from_ts(queued_at),
                last_status,
            )
        )
        runs[group] = run
        taken += 1
    for run in runs.values():
        timeout = timedelta(seconds=timeouts[run[0].hook])
        for i, c in enumerate(run):
            db.execute(
                "UPDATE deliveries SET state = ?, attempts = ?, lease_owner = ?, lease_until = ?"
                " WHERE id = ?",
                (SENDING, c.attempt, owner, ts(now + timeout * (i + 1) + LEASE_MARGIN), c.id),
            )
    return Claim(list(runs.values()), from_ts(next_due) if next_due else None)


def release(db: Reader, owner: str, ids: Sequence[int]) -> None:
    """Give back leased deliveries that were not sent (their run stopped at a failure,
    or the deliverer is stopping): queued again, due at once, the attempt not counted."""
    for rid in ids:
        db.execute(
            "UPDATE deliveries SET state = ?, attempts = attempts - 1, lease_owner = NULL,"
            " lease_until = NULL WHERE id = ? AND state = ? AND lease_owner = ?",
            (QUEUED, rid, SENDING, owner),
        )


def idempotency_key(event_hash: str, hook: str) -> str:
    """The same for every attempt of one event to one hook, and for no other pair."""
    return hashlib.sha256(f"{event_hash}\n{hook}".encode()).hexdigest()[:32]


# ------------------------------------------------------------------- reads


def shown_state(state: str, attempts: int) -> str:
    """A state as people are shown it: `retrying` for a queued delivery that has
    failed before."""
    return "retrying" if state == QUEUED and attempts else state


@dataclass(frozen=True)
class DeliveryRow:
    """One delivery as `ircmd deliveries` and the screen list it."""

    id: int
    event_id: int
    incident_id: int | None
    kind: str  # of the event delivered
    hook: str
    address: str | None
    state: str
    attempts: int
    next_at: datetime
    queued_at: datetime
    last_status: str
    last_reason: str

    @property
    def shown_state(self) -> str:
        return shown_state(self.state, self.attempts)

    @property
    def failing(self) -> bool:
        return self.state in RETRYABLE or (self.state != SENT and bool(self.last_status))


def deliveries(
    db: Reader,
    incident_id: int | None = None,
    *,
    failing: bool = False,
    event_ids: Sequence[int] | None = None,
) -> list[DeliveryRow]:
    """Deliveries in id order: all, of one incident, of some events, or only the
    failing ones (failed, given up, or retrying after a failure)."""
    where, params = ["1 = 1"], list[Any]()
    if incident_id is not None:
        where.append("d.incident_id = ?")
        params.append(incident_id)
    if event_ids is not None:
        where.append(f"d.event_id IN ({', '.join('?' * len(event_ids))})")
        params += event_ids
    if failing:
        where.append("(d.state IN (?, ?) OR (d.state != ? AND d.last_status != ''))")
        params += [*RETRYABLE, SENT]
    rows = db.rows(
        "SELECT d.id, d.event_id, d.incident_id, e.kind, d.hook, d.address, d.state,"
        " d.attempts, d.next_at, d.queued_at, d.last_status, d.last_reason"
        " FROM deliveries d JOIN events e ON e.id = d.event_id"
        f" WHERE {' AND '.join(where)} ORDER BY d.id",
        params,
    )
    return [
        DeliveryRow(
            id=r[0],
            event_id=r[1],
            incident_id=r[2],
            kind=r[3],
            hook=r[4],
            address=r[5],
            state=r[6],
            attempts=r[7],
            next_at=from_ts(r[8]),
            queued_at=from_ts(r[9]),
            last_status=r[10],
            last_reason=r[11],
        )
        for r in rows
    ]


def waiting(db: Reader) -> int:
    """How many deliveries are still to be sent (for "no deliverer is running")."""
    return int(db.scalar("SELECT count(*) FROM deliveries WHERE state IN (?, ?)", PENDING) or 0)


def payloads(db: Reader, event_ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """Event id -> the event as delivered and its incident as it stands now (the
    `event` and `incident` parts of `base.PAYLOAD_VERSION`'s shape), with the event's
    hash under "hash" for the idempotency key. Built when sent, not when queued, so
    the writer's transaction stays small; the event itself is as recorded."""
    if not event_ids:
        return {}
    marks = ", ".join("?" * len(event_ids))
    found: dict[int, dict[str, Any]] = {}
    incidents: dict[int, dict[str, Any] | None] = {}
    for eid, inc, occurred, recorded, actor, kind, text, data, digest in db.rows(
        "SELECT id, incident_id, occurred_at, recorded_at, actor, kind, text, data, hash"
        f" FROM events WHERE id IN ({marks})",
        tuple(event_ids),
    ):
        if inc is not None and inc not in incidents:
            incidents[inc] = _incident(db, inc)
        found[eid] = {
            "event": {
                "id": eid,
                "kind": kind,
                "incident": f"INC-{inc}" if inc is not None else None,
                "occurred_at": occurred,
                "recorded_at": recorded,
                "actor": actor,
                "text": text,
                "data": json.loads(data),
                "hash": digest,
            },
            "incident": incidents.get(inc) if inc is not None else None,
        }
    return found


def _incident(db: Reader, incident_id: int) -> dict[str, Any] | None:
    rows = db.rows(
        "SELECT title, severity, status, type FROM incidents WHERE id = ?", (incident_id,)
    )
    if not rows:
        return None
    title, severity, status, itype = rows[0]
    commander = db.scalar(
        "SELECT person FROM roles WHERE incident_id = ? AND role = 'commander'"
        " ORDER BY assigned_at DESC LIMIT 1",
        (incident_id,),
    )
    return {
        "ref": f"INC-{incident_id}",
        "title": title,
        "severity": severity,
        "status": status,
        "type": itype or "",
        "commander": commander or "",
    }
