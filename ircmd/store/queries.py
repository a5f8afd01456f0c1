"""Reads: incidents, their state, events, actions, the chain's head. Plain functions
over a `Reader`; each row becomes its record by column name (`rows.decode`)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import rules
from ..models import (
    Action,
    AppliedPlaybook,
    Assignment,
    ChecklistItem,
    CommsUpdate,
    CustodyTransfer,
    Event,
    Evidence,
    Head,
    Impact,
    Incident,
    IncidentState,
    Kind,
    NotFound,
    Notification,
    Review,
    StorageError,
    action_key,
    incident_key,
)
from .reader import IncidentRef, Reader, Row
from .record import EVENT_COLUMNS, GENESIS
from .rows import decode, event_from_row

if TYPE_CHECKING:  # the status page's module, with its HTML, on first use
    from ..statuspage import PublicIncident

INCIDENT_COLUMNS = (
    "id, title, severity, status, type, impact, urgency, summary, declared_at, declared_by,"
    " detected_at, started_at, resolved_at, updated_at, last_event_id"
)
ACTION_COLUMNS = (
    "id, incident_id, title, type, owner, due, review_date, status, reason, verification,"
    " closure_evidence, link, created_at, updated_at"
)


def _incident(row: Row) -> Incident:
    # An impact or urgency never given is NULL (or blank in old rows): no level.
    return decode(Incident, row, impact=row["impact"] or None, urgency=row["urgency"] or None)


def incident(r: Reader, n: int) -> Incident:
    rows = r.rows(f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?", (n,))
    if not rows:
        raise NotFound(f"no incident {incident_key(n)}")
    return _incident(rows[0])


def incidents(r: Reader, *, include_closed: bool) -> list[Incident]:
    where = "" if include_closed else "WHERE status != 'closed'"
    return [
        _incident(row)
        for row in r.rows(f"SELECT {INCIDENT_COLUMNS} FROM incidents {where} ORDER BY id")
    ]


def action(r: Reader, action_id: int) -> Action:
    rows = r.rows(f"SELECT {ACTION_COLUMNS} FROM actions WHERE id = ?", (action_id,))
    if not rows:
        raise NotFound(f"no action {action_key(action_id)}")
    return decode(Action, rows[0])


def actions(
    r: Reader,
    *,
    incident: IncidentRef | None = None,
    owner: str | None = None,
    overdue_at: datetime | None = None,
) -> list[Action]:
    """The action log across incidents, optionally filtered."""
    clauses: list[str] = []
    params: list[Any] = []
    if incident is not None:
        clauses.append("incident_id = ?")
        params.append(r.incident_id(incident))
    if owner:
        clauses.append("owner = ?")
        params.append(rules.check_name(owner, "owner"))
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = r.rows(f"SELECT {ACTION_COLUMNS} FROM actions {where} ORDER BY id", params)
    found = [decode(Action, row) for row in rows]
    if overdue_at is not None:
        found = [a for a in found if rules.action_overdue(a, overdue_at)]
    return found


def load(r: Reader, n: int) -> IncidentState:
    """Everything the record says about incident `n`, from its projections."""
    inc = incident(r, n)
    roles = [
        decode(Assignment, row)
        for row in r.rows(
            "SELECT role, person, assigned_at FROM roles WHERE incident_id = ?"
            " ORDER BY assigned_at, person",
            (n,),
        )
    ]
    checklist = [
        decode(ChecklistItem, row)
        for row in r.rows(
            "SELECT n, phase, text, done, done_by, done_at, assignee, added_by, added_at,"
            " skipped_by, skipped_at, skip_reason FROM checklist WHERE incident_id = ? ORDER BY n",
            (n,),
        )
    ]
    updates = [
        decode(CommsUpdate, row)
        for row in r.rows(
            "SELECT event_id, audience, channel, text, sent_at, sent_by, final FROM updates"
            " WHERE incident_id = ? ORDER BY sent_at, event_id",
            (n,),
        )
    ]
    notifications = [
        decode(Notification, row)
        for row in r.rows(
            "SELECT who, notified_at, notified_by FROM notifications WHERE incident_id = ?"
            " ORDER BY notified_at",
            (n,),
        )
    ]
    transfers: dict[int, list[CustodyTransfer]] = {}
    for row in r.rows(
        "SELECT n, from_person, to_person, reason, at, by FROM custody WHERE incident_id = ?"
        " ORDER BY event_id",
        (n,),
    ):
        transfers.setdefault(row["n"], []).append(decode(CustodyTransfer, row))
    amendments: dict[int, list[str]] = {}
    for row in r.rows(
        "SELECT n, text FROM evidence_amendments WHERE incident_id = ? ORDER BY event_id",
        (n,),
    ):
        amendments.setdefault(row["n"], []).append(row["text"])
    evidence = [
        decode(
            Evidence,
            row,
            transfers=tuple(transfers.get(row["n"], ())),
            amendments=tuple(amendments.get(row["n"], ())),
        )
        for row in r.rows(
            "SELECT n, description, location, sha256, filename, collected_by, collected_at,"
            " custodian FROM evidence WHERE incident_id = ? ORDER BY n",
            (n,),
        )
    ]
    review_rows = r.rows(
        "SELECT summary, root_cause, contributing_factors, whys, went_well, went_poorly,"
        " lessons, updated_at, updated_by FROM review WHERE incident_id = ?",
        (n,),
    )
    review = decode(Review, review_rows[0]) if review_rows else Review()
    impact_rows = r.rows(
        "SELECT customer_impact, services, users_affected, records_affected, data_loss_from,"
        " data_loss_to, updated_at, updated_by FROM impact WHERE incident_id = ?",
        (n,),
    )
    impact = decode(Impact, impact_rows[0]) if impact_rows else Impact()
    actions = [
        decode(Action, row)
        for row in r.rows(
            f"SELECT {ACTION_COLUMNS} FROM actions WHERE incident_id = ? ORDER BY id", (n,)
        )
    ]
    playbooks = [
        decode(AppliedPlaybook, row)
        for row in r.rows(
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
        impact=impact,
        actions=tuple(actions),
        playbooks=tuple(playbooks),
    )


def state(r: Reader, ref: IncidentRef) -> IncidentState:
    return load(r, r.incident_id(ref))


def events(
    r: Reader, ref: IncidentRef | None = None, *, after_id: int = 0, limit: int | None = None
) -> list[Event]:
    """Events in id order, of one incident or all."""
    where, params = "id > ?", [after_id]
    if ref is not None:
        where, params = "incident_id = ? AND id > ?", [r.incident_id(ref), after_id]
    cap = ""
    if limit is not None:
        cap = " LIMIT ?"
        params.append(limit)
    rows = r.rows(f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} ORDER BY id{cap}", params)
    return [event_from_row(row) for row in rows]


def source_event(
    r: Reader, n: int, kinds: Collection[Kind], match: Callable[[Event], bool]
) -> Event:
    """The newest event of incident `n`, of one of `kinds`, that `match` accepts: the
    one whose value a correction replaces (and names in its `corrects`).

    The projections show that value, so some event set it; finding none means the
    tables were edited outside ircmd, and a correction naming nothing is refused."""
    rows = r.rows(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE incident_id = ?"
        f" AND kind IN ({', '.join('?' * len(kinds))}) ORDER BY id DESC",
        (n, *sorted(k.value for k in kinds)),
    )
    found = next((ev for ev in map(event_from_row, rows) if match(ev)), None)
    if found is None:
        raise StorageError(
            f"no event of {incident_key(n)} set what this corrects: the tables do not"
            " match the record (run ircmd verify)"
        )
    return found


def event_chunks_sql(
    n: int, *, by_time: bool, kinds: Collection[Kind] | None, upto: int | None
) -> tuple[str, list[Any]]:
    """The one query `Store.event_chunks` reads through a cursor, and its parameters."""
    where = "incident_id = ?"
    params: list[Any] = [n]
    if kinds is not None:
        where += f" AND kind IN ({', '.join('?' * len(kinds))})"
        params += sorted(k.value for k in kinds)
    if upto is not None:
        where += " AND id <= ?"
        params.append(upto)
    order = "occurred_at, id" if by_time else "id"
    return f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} ORDER BY {order}", params


def head(r: Reader) -> Head:
    """The chain's newest event and the number of events: one query, no scan of the
    chain (count(*) walks the smallest index, not the rows)."""
    rows = r.rows(
        "SELECT (SELECT count(*) FROM events) AS count, id, hash FROM events"
        " ORDER BY id DESC LIMIT 1"
    )
    return decode(Head, rows[0]) if rows else Head(count=0, id=0, hash=GENESIS)


def last_event_id(r: Reader) -> int:
    return int(r.scalar("SELECT coalesce(max(id), 0) FROM events"))


def data_version(r: Reader) -> int:
    return int(r.scalar("PRAGMA data_version"))


def public_incidents(r: Reader) -> list[PublicIncident]:
    """What the status page may show: incidents with an external update, with only
    their public title, status and external updates (`statuspage.PublicIncident`)."""
    from ..statuspage import PublicIncident, PublicUpdate  # its page's HTML, on first use

    rows = r.rows(
        "SELECT u.incident_id, u.event_id, u.sent_at, u.text, i.status,"
        " coalesce(p.title, '') AS public_title FROM updates u"
        " JOIN incidents i ON i.id = u.incident_id"
        " LEFT JOIN public_titles p ON p.incident_id = u.incident_id"
        " WHERE u.audience = 'external' ORDER BY u.incident_id, u.sent_at, u.event_id"
    )
    found: dict[int, tuple[Row, list[PublicUpdate]]] = {}
    for row in rows:
        update = decode(PublicUpdate, row, at=row["sent_at"])
        found.setdefault(row["incident_id"], (row, []))[1].append(update)
    return [
        decode(PublicIncident, row, id=n, updates=tuple(updates))
        for n, (row, updates) in found.items()
    ]


def untriaged(r: Reader) -> set[int]:
    """Incidents that alerts opened and no person has triaged yet: nobody has changed
    their status or assigned a role. Read from the events, so that no projection of
    those older kinds depends on the alerts' tables."""
    rows = r.rows(
        "SELECT a.incident_id FROM alert_incidents a WHERE NOT EXISTS (SELECT 1 FROM events e"
        " WHERE e.incident_id = a.incident_id AND e.kind IN (?, ?))",
        (Kind.STATUS.value, Kind.ASSIGN.value),
    )
    return {row[0] for row in rows}
