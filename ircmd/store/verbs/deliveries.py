"""Deliveries' outcomes on the record, and a failed delivery queued again.

Each verb appends its `delivery` event and updates the delivery's row in one
transaction: the row is the outbox's queue, the event is what the timeline shows
reached whom (or why it did not).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...hooks import outbox
from ...models import Event, Kind, NotFound, RuleViolation
from ..record import ts
from ..tx import Tx, verb

#: `ircmd deliveries` and the timeline name a delivery by this.
DELIVERY_PREFIX = "DLV-"

#: The outcomes a `delivery` event records. "failed" with `retry_at` is a transient
#: failure that will be tried again; "requeued" is a person queuing one again.
OUTCOMES = ("sent", "failed", "gave_up", "requeued")


@dataclass(frozen=True)
class Result:
    """What became of one attempt, as the deliverer settled it (`deliverer.settle`)."""

    outcome: str  # sent | failed | gave_up
    status: str
    reason: str = ""
    retry_at: datetime | None = None  # failed, to be tried again then
    #: Append the outcome as an event. Every final outcome is; of the transient
    #: failures only the first and each that differs from the one before, so a
    #: receiver down for an hour is a few lines on the timeline, not hundreds.
    record: bool = True


@verb
def record_delivery(
    tx: Tx, delivery_id: int, result: Result, *, actor: str, owner: str
) -> Event | None:
    """Record one attempt of a delivery `owner` holds. None (nothing written) if the
    lease was lost meanwhile: another deliverer holds the delivery and records it."""
    rows = tx.rows(
        "SELECT event_id, incident_id, hook, attempts FROM deliveries"
        " WHERE id = ? AND state = ? AND lease_owner = ?",
        (delivery_id, outbox.SENDING, owner),
    )
    if not rows:
        return None
    event_id, incident_id, hook, attempt = rows[0]
    if result.outcome == "failed" and result.retry_at is not None:
        state, next_at = outbox.QUEUED, ts(result.retry_at)
    else:
        state, next_at = (
            {"sent": outbox.SENT, "failed": outbox.FAILED}.get(result.outcome, outbox.GAVE_UP),
            ts(tx.clock()),
        )
    tx.execute(
        "UPDATE deliveries SET state = ?, next_at = ?, lease_owner = NULL, lease_until = NULL,"
        " last_status = ?, last_reason = ? WHERE id = ?",
        (state, next_at, result.status, result.reason, delivery_id),
    )
    if not result.record:
        return None
    data: dict[str, Any] = {
        "of": event_id,
        "hook": hook,
        "delivery": delivery_id,
        "outcome": result.outcome,
        "status": result.status,
        "reason": result.reason,
        "attempt": attempt,
    }
    if state == outbox.QUEUED and result.retry_at is not None:
        data["retry_at"] = ts(result.retry_at)
    return tx.append(incident_id, Kind.DELIVERY, actor, "", data)


@verb
def retry_delivery(tx: Tx, delivery_id: int, *, actor: str) -> Event:
    """Queue a failed or given-up delivery again, due now, with a fresh give-up
    time; who asked is on the record."""
    rows = tx.rows(
        "SELECT event_id, incident_id, hook, state, attempts FROM deliveries WHERE id = ?",
        (delivery_id,),
    )
    if not rows:
        raise NotFound(f"no delivery {DELIVERY_PREFIX}{delivery_id}")
    event_id, incident_id, hook, state, attempts = rows[0]
    if state not in outbox.RETRYABLE:
        raise RuleViolation(
            f"delivery {DELIVERY_PREFIX}{delivery_id} is {outbox.shown_state(state, attempts)}:"
            " only a failed or given-up one is queued again"
        )
    now = ts(tx.clock())
    tx.execute(
        "UPDATE deliveries SET state = ?, next_at = ?, queued_at = ?, lease_owner = NULL,"
        " lease_until = NULL WHERE id = ?",
        (outbox.QUEUED, now, now, delivery_id),
    )
    data = {
        "of": event_id,
        "hook": hook,
        "delivery": delivery_id,
        "outcome": "requeued",
        "status": "",
        "reason": "",
        "attempt": attempts,
    }
    return tx.append(incident_id, Kind.DELIVERY, actor, "", data)
