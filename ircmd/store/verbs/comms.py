"""Stakeholder updates and escalation contacts told."""

from __future__ import annotations

from datetime import datetime

from ... import rules
from ...models import Audience, Event, Kind
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
    """Check off an escalation contact as told."""
    who = rules.check_name(who, "contact")
    return tx.append(tx.incident_id(ref, writable=True), Kind.NOTIFY, actor, who, {"who": who}, at)
