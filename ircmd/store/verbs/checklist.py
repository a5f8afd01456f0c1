"""The checklist: ad-hoc steps, checking them, and playbooks that add steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ... import rules
from ...models import (
    ChecklistItem,
    Event,
    Kind,
    NotFound,
    Phase,
    Playbook,
    RuleViolation,
)
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
    once both count), and says who had checked it."""
    state = tx.state(ref)
    item = next((i for i in state.checklist if i.n == n), None)
    if item is None:
        raise NotFound(f"no checklist item {n} on {state.incident.key}")
    data: dict[str, Any] = {"n": n, "phase": item.phase.value}
    if item.done and done:
        data["already"] = item.done_by
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
