"""Projections: the SQL that each event implies for the derived tables.

`statements(event)` depends on the event alone, never on what the tables hold,
so replaying `events` in id order rebuilds every projection exactly; the Store
runs the same statements inside the write transaction, and `verify` replays them
into a scratch database to prove the projections match the record.

The SQL is written once for every engine: what differs (placeholders, replacing a
row by its key) is asked of the dialect, and the rest is plain standard SQL (a
CASE, not SQLite's two-argument max; NOT EXISTS, not INSERT OR IGNORE).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..domain import Kind, Mark, Role, Status
from .dialect import SQLITE, Dialect
from .record import Chained, ts

if TYPE_CHECKING:
    from ..models import Event

Statement = tuple[str, tuple[Any, ...]]

_REVIEW_COLUMNS = (
    "incident_id",
    "summary",
    "root_cause",
    "contributing_factors",
    "whys",
    "went_well",
    "went_poorly",
    "lessons",
    "updated_at",
    "updated_by",
)


def statements(ev: Event | Chained, dialect: Dialect = SQLITE) -> list[Statement]:
    """The statements `ev` implies, in `dialect`'s spelling (its placeholders)."""
    return [(dialect.sql(sql), params) for sql, params in _statements(ev, dialect)]


def portable_statements(ev: Event | Chained, dialect: Dialect) -> list[Statement]:
    """The same statements with `?` placeholders, for a `Reader`, which spells each
    statement it runs itself (`dialect.sql` must be applied exactly once)."""
    return _statements(ev, dialect)


_IMPACT_COLUMNS = (
    "incident_id",
    "customer_impact",
    "services",
    "users_affected",
    "records_affected",
    "data_loss_from",
    "data_loss_to",
    "updated_at",
    "updated_by",
)
# The incidents column each re-markable moment lives in.
_MARKED = {Mark.IMPACT: "started_at", Mark.DETECTED: "detected_at"}


