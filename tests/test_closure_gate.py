"""The closure gate counts the checklist: containment and recovery steps not done
block `closed` (unless overridden with a reason), never `resolved`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from helpers.builders import FINAL, T0, C, R, incident, item
from helpers.db import Ref

from ircmd import rules
from ircmd.models import (
    Audience,
    ChecklistItem,
    ClosureRefused,
    CommsUpdate,
    IncidentState,
    Playbook,
    Review,
    RuleViolation,
    Severity,
    Status,
)
from ircmd.store import Store


def state(*items: ChecklistItem, **kw: Any) -> IncidentState:
    """An incident that lacks nothing but, perhaps, checklist steps."""
    inc = incident(status=Status.IN_REVIEW)
    base: dict[str, Any] = dict(
        review=Review(summary="s", root_cause="r", lessons="l", updated_at=T0),
        updates=(
            CommsUpdate(
                event_id=1,
                audience=Audience.EXTERNAL,
                text="done",
                sent_at=T0,
                sent_by="cara",
                final=True,
            ),
        ),
    )
    return IncidentState(incident=inc, checklist=items, **(base | kw))


# ------------------------------------------------------------------ pure rule


def test_all_steps_done_leaves_no_gaps() -> None:
    s = state(item(1, C, True), item(2, C, True), item(3, R, True))
    assert rules.closure_gaps(s, None) == []
    assert rules.closure_gaps(state(), None) == []  # no checklist at all


def test_open_steps_listed_per_phase_with_their_numbers() -> None:
    # numbers run across both phases, as `check N` and the screen show them
    s = state(
        item(1, C, True),
        item(2, C, True),
        item(3, C),
        item(4, C, True),
        item(5, C),
        item(6, R, True),
        item(7, R),
        item(8, R),
        item(9, R),
        item(10, R),
        item(11, C, True),  # an ad-hoc containment step added late
    )
    assert rules.closure_gaps(s, None) == [
        "2 containment steps not done (3, 5)",
        "4 recovery steps not done (7, 8, 9, 10)",
    ]


def test_one_open_step_is_singular_and_each_phase_stands_alone() -> None:
    assert rules.closure_gaps(state(item(1, C, True), item(2, R)), None) == [
        "1 recovery step not done (2)"
    ]
    assert rules.closure_gaps(state(item(1, C), item(2, R, True)), None) == [
        "1 containment step not done (1)"
    ]


def test_checklist_gaps_come_before_the_others() -> None:
    s = state(item(1, R), review=Review(), updates=())
    assert rules.closure_gaps(s, None) == [
        "1 recovery step not done (1)",
        "review missing: summary, root cause, lessons",
        FINAL,
    ]


# ---------------------------------------------------------- through the store


@pytest.fixture
async def store(db_ref: Ref) -> AsyncIterator[Store]:
    s = await Store.open(db_ref, clock=lambda: T0)
    try:
        yield s
    finally:
        await s.close()


BOOK = Playbook(
    name="drill",
    title="Drill",
    containment=("isolate", "block", "snapshot"),
    recovery=("restore", "close the status-page notice with a final update"),
)


async def _reviewed(store: Store) -> int:
    """Declared with a 3+2 step playbook; everything but the checklist is in order."""
    inc = await store.declare("x", actor="alice", severity=Severity.SEV2, playbook=BOOK)
    await store.save_review(inc.id, actor="alice", summary="s", root_cause="r", lessons="l")
    await store.add_action(inc.id, "a", actor="alice", owner="dave", due=date(2026, 12, 1))
    return inc.id


async def test_resolved_is_not_gated_but_closed_is(store: Store) -> None:
    n = await _reviewed(store)
    await store.check(n, 1, actor="rex")
    await store.set_status(n, Status.RESOLVED, actor="alice")  # recovery may still be open
    await store.send_update(n, Audience.EXTERNAL, "resolved", actor="cara")
    with pytest.raises(ClosureRefused) as e:
        await store.set_status(n, Status.CLOSED, actor="alice")
    assert e.value.incident_key == "INC-1"
    assert e.value.gaps == [
        "2 containment steps not done (2, 3)",
        "2 recovery steps not done (4, 5)",
    ]
    assert str(e.value) == (
        "cannot close INC-1, 2 missing: (1) 2 containment steps not done (2, 3);"
        " (2) 2 recovery steps not done (4, 5); fix these or override with a reason"
    )
    assert (await store.incident(n)).status is Status.RESOLVED
    for step in (2, 3, 4, 5):
        await store.check(n, step, actor="rex")
    ev = await store.set_status(n, Status.CLOSED, actor="alice")
    assert ev.data == {"from": "resolved", "to": "closed"}


async def test_checked_then_unchecked_step_is_not_done(store: Store) -> None:
    n = await _reviewed(store)
    for step in range(1, 6):
        await store.check(n, step, actor="rex")
    await store.check(n, 4, actor="rex", done=False)
    await store.set_status(n, Status.RESOLVED, actor="alice")
    await store.send_update(n, Audience.EXTERNAL, "resolved", actor="cara")
    st = await store.state(n)
    assert rules.closure_gaps(st, st.incident.resolved_at) == ["1 recovery step not done (4)"]
    with pytest.raises(RuleViolation, match=r"1 recovery step not done \(4\)"):
        await store.set_status(n, Status.CLOSED, actor="alice")


async def test_override_records_the_open_steps(store: Store) -> None:
    n = await _reviewed(store)
    await store.check(n, 2, actor="rex")
    ev = await store.set_status(n, Status.CLOSED, actor="alice", override="drill only")
    assert ev.data["override"] == "drill only"
    assert ev.data["gaps"] == [
        "2 containment steps not done (1, 3)",
        "2 recovery steps not done (4, 5)",
        FINAL,
    ]
    assert (await store.incident(n)).status is Status.CLOSED
