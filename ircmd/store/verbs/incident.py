"""Declaring an incident, its timeline entries, severity, status and roles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from ... import rules
from ...models import (
    DECLARER,
    MAX_NAME_CHARS,
    ClosureRefused,
    Declarer,
    Event,
    Impact,
    Incident,
    InvalidInput,
    Kind,
    Level,
    Mark,
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
from .entries import append_entry


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
    commander: str | Declarer = DECLARER,
) -> Incident:
    """Open a new incident; its id is the next INC-<n> of this database. Its
    commander is the declarer unless `commander` names someone else or is ""
    (nobody yet): an incident is never without a lead by oversight."""
    tx.text(title, "title")
    named = actor if commander is DECLARER else commander
    lead = rules.check_name(named, "commander") if named else None
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
        "commander": lead,
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
    """A timeline entry: `entries.append_entry`, as the model the Store returns."""
    return append_entry(tx, ref, text, actor=actor, kind=kind, at=at).event()


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
    """Take a role away (someone stood down, or was assigned in error); the event
    names the assignment it ends, which stays on the record as it was."""
    person = rules.check_name(person, "person")
    state = tx.state(ref)
    rules.require_command(state, actor, "assign roles")
    if person not in state.people(role):
        raise NotFound(f"{person} is not {role} on {state.incident.key}")
    assigned = queries.source_event(
        tx,
        state.incident.id,
        (Kind.DECLARE, Kind.ASSIGN),
        lambda ev: _assigns(ev, role, person),
    )
    data = {"role": role.value, "person": person, "corrects": assigned.id}
    return tx.append(state.incident.id, Kind.UNASSIGN, actor, "", data, at)


def _assigns(ev: Event, role: Role, person: str) -> bool:
    """Did `ev` give `person` the `role` (an assignment, or command at declaration)?"""
    if ev.kind is Kind.DECLARE:
        return role is Role.COMMANDER and ev.data.get("commander") == person
    return bool(ev.data["role"] == role.value and ev.data["person"] == person)


@verb
def retitle(
    tx: Tx, ref: IncidentRef, title: str, *, actor: str, at: datetime | None = None
) -> Event:
    """Give the incident a new title; every earlier one stays in its event."""
    tx.text(title, "title")
    state = tx.state(ref)
    if title == state.incident.title:
        raise RuleViolation(f"{state.incident.key} is already titled that")
    source = queries.source_event(tx, state.incident.id, (Kind.DECLARE, Kind.RETITLE), _any)
    data = {"from": state.incident.title, "corrects": source.id}
    return tx.append(state.incident.id, Kind.RETITLE, actor, title, data, at)


@verb
def set_summary(
    tx: Tx, ref: IncidentRef, text: str, *, actor: str, at: datetime | None = None
) -> Event:
    """Replace the incident's one-paragraph summary (the one given at declaration)."""
    tx.text(text, "summary")
    state = tx.state(ref)
    if text == state.incident.summary:
        raise RuleViolation(f"{state.incident.key} already has that summary")
    source = queries.source_event(tx, state.incident.id, (Kind.DECLARE, Kind.SUMMARY), _any)
    return tx.append(state.incident.id, Kind.SUMMARY, actor, text, {"corrects": source.id}, at)


def _any(ev: Event) -> bool:
    """Every event of the kinds asked for concerns the incident's one field."""
    return True


@verb
def mark(
    tx: Tx,
    ref: IncidentRef,
    what: Mark,
    when: datetime,
    reason: str,
    *,
    actor: str,
    at: datetime | None = None,
) -> Event:
    """Re-mark when impact began (earlier than thought, or a worse impact began) or
    when it was detected. The metrics measure from the latest mark of each, and say
    which event that is; the reason says why the moment moved.

    Detection cannot follow the declaration. A worse impact may begin after
    detection: the time to detect then reads as out of order, which it is."""
    tx.text(reason, "reason")
    tx.check_at(when, f"{what} time")
    state = tx.state(ref)
    inc = state.incident
    if what is Mark.DETECTED and when > inc.declared_at:
        raise InvalidInput("detected-at is after the declaration")
    if when == (inc.started_at if what is Mark.IMPACT else inc.detected_at):
        raise RuleViolation(f"{inc.key}'s {what} time is already {ts(when)}")
    source = queries.source_event(
        tx,
        inc.id,
        (Kind.DECLARE, Kind.MARK),
        lambda ev: ev.kind is Kind.DECLARE or ev.data["what"] == what.value,
    )
    data = {"what": what.value, "at": ts(when), "corrects": source.id}
    return tx.append(inc.id, Kind.MARK, actor, reason, data, at)


@verb
def set_impact(
    tx: Tx,
    ref: IncidentRef,
    *,
    actor: str,
    customer_impact: str | None = None,
    services: Sequence[str] | None = None,
    users_affected: int | None = None,
    records_affected: int | None = None,
    data_loss_from: datetime | None = None,
    data_loss_to: datetime | None = None,
    at: datetime | None = None,
) -> Impact:
    """Merge the given impact fields into the incident's impact, as one event.

    None leaves a field as it was; "" and [] clear the text and the services. A
    count or a time is corrected by giving the right one. The event holds the whole
    impact as it now stands, so its projection needs no other event."""
    if customer_impact:
        tx.text(customer_impact, "customer impact")
    for what, count in (("users affected", users_affected), ("records affected", records_affected)):
        if count is not None and count < 0:
            raise InvalidInput(f"{what} is negative")
    tx.check_at(data_loss_from, "data loss start")
    tx.check_at(data_loss_to, "data loss end")
    state = tx.state(ref)
    old = state.impact
    new = Impact(
        customer_impact=old.customer_impact if customer_impact is None else customer_impact,
        services=old.services
        if services is None
        else tuple(dict.fromkeys(rules.check_name(s, "service") for s in services)),
        users_affected=old.users_affected if users_affected is None else users_affected,
        records_affected=old.records_affected if records_affected is None else records_affected,
        data_loss_from=old.data_loss_from if data_loss_from is None else data_loss_from,
        data_loss_to=old.data_loss_to if data_loss_to is None else data_loss_to,
    )
    if new == replace(old, updated_at=None, updated_by=None):
        raise InvalidInput("nothing to change: give an impact field with a new value")
    if new.data_loss_from and new.data_loss_to and new.data_loss_from > new.data_loss_to:
        raise InvalidInput("data loss ends before it starts")
    fields = {k: v for k, v in asdict(new).items() if k not in ("updated_at", "updated_by")}
    for k in ("data_loss_from", "data_loss_to"):
        fields[k] = ts(fields[k]) if fields[k] else None
    fields["services"] = list(new.services)
    data: dict[str, Any] = {"impact": fields}
    if old.updated_at is not None:
        data["corrects"] = queries.source_event(tx, state.incident.id, (Kind.IMPACT,), _any).id
    ev = tx.append(state.incident.id, Kind.IMPACT, actor, "impact", data, at)
    return replace(new, updated_at=ev.occurred_at, updated_by=actor)