def _statements(ev: Event | Chained, dialect: Dialect) -> list[Statement]:
    d = ev.data
    inc = ev.incident_id
    at = ts(ev.occurred_at)
    out: list[Statement] = []
    match ev.kind:
        case Kind.DECLARE:
            out.append(
                (
                    "INSERT INTO incidents (id, title, severity, status, type, impact, urgency,"
                    " summary, declared_at, declared_by, detected_at, started_at, updated_at,"
                    " last_event_id) VALUES (?, ?, ?, 'reported', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        inc,
                        d["title"],
                        d["severity"],
                        d.get("type", ""),
                        d.get("impact"),
                        d.get("urgency"),
                        d.get("summary", ""),
                        at,
                        ev.actor,
                        d.get("detected_at"),
                        d.get("started_at"),
                        at,
                        ev.id,
                    ),
                )
            )
            if d.get("commander"):
                out.append(
                    (
                        "INSERT INTO roles (incident_id, role, person, assigned_at)"
                        " VALUES (?, ?, ?, ?)",
                        (inc, Role.COMMANDER.value, d["commander"], at),
                    )
                )
            return out
        case Kind.SEVERITY:
            out.append(("UPDATE incidents SET severity = ? WHERE id = ?", (d["to"], inc)))
        case Kind.STATUS:
            out.append(("UPDATE incidents SET status = ? WHERE id = ?", (d["to"], inc)))
            resolved = Status.RESOLVED.rank
            if Status(d["to"]).rank >= resolved > Status(d["from"]).rank:
                out.append(("UPDATE incidents SET resolved_at = ? WHERE id = ?", (at, inc)))
        case Kind.ASSIGN:
            if Role(d["role"]).single:
                out.append(
                    (
                        "DELETE FROM roles WHERE incident_id = ? AND role = ?",
                        (inc, d["role"]),
                    )
                )
            out.append(
                (
                    dialect.upsert(
                        "roles",
                        ("incident_id", "role", "person", "assigned_at"),
                        ("incident_id", "role", "person"),
                    ),
                    (inc, d["role"], d["person"], at),
                )
            )
        case Kind.UNASSIGN:
            out.append(
                (
                    "DELETE FROM roles WHERE incident_id = ? AND role = ? AND person = ?",
                    (inc, d["role"], d["person"]),
                )
            )
        case Kind.ITEM_ADD:
            out.append(_item(inc, d["n"], d["phase"], ev.text, d.get("assignee"), ev.actor, at))
        case Kind.PLAYBOOK:
            out.append(
                (
                    dialect.upsert(
                        "playbooks_applied",
                        ("incident_id", "name", "required_roles", "applied_at"),
                        ("incident_id", "name"),
                    ),
                    (inc, d["name"], json.dumps(d.get("required_roles", [])), at),
                )
            )
            out += [
                _item(inc, s["n"], s["phase"], s["text"], None, ev.actor, at) for s in d["steps"]
            ]
        case Kind.CHECK if "already" in d:
            # A step checked again keeps who did it first and when; the later
            # check is on the record as its own event.
            pass
        case Kind.CHECK:
            out.append(
                (
                    "UPDATE checklist SET done = 1, done_by = ?, done_at = ?"
                    " WHERE incident_id = ? AND n = ?",
                    (ev.actor, at, inc, d["n"]),
                )
            )
            out += _unskip(inc, d)
        case Kind.UNCHECK:
            out.append(
                (
                    "UPDATE checklist SET done = 0, done_by = NULL, done_at = NULL"
                    " WHERE incident_id = ? AND n = ?",
                    (inc, d["n"]),
                )
            )
            out += _unskip(inc, d)
        case Kind.SKIP:
            out.append(
                (
                    "UPDATE checklist SET skipped_by = ?, skipped_at = ?, skip_reason = ?"
                    " WHERE incident_id = ? AND n = ?",
                    (ev.actor, at, ev.text, inc, d["n"]),
                )
            )
        case Kind.ITEM_EDIT:
            out.append(
                (
                    "UPDATE checklist SET text = ? WHERE incident_id = ? AND n = ?",
                    (ev.text, inc, d["n"]),
                )
            )
        case Kind.ITEM_OWN:
            out.append(
                (
                    "UPDATE checklist SET assignee = ? WHERE incident_id = ? AND n = ?",
                    (d["assignee"], inc, d["n"]),
                )
            )
        case Kind.UPDATE:
            out.append(
                (
                    "INSERT INTO updates (event_id, incident_id, audience, channel, text, sent_at,"
                    " sent_by, final) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        ev.id,
                        inc,
                        d["audience"],
                        d.get("channel", ""),
                        ev.text,
                        at,
                        ev.actor,
                        int(bool(d.get("final"))),
                    ),
                )
            )
        case Kind.NOTIFY:
            # The first notification of a contact stands; telling them again is
            # on the record as its own event.
            out.append(
                (
                    "INSERT INTO notifications (incident_id, who, notified_at, notified_by)"
                    " SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM notifications"
                    " WHERE incident_id = ? AND who = ?)",
                    (inc, d["who"], at, ev.actor, inc, d["who"]),
                )
            )
        case Kind.UNNOTIFY:
            out.append(
                (
                    "DELETE FROM notifications WHERE incident_id = ? AND who = ?",
                    (inc, d["who"]),
                )
            )
        case Kind.EVIDENCE_ADD:
            out.append(
                (
                    "INSERT INTO evidence (incident_id, n, description, location, sha256, filename,"
                    " collected_by, collected_at, custodian) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        inc,
                        d["n"],
                        ev.text,
                        d.get("location", ""),
                        d.get("sha256"),
                        d.get("filename"),
                        ev.actor,
                        at,
                        d["custodian"],
                    ),
                )
            )
        case Kind.EVIDENCE_TRANSFER:
            out.append(
                (
                    "INSERT INTO custody (event_id, incident_id, n, from_person, to_person, reason,"
                    " at, by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (ev.id, inc, d["n"], d["from"], d["to"], ev.text, at, ev.actor),
                )
            )
            out.append(
                (
                    "UPDATE evidence SET custodian = ? WHERE incident_id = ? AND n = ?",
                    (d["to"], inc, d["n"]),
                )
            )
        case Kind.EVIDENCE_AMEND:
            out.append(
                (
                    "INSERT INTO evidence_amendments (event_id, incident_id, n, text) VALUES (?, ?, ?, ?)",
                    (ev.id, inc, d["n"], ev.text),
                )
            )
        case Kind.REVIEW:
            f = d["review"]
            out.append(
                (
                    dialect.upsert("review", _REVIEW_COLUMNS, ("incident_id",)),
                    (
                        inc,
                        f["summary"],
                        f["root_cause"],
                        f["contributing_factors"],
                        json.dumps(f["whys"], ensure_ascii=False),
                        f["went_well"],
                        f["went_poorly"],
                        f["lessons"],
                        at,
                        ev.actor,
                    ),
                )
            )
        case Kind.ACTION_ADD:
            out.append(
                (
                    "INSERT INTO actions (id, incident_id, title, type, owner, due, review_date,"
                    " status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)",
                    (
                        d["action_id"],
                        inc,
                        ev.text,
                        d["type"],
                        d.get("owner"),
                        d.get("due"),
                        d.get("review_date"),
                        at,
                        at,
                    ),
                )
            )
        case Kind.ACTION_SET:
            sets = {"status": d["to"], "updated_at": at}
            for key in (
                "owner",
                "due",
                "review_date",
                "reason",
                "verification",
                "closure_evidence",
            ):
                if key in d:
                    sets[key] = d[key]
            cols = ", ".join(f"{k} = ?" for k in sets)
            out.append(
                (
                    f"UPDATE actions SET {cols} WHERE id = ?",
                    (*sets.values(), d["action_id"]),
                )
            )
        case Kind.ACTION_RETYPE:
            out.append(
                (
                    "UPDATE actions SET type = ?, updated_at = ? WHERE id = ?",
                    (d["to"], at, d["action_id"]),
                )
            )
        case Kind.ACTION_LINK:
            out.append(
                (
                    "UPDATE actions SET link = ?, updated_at = ? WHERE id = ?",
                    (ev.text, at, d["action_id"]),
                )
            )
        case Kind.RETITLE:
            out.append(("UPDATE incidents SET title = ? WHERE id = ?", (ev.text, inc)))
        case Kind.SUMMARY:
            out.append(("UPDATE incidents SET summary = ? WHERE id = ?", (ev.text, inc)))
        case Kind.MARK:
            column = _MARKED[Mark(d["what"])]
            out.append((f"UPDATE incidents SET {column} = ? WHERE id = ?", (d["at"], inc)))
        case Kind.IMPACT:
            f = d["impact"]
            out.append(
                (
                    dialect.upsert("impact", _IMPACT_COLUMNS, ("incident_id",)),
                    (
                        inc,
                        f["customer_impact"],
                        json.dumps(f["services"], ensure_ascii=False),
                        f["users_affected"],
                        f["records_affected"],
                        f["data_loss_from"],
                        f["data_loss_to"],
                        at,
                        ev.actor,
                    ),
                )
            )
        case Kind.ALERT:
            out += _alert(ev, dialect)
        case Kind.PUBLIC_TITLE:
            out.append(
                (
                    dialect.upsert("public_titles", ("incident_id", "title"), ("incident_id",)),
                    (inc, ev.text),
                )
            )
        case Kind.NOTE | Kind.DECISION | Kind.AMEND | Kind.DELIVERY:
            pass
    if inc is not None:
        out.append(
            (
                "UPDATE incidents SET updated_at = CASE WHEN updated_at < ? THEN ? ELSE"
                " updated_at END, last_event_id = ? WHERE id = ?",
                (at, at, ev.id, inc),
            )
        )
    return out


