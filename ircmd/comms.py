"""Drafts of stakeholder updates, pre-filled from the incident's state. Pure.

The comms lead edits the draft before sending; the draft only saves them from
writing severity, status, progress and the next-update time by hand at 3 a.m.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from . import display, rules
from .models import Audience, CommsUpdate, IncidentState, Phase, Role, Status

_EXTERNAL_STATUS = {
    Status.REPORTED: "We are investigating reports of a problem",
    Status.TRIAGED: "We have identified the problem and are working on it",
    Status.CONTAINED: "The impact is contained and we are working on a full fix",
    Status.RECOVERING: "A fix is in place and service is recovering",
    Status.RESOLVED: "The problem is resolved",
    Status.IN_REVIEW: "The problem is resolved",
    Status.CLOSED: "The problem is resolved",
}


def draft_update(
    state: IncidentState,
    audience: Audience,
    now: datetime,
    latest_decision: str | None = None,
) -> str:
    """One paragraph: where things stand, what is being done, when the next update comes."""
    inc = state.incident
    due = rules.next_update_due(_after_sending(state, now))
    next_line = f" Next update by {display.hhmm(due)} UTC." if due else ""
    if audience is Audience.EXTERNAL:
        return f"{_EXTERNAL_STATUS[inc.status]}: {inc.title}.{next_line}"
    # Until contained, progress is containment; after that, it is recovery.
    contained = inc.status.rank >= Status.CONTAINED.rank
    phase = Phase.RECOVERY if contained else Phase.CONTAINMENT
    steps = [i for i in state.checklist if i.phase is phase]
    done = sum(i.done for i in steps)
    parts = [
        f"{inc.key} {inc.severity} ({inc.severity.label}), {inc.status}: {inc.title}.",
        f"Impact {inc.impact or 'unknown'}, urgency {inc.urgency or 'unknown'}.",
    ]
    if steps:
        open_steps = [i.text for i in steps if not i.done and not i.skipped][:2]
        doing = f" Next: {'; '.join(open_steps)}." if open_steps else ""
        parts.append(f"{phase.value.capitalize()} {done}/{len(steps)} steps done.{doing}")
    if latest_decision:
        parts.append(f"Latest decision: {latest_decision}.")
    commander = state.people(Role.COMMANDER)
    if commander:
        parts.append(f"Commander: {commander[0]}.")
    return " ".join(parts) + next_line


def _after_sending(state: IncidentState, now: datetime) -> IncidentState:
    """The state as it will be once this update is sent: the cadence restarts now."""
    sent = CommsUpdate(event_id=0, audience=Audience.INTERNAL, text="-", sent_at=now, sent_by="-")
    return replace(state, updates=(*state.updates, sent))
