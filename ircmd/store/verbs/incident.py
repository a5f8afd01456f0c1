"""Declaring an incident, its timeline entries, severity, status and roles."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ... import rules
from ...models import (
    MAX_NAME_CHARS,
    ClosureRefused,
    Event,
    Incident,
    InvalidInput,
    Kind,
    Level,
    NotFound,
    Playbook,
    Role,
    RuleViolation,
    Severity,
    Status,
    incident_key,
)
from .. import queries
from ..reader import IncidentRef
from ..record import ts
from ..tx import Tx, verb
from .checklist import append_playbook


@verb
def declare(
    tx: Tx,
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
    tx.text(title, "title")
    if summary:
        tx.text(summary, "summary")
    if type and len(type) > MAX_NAME_CHARS:
        raise InvalidInput(f"type is longer than {MAX_NAME_CHARS} characters")
    tx.check_at(detected_at, "detected-at")
    tx.check_at(started_at, "started-at")
    declared = at or tx.clock()
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
        "suggested": rules.suggest_severity(impact, urgency).value if impact or urgency else None,
    }
    n = tx.scalar("SELECT coalesce(max(id), 0) FROM incidents") + 1
    tx.append(n, Kind.DECLARE, actor, title, data, at)
    if playbook is not None:
        append_playbook(tx, n, playbook, actor, at)
    return queries.incident(tx, n)


@verb
def log(
    tx: Tx,
    ref: IncidentRef,
    text: str,
    *,
    actor: str,
    kind: Kind = Kind.NOTE,
    at: datetime | None = None,
) -> Event:
    """A timeline entry: a note or a decision, possibly back-dated."""
    tx.text(text)
    if kind not in (Kind.NOTE, Kind.DECISION):
        raise InvalidInput(f"cannot log an entry of kind {kind}")
    return tx.append(tx.incident_id(ref, writable=True), kind, actor, text, {}, at)


@verb
def log_lines(
    tx: Tx,
    ref: IncidentRef,
    lines: Sequence[tuple[datetime, str]],
    *,
    actor: str,
) -> list[Event]:
    """Several notes, each at its own time (a pasted chat log), in one transaction:
    all of them are recorded or, if one is refused, none."""
    if not lines:
        raise InvalidInput("nothing to add: no lines")
    return [log(tx, ref, text, actor=actor, at=at) for at, text in lines]


@verb
def amend(
    tx: Tx, ref: IncidentRef, event_id: int, text: str, *, actor: str, at: datetime | None = None
) -> Event:
    """Correct an entry: a new event pointing at the old; the old stays as it was."""
    tx.text(text)
    n = tx.incident_id(ref, writable=True)
    owner = (
        tx.scalar("SELECT incident_id FROM events WHERE id = ?", (event_id,))
        if 0 < event_id < 2**63  # a bigger int would not even bind (OverflowError)
        else None
    )
    if owner != n:
        raise NotFound(f"no entry #{event_id} in {incident_key(n)}")
    return tx.append(n, Kind.AMEND, actor, text, {"amends": event_id}, at)


@verb
def set_severity(
    tx: Tx,
    ref: IncidentRef,
    severity: Severity,
    *,
    actor: str,
    reason: str = "",
    at: datetime | None = None,
) -> Event:
    state = tx.state(ref)
    rules.require_command(state, actor, "change severity")
    if severity is state.incident.severity:
        # Not a change: recording it would show a hand-off of severity that never was.
        raise RuleViolation(f"{state.incident.key} is already {severity}")
    data = {"from": state.incident.severity.value, "to": severity.value}
    return tx.append(state.incident.id, Kind.SEVERITY, actor, reason, data, at)


@verb
def set_status(
    tx: Tx,
    ref: IncidentRef,
    status: Status,
    *,
    actor: str,
    reason: str = "",
    override: str = "",
    at: datetime | None = None,
) -> Event:
    """Move the incident; closing passes the closure gate unless overridden."""
    if reason:
        tx.text(reason, "reason")
    if override:
        tx.text(override, "override reason")
    state = tx.state(ref, writable=False)  # re-opening a closed incident is a status change
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
    return tx.append(state.incident.id, Kind.STATUS, actor, reason or override, data, at)


@verb
def assign(
    tx: Tx, ref: IncidentRef, role: Role, person: str, *, actor: str, at: datetime | None = None
) -> Event:
    """Give a role; a new commander is a recorded hand-off from the old one."""
    person = rules.check_name(person, "person")
    state = tx.state(ref)
    rules.require_command(state, actor, "assign roles")
    holders = state.people(role)
    if person in holders:
        raise RuleViolation(f"{person} is already {role} on {state.incident.key}")
    data: dict[str, Any] = {"role": role.value, "person": person}
    if role.single and holders:
        data["previous"] = holders[0]
    return tx.append(state.incident.id, Kind.ASSIGN, actor, "", data, at)


@verb
def unassign(
    tx: Tx, ref: IncidentRef, role: Role, person: str, *, actor: str, at: datetime | None = None
) -> Event:
    person = rules.check_name(person, "person")
    state = tx.state(ref)
    rules.require_command(state, actor, "assign roles")
    if person not in state.people(role):
        raise NotFound(f"{person} is not {role} on {state.incident.key}")
    data = {"role": role.value, "person": person}
    return tx.append(state.incident.id, Kind.UNASSIGN, actor, "", data, at)