def _unskip(inc: int | None, d: dict[str, Any]) -> list[Statement]:
    """Checking or unchecking a skipped step settles it afresh, done or open again;
    only such an event (`unskips`) touches the skip columns, so the checks of a
    record from before skipping replay as they were first applied."""
    if not d.get("unskips"):
        return []
    return [
        (
            "UPDATE checklist SET skipped_by = NULL, skipped_at = NULL, skip_reason = NULL"
            " WHERE incident_id = ? AND n = ?",
            (inc, d["n"]),
        )
    ]


_ALERT_COLUMNS = ("group_key", "fingerprint", "incident_id", "status", "starts_at", "event_id")


def _alert(ev: Event | Chained, dialect: Dialect) -> list[Statement]:
    """An alert event: the newest state of its fingerprint in its group and, for the
    alert that opened its incident, the group that incident stands for."""
    d = ev.data
    out: list[Statement] = [
        (
            dialect.upsert("alerts", _ALERT_COLUMNS, ("group_key", "fingerprint")),
            (d["group"], d["fingerprint"], ev.incident_id, d["status"], d["starts_at"], ev.id),
        )
    ]
    if d.get("opened"):
        out.append(
            (
                "INSERT INTO alert_incidents (incident_id, group_key, source) VALUES (?, ?, ?)",
                (ev.incident_id, d["group"], d["source"]),
            )
        )
    return out


def _item(
    inc: int | None,
    n: int,
    phase: str,
    text: str,
    assignee: str | None,
    by: str,
    at: str,
) -> Statement:
    return (
        "INSERT INTO checklist (incident_id, n, phase, text, assignee, added_by, added_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (inc, n, phase, text, assignee, by, at),
    )


def replay(
    conn: sqlite3.Connection, events: Iterable[Event | Chained], dialect: Dialect = SQLITE
) -> None:
    """Apply events in order to an empty schema: the projections from the record alone."""
    for ev in events:
        for sql, params in statements(ev, dialect):
            conn.execute(sql, params)
