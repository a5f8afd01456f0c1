"""The checklist: ad-hoc steps, checking them, and playbooks that add steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ... import rules
from ...models import (
    ChecklistItem,
    Event,
    IncidentState,
    Kind,
    NotFound,
    Phase,
    Playbook,
    RuleViolation,
)
from .. import queries
from ..reader import IncidentRef
from ..tx import Tx, verb


@verb
def add_item(
    tx: Tx,
    ref: IncidentRef,
    text: str,
    *,
    actor: str,
    phase: Phase = Phase.CONTAINMENT,
    assignee: str | None = None,
    at: datetime | None = None,
) -> ChecklistItem:
    """An ad-hoc containment or recovery step; numbered after the existing ones."""
    tx.text(text, "step")
    if assignee:
        assignee = rules.check_name(assignee, "assignee")
    state = tx.state(ref)
    n = max((i.n for i in state.checklist), default=0) + 1
    data = {"n": n, "phase": phase.value, "assignee": assignee}
    ev = tx.append(state.incident.id, Kind.ITEM_ADD, actor, text, data, at)
    return ChecklistItem(
        n=n, phase=phase, text=text, assignee=assignee, added_by=actor, added_at=ev.occurred_at
    )


@verb
def check(
    tx: Tx,
    ref: IncidentRef,
    n: int,
    *,
    actor: str,
    done: bool = True,
    at: datetime | None = None,
) -> Event:
    """Check or uncheck item N. Checking a checked item still lands (two people at
    once both count), and says who had checked it. Either settles a skipped step
    afresh: checking it makes it done after all, unchecking makes it open again
    (`unskips` in the data says so)."""
    state = tx.state(ref)
    item = _step(state, n)
    data: dict[str, Any] = {"n": n, "phase": item.phase.value}
    if item.done and done:
        data["already"] = item.done_by
    if not done and not item.done and not item.skipped:
        raise RuleViolation(f"step {n} of {state.incident.key} is not checked: nothing to undo")
    if item.skipped:
        data["unskips"] = True
    kind = Kind.CHECK if done else Kind.UNCHECK
    return tx.append(state.incident.id, kind, actor, item.text, data, at)


@verb
def apply_playbook(
    tx: Tx, ref: IncidentRef, playbook: Playbook, *, actor: str, at: datetime | None = None
) -> Event:
    state = tx.state(ref)
    if any(p.name == playbook.name for p in state.playbooks):
        raise RuleViolation(f"playbook {playbook.name} is already applied to {state.incident.key}")
    return append_playbook(tx, state.incident.id, playbook, actor, at)


@verb
def skip_item(
    tx: Tx, ref: IncidentRef, n: int, reason: str, *, actor: str, at: datetime | None = None
) -> Event:
    """Mark step N not applicable, with the reason; the closure gate counts it settled.
    `check` or `uncheck` (to open) undoes it."""
    tx.text(reason, "reason")
    state = tx.state(ref)
    item = _step(state, n)
    if item.done:
        raise RuleViolation(f"step {n} is done; uncheck it first if it did not apply")
    if item.skipped:
        raise RuleViolation(f"step {n} was already skipped by {item.skipped_by}")
    data = {"n": n, "phase": item.phase.value}
    return tx.append(state.incident.id, Kind.SKIP, actor, reason, data, at)


@verb
def edit_item(
    tx: Tx, ref: IncidentRef, n: int, text: str, *, actor: str, at: datetime | None = None
) -> Event:
    """Correct step N's text; the text it had stays in the event that gave it."""
    tx.text(text, "step")
    state = tx.state(ref)
    item = _step(state, n)
    if text == item.text:
        raise RuleViolation(f"step {n} already reads that")
    source = _source(tx, state, n, Kind.ITEM_EDIT)
    data = {"n": n, "phase": item.phase.value, "from": item.text, "corrects": source.id}
    return tx.append(state.incident.id, Kind.ITEM_EDIT, actor, text, data, at)


@verb
def own_item(
    tx: Tx,
    ref: IncidentRef,
    n: int,
    person: str | None,
    *,
    actor: str,
    at: datetime | None = None,
) -> Event:
    """Give step N an owner, hand it to another, or (None) leave it with nobody."""
    owner = rules.check_name(person, "assignee") if person is not None else None
    state = tx.state(ref)
    item = _step(state, n)
    if owner == item.assignee:
        raise RuleViolation(
            f"step {n} is already {'owned by ' + owner if owner else 'without an owner'}"
        )
    source = _source(tx, state, n, Kind.ITEM_OWN)
    data = {
        "n": n,
        "phase": item.phase.value,
        "assignee": owner,
        "from": item.assignee,
        "corrects": source.id,
    }
    return tx.append(state.incident.id, Kind.ITEM_OWN, actor, owner or "", data, at)


def _step(state: IncidentState, n: int) -> ChecklistItem:
    item = next((i for i in state.checklist if i.n == n), None)
    if item is None:
        raise NotFound(f"no checklist item {n} on {state.incident.key}")
    return item


def _source(tx: Tx, state: IncidentState, n: int, change: Kind) -> Event:
    """The event that last set step N's field that `change` sets: the change before,
    or the step's addition (alone, or among a playbook's steps)."""

    def about(ev: Event) -> bool:
        d = ev.data
        return d.get("n") == n or any(s["n"] == n for s in d.get("steps", ()))

    return queries.source_event(
        tx, state.incident.id, (Kind.ITEM_ADD, Kind.PLAYBOOK, change), about
    )


def append_playbook(
    tx: Tx, incident_id: int, playbook: Playbook, actor: str, at: datetime | None
) -> Event:
    """The playbook's event: its steps numbered after the incident's existing ones."""
    first = (
        tx.scalar("SELECT coalesce(max(n), 0) FROM checklist WHERE incident_id = ?", (incident_id,))
        + 1
    )
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
    return tx.append(incident_id, Kind.PLAYBOOK, actor, playbook.name, data, at)
