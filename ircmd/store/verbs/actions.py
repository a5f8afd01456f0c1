"""Follow-up actions: adding them and moving them through their states."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ... import rules
from ...models import Action, ActionStatus, ActionType, InvalidInput, Kind, RuleViolation
from .. import queries
from ..reader import IncidentRef
from ..tx import Tx, verb


@verb
def add_action(
    tx: Tx,
    ref: IncidentRef,
    title: str,
    *,
    actor: str,
    owner: str | None = None,
    due: date | None = None,
    type: ActionType = ActionType.CORRECTIVE,
    review_date: date | None = None,
    at: datetime | None = None,
) -> Action:
    """A follow-up action; it may start without owner or due, but closing needs both."""
    tx.text(title, "action title")
    if owner:
        owner = rules.check_name(owner, "owner")
    n = tx.incident_id(ref, writable=True)
    aid = tx.scalar("SELECT coalesce(max(id), 0) FROM actions") + 1
    data = {
        "action_id": aid,
        "type": type.value,
        "owner": owner,
        "due": due.isoformat() if due else None,
        "review_date": review_date.isoformat() if review_date else None,
    }
    tx.append(n, Kind.ACTION_ADD, actor, title, data, at)
    return queries.action(tx, aid)


@verb
def set_action(
    tx: Tx,
    action_id: int,
    status: ActionStatus | None = None,
    *,
    actor: str,
    note: str = "",
    evidence: str = "",
    owner: str | None = None,
    due: date | None = None,
    review_date: date | None = None,
    at: datetime | None = None,
) -> Action:
    """Move an action through its states and/or change owner and dates."""
    if owner:
        owner = rules.check_name(owner, "owner")
    for what, value in (("note", note), ("evidence", evidence)):
        if value:
            tx.text(value, what)
    action = queries.action(tx, action_id)
    new = status or action.status
    if status is not None:
        rules.check_action_transition(action.status, status, note)
    elif not (owner or due or review_date or note or evidence):
        raise InvalidInput(
            "nothing to change: give a status, --owner, --due, --review, --note or --evidence"
        )
    data: dict[str, Any] = {"action_id": action_id, "from": action.status.value, "to": new.value}
    if new is ActionStatus.WONT_DO and status:
        data["reason"] = note
    if new is ActionStatus.VERIFIED and status:
        data["verification"] = note
    if evidence:
        data["closure_evidence"] = evidence
    if owner:
        data["owner"] = owner
    if due:
        data["due"] = due.isoformat()
    if review_date:
        data["review_date"] = review_date.isoformat()
    tx.append(action.incident_id, Kind.ACTION_SET, actor, note, data, at)
    return queries.action(tx, action_id)


@verb
def retype_action(
    tx: Tx,
    action_id: int,
    type: ActionType,
    *,
    actor: str,
    reason: str = "",
    at: datetime | None = None,
) -> Action:
    """Correct whether an action is corrective or preventive. Like `set_action`, it
    goes on after the incident closes: follow-ups outlive the incident."""
    if reason:
        tx.text(reason, "reason")
    action = queries.action(tx, action_id)
    if type is action.type:
        raise RuleViolation(f"{action.key} is already {type}")
    source = queries.source_event(
        tx,
        action.incident_id,
        (Kind.ACTION_ADD, Kind.ACTION_RETYPE),
        lambda ev: ev.data["action_id"] == action_id,
    )
    data = {
        "action_id": action_id,
        "from": action.type.value,
        "to": type.value,
        "corrects": source.id,
    }
    tx.append(action.incident_id, Kind.ACTION_RETYPE, actor, reason, data, at)
    return queries.action(tx, action_id)


@verb
def link_action(
    tx: Tx, action_id: int, url: str, *, actor: str, at: datetime | None = None
) -> Action:
    """Record where an action is tracked outside ircmd (the issue a hook opened for
    it). A later link replaces it, naming the one it replaces; the action's status
    and its verification stay in ircmd. Like `set_action`, it goes on after the
    incident closes."""
    url = rules.check_link(url)
    action = queries.action(tx, action_id)
    if action.link == url:
        raise RuleViolation(f"{action.key} already links to {url}")
    data = {"action_id": action_id, "from": action.link}
    tx.append(action.incident_id, Kind.ACTION_LINK, actor, url, data, at)
    return queries.action(tx, action_id)
