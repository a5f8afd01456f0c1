"""Models built by hand for the pure rules, at a fixed time, and a clock that moves
only when a test moves it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ircmd.models import (
    Action,
    ActionStatus,
    ActionType,
    Audience,
    ChecklistItem,
    CommsUpdate,
    Event,
    Incident,
    IncidentState,
    Kind,
    Phase,
    Severity,
    Status,
)

T0 = datetime(2026, 11, 23, 23, 40, tzinfo=UTC)  # 20 minutes before midnight UTC


class Clock:
    """A clock that moves only when a test moves it: `clock.now += ...` or `tick()`."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def tick(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


def incident(**kw: Any) -> Incident:
    base: dict[str, Any] = dict(
        id=1,
        title="t",
        severity=Severity.SEV2,
        status=Status.REPORTED,
        declared_at=T0,
        declared_by="alice",
        updated_at=T0,
        last_event_id=1,
    )
    return Incident(**(base | kw))


def state(**kw: Any) -> IncidentState:
    inc = kw.pop("incident", None) or incident()
    return IncidentState(incident=inc, **kw)


def upd(at: datetime, final: bool = False) -> CommsUpdate:
    return CommsUpdate(
        event_id=1, audience=Audience.INTERNAL, text="u", sent_at=at, sent_by="c", final=final
    )


def act(**kw: Any) -> Action:
    base: dict[str, Any] = dict(
        id=1,
        incident_id=1,
        title="fix",
        type=ActionType.CORRECTIVE,
        owner="dave",
        due="2026-11-23",
        review_date=None,
        status=ActionStatus.OPEN,
        created_at=T0,
        updated_at=T0,
    )
    return Action(**(base | kw))


def ev(n: int, kind: Kind, at: datetime, **data: Any) -> Event:
    return Event(
        id=n, incident_id=1, occurred_at=at, recorded_at=at, actor="a", kind=kind, data=data
    )


C, R = Phase.CONTAINMENT, Phase.RECOVERY
FINAL = "no final update sent (send one after resolving, or mark it --final)"


def item(n: int, phase: Phase, done: bool = False) -> ChecklistItem:
    """Checklist step `n`, done by rex at T0 when `done`."""
    return ChecklistItem(
        n=n,
        phase=phase,
        text=f"step {n}",
        done=done,
        done_by="rex" if done else None,
        done_at=T0 if done else None,
        added_by="alice",
        added_at=T0,
    )
