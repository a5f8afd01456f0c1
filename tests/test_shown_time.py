"""Times that cannot be meant are refused; metrics never run backwards. Issue 9 §4.

The Store takes an injected clock, so nothing here depends on the wall clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import RunCli, assert_error, assert_ok, event_count
from helpers.db import Ref
from helpers.screen import declared, message_text, running, submit, until
from hypothesis import given
from hypothesis import strategies as st

from ircmd import report, rules
from ircmd.models import Audience, Event, InvalidInput, Kind, Metrics, Role, Severity, Status
from ircmd.store import Store
from ircmd.widgets.process import metrics_line

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
STARTED = T0 - timedelta(hours=2)  # impact start: the incident's origin
SKEW = timedelta(minutes=1)
WEEK = timedelta(days=7)


@pytest.fixture
def db_path(db_ref: Ref) -> Ref:
    """The record `run_cli` writes: on each backend in turn."""
    return db_ref


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[Store]:
    async with await Store.open(db_path, clock=lambda: T0) as s:
        await s.declare("checkout down", actor="alice", severity=Severity.SEV2, started_at=STARTED)
        await s.add_evidence(1, "disk image", actor="alice")
        await s.add_item(1, "roll back", actor="alice")
        yield s


Write = Callable[[Store, datetime], Awaitable[Any]]
# Every verb that takes a time (`--at`), each writing one event of incident 1.
VERBS: dict[str, Write] = {
    "log": lambda s, at: s.log(1, "note", actor="alice", at=at),
    "amend": lambda s, at: s.amend(1, 1, "fixed", actor="alice", at=at),
    "severity": lambda s, at: s.set_severity(1, Severity.SEV1, actor="alice", at=at),
    "status": lambda s, at: s.set_status(1, Status.TRIAGED, actor="alice", at=at),
    "assign": lambda s, at: s.assign(1, Role.SCRIBE, "bob", actor="alice", at=at),
    "checklist add": lambda s, at: s.add_item(1, "step", actor="alice", at=at),
    "check": lambda s, at: s.check(1, 1, actor="alice", at=at),
    "update": lambda s, at: s.send_update(1, Audience.INTERNAL, "hi", actor="alice", at=at),
    "notify": lambda s, at: s.notify(1, "CTO", actor="alice", at=at),
    "evidence add": lambda s, at: s.add_evidence(1, "logs", actor="alice", at=at),
    "evidence transfer": lambda s, at: s.transfer_evidence(
        1, 1, "bob", reason="lab", actor="alice", at=at
    ),
    "evidence amend": lambda s, at: s.amend_evidence(1, 1, "sealed", actor="alice", at=at),
    "review": lambda s, at: s.save_review(1, actor="alice", summary="s", at=at),
    "action add": lambda s, at: s.add_action(1, "canary", actor="alice", at=at),
}


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize(
    ("at", "says"),
    [
        (T0 + SKEW + timedelta(seconds=1), "in the future"),
        (T0 + timedelta(days=400), "in the future"),
        (STARTED - WEEK - timedelta(seconds=1), "more than a week before"),
        (STARTED - timedelta(days=365), "more than a week before"),
    ],
    ids=["just-future", "next-year", "a-week-and-a-second-early", "a-year-early"],
)
async def test_every_verb_refuses_an_implausible_time(
    store: Store, db_path: Path, verb: str, at: datetime, says: str
) -> None:
    before = event_count(db_path)
    with pytest.raises(InvalidInput, match=says):
        await VERBS[verb](store, at)
    assert event_count(db_path) == before


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize(
    "at",
    [T0 + SKEW, T0 - timedelta(minutes=30), STARTED, STARTED - WEEK],
    ids=["a-minute-of-skew", "back-dated", "impact-start", "a-week-early"],
)
async def test_back_dating_within_the_incident_stays_easy(
    store: Store, verb: str, at: datetime
) -> None:
    ev = await VERBS[verb](store, at)
    if isinstance(ev, Event):
        assert ev.occurred_at == at


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("at", [T0 + timedelta(days=1), STARTED - timedelta(days=30)])
async def test_force_time_records_what_it_is_told(store: Store, verb: str, at: datetime) -> None:
    store.force_time = True
    ev = await VERBS[verb](store, at)
    if isinstance(ev, Event):
        assert ev.occurred_at == at
    assert (await store.verify()).ok


async def test_the_origin_is_impact_start_else_detection_else_declaration(db_path: Path) -> None:
    async with await Store.open(db_path, clock=lambda: T0) as s:
        await s.declare("a", actor="alice", severity=Severity.SEV3, detected_at=T0 - WEEK)
        await s.declare("b", actor="alice", severity=Severity.SEV3, at=T0 - timedelta(days=2))
        ten_days = T0 - timedelta(days=10)
        await s.log(1, "from detection: fine", actor="alice", at=ten_days)
        with pytest.raises(InvalidInput, match="more than a week before"):
            await s.log(2, "from declaration: refused", actor="alice", at=ten_days)


async def test_declare_refuses_future_detection_and_start(db_path: Path) -> None:
    async with await Store.open(db_path, clock=lambda: T0) as s:
        for field in ("at", "detected_at", "started_at"):
            with pytest.raises(InvalidInput, match="in the future"):
                await s.declare(
                    "x", actor="alice", severity=Severity.SEV3, **{field: T0 + timedelta(hours=1)}
                )
        assert await s.list_incidents() == []


def test_cli_refuses_unless_forced(run_cli: RunCli, db_path: Path) -> None:
    assert_ok(run_cli("declare", "outage", "--severity", "SEV3"))
    assert_error(run_cli("log", "INC-1", "x", "--at", "2999-01-01T00:00"), "in the future")
    assert_error(run_cli("log", "INC-1", "x", "--at", "2001-01-01T00:00"), "a week before")
    assert event_count(db_path) == 1
    assert_ok(run_cli("--force-time", "log", "INC-1", "typo kept", "--at", "2001-01-01T00:00"))
    forced = {"IRCMD_FORCE_TIME": "1"}
    assert_ok(run_cli("log", "INC-1", "clock wrong", "--at", "2999-01-01T00:00", env=forced))
    assert event_count(db_path) == 3


# ------------------------------------------------------------------- metrics


def event(n: int, kind: Kind, at: datetime, **data: Any) -> Event:
    return Event(
        id=n,
        incident_id=1,
        occurred_at=at,
        recorded_at=at,
        actor="alice",
        kind=kind,
        text="",
        data=data,
        prev_hash="0" * 64,
        hash="0" * 64,
    )


TIMES = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 1, 10), timezones=st.just(UTC)
)


@given(
    declared=TIMES,
    started=st.none() | TIMES,
    detected=st.none() | TIMES,
    ack=st.none() | TIMES,
    contained=st.none() | TIMES,
    resolved=st.none() | TIMES,
)
def test_metrics_are_never_negative(
    declared: datetime,
    started: datetime | None,
    detected: datetime | None,
    ack: datetime | None,
    contained: datetime | None,
    resolved: datetime | None,
) -> None:
    events = [
        event(
            1,
            Kind.DECLARE,
            declared,
            severity="SEV2",
            started_at=started.isoformat() if started else None,
            detected_at=detected.isoformat() if detected else None,
        )
    ]
    if ack:
        events.append(event(2, Kind.ASSIGN, ack, role="commander", person="ian"))
    for n, (when, to) in enumerate(((contained, "contained"), (resolved, "resolved")), 3):
        if when:
            events.append(event(n, Kind.STATUS, when, **{"from": "reported", "to": to}))
    m = rules.metrics(events)
    for name, seconds in m.durations().items():
        assert seconds is None or seconds >= 0, (name, seconds)
        assert (name in m.out_of_order) == (m.note(name) != "")


async def test_a_backwards_metric_is_unknown_and_says_why(
    store: Store, run_cli: RunCli, db_path: Path
) -> None:
    # The commander was assigned (back-dated) before the declaration was written.
    await store.assign(1, Role.COMMANDER, "ian", actor="alice", at=T0 - timedelta(minutes=10))
    await store.add_action(1, "canary", actor="ian", owner="dave", due=date(2026, 4, 1))
    m = rules.metrics(await store.events(1))
    assert m.time_to_acknowledge is None and m.out_of_order == ("time_to_acknowledge",)
    md = report.incident_markdown(await store.state(1), await store.events(1), T0)
    assert (
        "- time to acknowledge: - (its times are out of order in the record)"
        " (from declared 09:00 UTC to commander assigned 08:50 UTC)\n"
    ) in md
    out = assert_ok(run_cli("metrics", "INC-1"))
    assert "time to acknowledge  - (its times are out of order in the record)" in out
    assert "-10m" not in out and "-10m" not in md
    js = report.metrics_json(m)
    assert js["time_to_acknowledge"] is None and js["out_of_order"] == ["time_to_acknowledge"]


def test_the_screen_says_a_metric_is_out_of_order() -> None:
    line = metrics_line(Metrics(time_to_detect=60.0, out_of_order=("time_to_acknowledge",)))
    assert "detect 1m 00s" in line.plain
    assert "ack - (out of order)" in line.plain


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("/at 2999-01-01T00:00 from the future", "in the future"),
        ("/at 2020-01-01T00:00 long before", "more than a week before"),
    ],
)
async def test_the_screen_refuses_an_implausible_time_and_keeps_the_line(
    db_ref: Path | str, line: str, says: str
) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        screen = await submit(pilot, line)
        assert says in message_text(screen)
        assert screen.bar.value == line, "nothing typed is lost"
    assert event_count(db) == 1


async def test_the_screen_records_it_with_force_time(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db, force_time=True) as pilot:
        await submit(pilot, "/at 2020-01-01T00:00 long before")
        await until(pilot, lambda: event_count(db) == 2)
