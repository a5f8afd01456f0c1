"""Stakeholder updates and escalation contacts told."""

from __future__ import annotations

from datetime import datetime

from ... import rules
from ...models import Audience, Event, Kind, NotFound
from .. import queries
from ..reader import IncidentRef
from ..tx import Tx, verb


@verb
def send_update(
    tx: Tx,
    ref: IncidentRef,
    audience: Audience,
    text: str,
    *,
    actor: str,
    channel: str = "",
    final: bool = False,
    at: datetime | None = None,
) -> Event:
    """Log a stakeholder update; it resets the cadence countdown."""
    tx.text(text, "update")
    if channel:
        channel = rules.check_name(channel, "channel")
    n = tx.incident_id(ref, writable=True)
    data = {"audience": audience.value, "channel": channel, "final": final}
    return tx.append(n, Kind.UPDATE, actor, text, data, at)


@verb
def notify(tx: Tx, ref: IncidentRef, who: str, *, actor: str, at: datetime | None = None) -> Event:
    """Check off an escalation contact as told. Telling someone already told still
    lands (two people both called them; a dialog opened before the first was
    recorded), and says who had told them first (`already`)."""
    who = rules.check_name(who, "contact")
    n = tx.incident_id(ref, writable=True)
    data = {"who": who}
    first = tx.scalar(
        "SELECT notified_by FROM notifications WHERE incident_id = ? AND who = ?", (n, who)
    )
    if first is not None:
        data["already"] = first
    return tx.append(n, Kind.NOTIFY, actor, who, data, at)


@verb
def unnotify(
    tx: Tx, ref: IncidentRef, who: str, reason: str, *, actor: str, at: datetime | None = None
) -> Event:
    """Retract a contact checked off by mistake: pending again, the notification and
    its retraction both on the record. `who` matches the contact as recorded, or in
    any case if no spelling matches exactly."""
    who = rules.check_name(who, "contact")
    tx.text(reason, "reason")
    state = tx.state(ref)
    told = [n.who for n in state.notifications]
    recorded = next(
        (w for w in told if w == who),
        next((w for w in told if w.casefold() == who.casefold()), None),
    )
    if recorded is None:
        raise NotFound(f"{who} is not notified on {state.incident.key}")
    source = queries.source_event(
        tx, state.incident.id, (Kind.NOTIFY,), lambda ev: ev.data["who"] == recorded
    )
    data = {"who": recorded, "corrects": source.id}
    return tx.append(state.incident.id, Kind.UNNOTIFY, actor, reason, data, at)
