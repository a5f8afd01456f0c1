"""Projections: the SQL that each event implies for the derived tables.

`statements(event)` depends on the event alone, never on what the tables hold,
so replaying `events` in id order rebuilds every projection exactly; the Store
runs the same statements inside the write transaction, and `verify` replays them
into a scratch database to prove the projections match the record.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from ..models import Event, Kind, Role, Status
from .record import ts

Statement = tuple[str, tuple[Any, ...]]


def statements(ev: Event) -> list[Statement]:
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
            return out
        case Kind.SEVERITY:
            out.append(("UPDATE incidents SET severity = ? WHERE id = ?", (d["to"], inc)))
        case Kind.STATUS:
            out.append(("UPDATE incidents SET status = ? WHERE id = ?", (d["to"], inc)))
            out.append(_triaged(inc))
            resolved = Status.RESOLVED.rank
            if Status(d["to"]).rank >= resolved > Status(d["from"]).rank:
                out.append(("UPDATE incidents SET resolved_at = ? WHERE id = ?", (at, inc)))
        case Kind.ASSIGN:
            out.append(_triaged(inc))
            if Role(d["role"]).single:
                out.append(
                    (
                        "DELETE FROM roles WHERE incident_id = ? AND role = ?",
                        (inc, d["role"]),
                    )
                )
            out.append(
                (
                    "INSERT OR REPLACE INTO roles (incident_id, role, person, assigned_at)"
                    " VALUES (?, ?, ?, ?)",
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
                    "INSERT OR REPLACE INTO playbooks_applied (incident_id, name, required_roles,"
                    " applied_at) VALUES (?, ?, ?, ?)",
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
                    "UPDATE checklist SET done = 1, done_by = ?, done_at = ? WHERE incident_id = ? AND n = ?",
                    (ev.actor, at, inc, d["n"]),
                )
            )
        case Kind.UNCHECK:
            out.append(
                (
                    "UPDATE checklist SET done = 0, done_by = NULL, done_at = NULL"
                    " WHERE incident_id = ? AND n = ?",
                    (inc, d["n"]),
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
            out.append(
                (
                    "INSERT OR IGNORE INTO notifications (incident_id, who, notified_at, notified_by)"
                    " VALUES (?, ?, ?, ?)",
                    (inc, d["who"], at, ev.actor),
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
                    "INSERT OR REPLACE INTO review (incident_id, summary, root_cause,"
                    " contributing_factors, whys, went_well, went_poorly, lessons, updated_at,"
                    " updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        case Kind.ALERT:
            out += _alert(ev)
        case Kind.PUBLIC_TITLE:
            out.append(
                (
                    "INSERT INTO public_titles (incident_id, title) VALUES (?, ?)"
                    " ON CONFLICT (incident_id) DO UPDATE SET title = excluded.title",
                    (inc, ev.text),
                )
            )
        case Kind.NOTE | Kind.DECISION | Kind.AMEND:
            pass
    if inc is not None:
        out.append(
            (
                "UPDATE incidents SET updated_at = max(updated_at, ?), last_event_id = ? WHERE id = ?",
                (at, ev.id, inc),
            )
        )
    return out


def _triaged(inc: int | None) -> Statement:
    """A person changing the status or assigning a role has triaged an incident
    that alerts opened."""
    return ("UPDATE alert_incidents SET untriaged = 0 WHERE incident_id = ?", (inc,))


def _alert(ev: Event) -> list[Statement]:
    """An alert event: the newest state of its fingerprint in its group and, for the
    alert that opened its incident, the group that incident stands for."""
    d = ev.data
    out: list[Statement] = [
        (
            "INSERT INTO alerts (group_key, fingerprint, incident_id, status, starts_at,"
            " event_id) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (group_key, fingerprint)"
            " DO UPDATE SET incident_id = excluded.incident_id, status = excluded.status,"
            " starts_at = excluded.starts_at, event_id = excluded.event_id",
            (d["group"], d["fingerprint"], ev.incident_id, d["status"], d["starts_at"], ev.id),
        )
    ]
    if d.get("opened"):
        out.append(
            (
                "INSERT INTO alert_incidents (incident_id, group_key, source, untriaged)"
                " VALUES (?, ?, ?, 1)",
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


def replay(conn: sqlite3.Connection, events: Iterable[Event]) -> None:
    """Apply events in order to an empty schema: the projections from the record alone."""
    for ev in events:
        for sql, params in statements(ev):
            conn.execute(sql, params)
