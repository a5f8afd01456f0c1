"""Unit tests of the process rules (rules.py) and of the Store enforcing them.

Pure rules are tested on hand-built models; anything that needs a record runs
in-process against a Store with a controllable clock (fast, no subprocesses).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from helpers.builders import T0, Clock, act, ev, incident, state, upd
from helpers.db import Ref

from ircmd import rules
from ircmd.models import (
    ActionStatus,
    ActionType,
    AppliedPlaybook,
    Assignment,
    Audience,
    Evidence,
    InvalidInput,
    Kind,
    Level,
    NotFound,
    Notification,
    Playbook,
    Review,
    Role,
    RuleViolation,
    Severity,
    Status,
)
from ircmd.store import Store

# ------------------------------------------------------------------ fixtures


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
async def store(db_ref: Ref, clock: Clock) -> AsyncIterator[Store]:
    s = await Store.open(db_ref, clock=clock)
    try:
        yield s
    finally:
        await s.close()


# ------------------------------------------------------- severity matrix


H, M, L = Level.HIGH, Level.MEDIUM, Level.LOW


@pytest.mark.parametrize(
    ("impact", "urgency", "expected"),
    [
        (H, H, Severity.SEV1),
        (H, M, Severity.SEV2),
        (M, H, Severity.SEV2),
        (H, L, Severity.SEV3),
        (M, M, Severity.SEV3),
        (L, H, Severity.SEV3),
        (M, L, Severity.SEV4),
        (L, M, Severity.SEV4),
        (L, L, Severity.SEV4),
    ],
)
def test_severity_matrix_every_cell(impact: Level, urgency: Level, expected: Severity) -> None:
    assert rules.suggest_severity(impact, urgency) is expected


def test_severity_matrix_unknown_half_counts_as_medium() -> None:
    assert rules.suggest_severity(None, None) is Severity.SEV3
    assert rules.suggest_severity(H, None) is Severity.SEV2
    assert rules.suggest_severity(None, L) is Severity.SEV4


def test_parse_level_and_audience_refuse_junk() -> None:
    assert rules.parse_level(" High ", "impact") is Level.HIGH
    with pytest.raises(InvalidInput, match="impact"):
        rules.parse_level("critical", "impact")
    assert rules.parse_audience("EXTERNAL") is Audience.EXTERNAL
    with pytest.raises(InvalidInput, match="internal or external"):
        rules.parse_audience("public")


async def test_declare_suggests_and_records_the_classification(store: Store) -> None:
    inc = await store.declare("x", actor="alice", impact=H, urgency=M, type="outage")
    assert inc.severity is Severity.SEV2
    assert (inc.impact, inc.urgency, inc.type) == (H, M, "outage")
    declare = (await store.events(inc.id))[0]
    assert declare.data["suggested"] == "SEV2"
    # An explicit severity wins over the matrix, and the suggestion stays on the record.
    inc2 = await store.declare("y", actor="alice", impact=L, urgency=L, severity=Severity.SEV1)
    assert inc2.severity is Severity.SEV1
    assert (await store.events(inc2.id))[0].data["suggested"] == "SEV4"


async def test_playbook_severity_applies_when_nothing_else_says(store: Store) -> None:
    book = Playbook(name="sec", title="Sec", severity=Severity.SEV1)
    assert (await store.declare("a", actor="x", playbook=book)).severity is Severity.SEV1
    # impact x urgency given: the matrix decides; an explicit severity always wins
    assert (await store.declare("b", actor="x", playbook=book, impact=L, urgency=L)).severity is (
        Severity.SEV4
    )
    s = Severity.SEV2
    assert (await store.declare("c", actor="x", playbook=book, severity=s)).severity is s


async def test_declare_refuses_inconsistent_times(store: Store, clock: Clock) -> None:
    with pytest.raises(InvalidInput, match="detected-at is after"):
        await store.declare("x", actor="a", detected_at=T0 + timedelta(minutes=1))
    with pytest.raises(InvalidInput, match="started-at is after"):
        await store.declare(
            "x",
            actor="a",
            detected_at=T0 - timedelta(hours=1),
            started_at=T0 - timedelta(minutes=30),
        )


# ------------------------------------------------------------- cadence


@pytest.mark.parametrize(
    ("sev", "minutes"), [(Severity.SEV1, 30), (Severity.SEV2, 60), (Severity.SEV3, 240)]
)
def test_cadence_per_severity_from_declaration(sev: Severity, minutes: int) -> None:
    s = state(incident=incident(severity=sev))
    assert rules.next_update_due(s) == T0 + timedelta(minutes=minutes)


def test_cadence_runs_across_midnight_from_the_latest_update() -> None:
    # declared 23:40, updates at 23:50 and (back-dated, out of order) 23:45
    s = state(
        incident=incident(severity=Severity.SEV1),
        updates=(upd(T0 + timedelta(minutes=10)), upd(T0 + timedelta(minutes=5))),
    )
    due = rules.next_update_due(s)
    assert due == datetime(2026, 11, 24, 0, 20, tzinfo=UTC)
    assert due.date() != T0.date()  # crossed midnight


def test_cadence_is_the_same_instant_whatever_the_time_zone() -> None:
    tokyo = timezone(timedelta(hours=9))
    declared = T0.astimezone(tokyo)  # 08:40 next day in Tokyo
    s = state(incident=incident(severity=Severity.SEV2, declared_at=declared))
    assert rules.next_update_due(s) == T0 + timedelta(hours=1)


def test_no_cadence_for_sev4_or_once_resolved() -> None:
    assert rules.next_update_due(state(incident=incident(severity=Severity.SEV4))) is None
    for st in (Status.RESOLVED, Status.IN_REVIEW, Status.CLOSED):
        assert rules.next_update_due(state(incident=incident(status=st))) is None
    # recovering still owes updates
    assert rules.next_update_due(state(incident=incident(status=Status.RECOVERING))) is not None


async def test_update_resets_countdown_and_severity_change_tightens_it(
    store: Store, clock: Clock
) -> None:
    inc = await store.declare("x", actor="a", severity=Severity.SEV3)
    assert rules.next_update_due(await store.state(inc.id)) == T0 + timedelta(hours=4)
    clock.tick(minutes=50)  # 00:30 next day
    await store.send_update(inc.id, Audience.EXTERNAL, "we know", actor="comms", channel="status")
    assert rules.next_update_due(await store.state(inc.id)) == T0 + timedelta(minutes=290)
    await store.set_severity(inc.id, Severity.SEV1, actor="a")
    due = rules.next_update_due(await store.state(inc.id))
    assert due == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    clock.tick(minutes=31)
    assert clock.now > due  # overdue: the header and show --json turn red


# --------------------------------------------------------- action_overdue


def test_action_overdue_only_after_the_whole_due_day() -> None:
    a = act(due="2026-11-23")
    assert not rules.action_overdue(a, datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC))
    assert rules.action_overdue(a, datetime(2026, 11, 24, 0, 0, tzinfo=UTC))


def test_action_overdue_in_the_owners_time_zone() -> None:
    a = act(due="2026-11-23")
    now = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # past midnight UTC ...
    ny = ZoneInfo("America/New_York")  # ... but 22:00 on the 23rd in New York
    assert rules.action_overdue(a, now)
    assert not rules.action_overdue(a, now, ny)
    assert rules.action_overdue(a, datetime(2026, 11, 24, 5, 0, tzinfo=UTC), ny)
    # Tokyo's day ends nine hours before UTC's
    tokyo = ZoneInfo("Asia/Tokyo")
    assert rules.action_overdue(a, datetime(2026, 11, 23, 15, 0, tzinfo=UTC), tokyo)
    assert not rules.action_overdue(a, datetime(2026, 11, 23, 14, 59, tzinfo=UTC), tokyo)


@pytest.mark.parametrize(
    ("status", "overdue"),
    [
        (ActionStatus.OPEN, True),
        (ActionStatus.IN_PROGRESS, True),
        (ActionStatus.DONE, True),  # done but not verified: still owed
        (ActionStatus.VERIFIED, False),
        (ActionStatus.WONT_DO, False),
    ],
)
def test_action_overdue_by_status(status: ActionStatus, overdue: bool) -> None:
    later = datetime(2026, 12, 30, tzinfo=UTC)
    assert rules.action_overdue(act(status=status), later) is overdue
    assert not rules.action_overdue(act(status=status, due=None), later)


async def test_store_lists_overdue_actions_across_incidents(store: Store, clock: Clock) -> None:
    a = await store.declare("a", actor="x")
    b = await store.declare("b", actor="x")
    late = await store.add_action(a.id, "late", actor="x", owner="dave", due=date(2026, 11, 20))
    await store.add_action(b.id, "fine", actor="x", owner="erin", due=date(2026, 12, 20))
    later = await store.add_action(b.id, "late too", actor="x", owner="dave", due=date(2026, 11, 1))
    found = await store.actions(overdue_at=clock.now)
    assert [x.id for x in found] == [late.id, later.id]
    assert {x.incident_id for x in found} == {a.id, b.id}
    assert [x.id for x in await store.actions(owner="erin")] == [2]
    with pytest.raises(NotFound):
        await store.actions(incident="INC-99")


# ------------------------------------------------------------------ metrics


def test_metrics_from_back_dated_events() -> None:
    started = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    detected = started + timedelta(minutes=12)
    declared = detected + timedelta(minutes=3)
    events = [
        ev(
            1,
            Kind.DECLARE,
            declared,
            title="t",
            severity="SEV1",
            detected_at=detected.isoformat(),
            started_at=started.isoformat(),
        ),
        ev(2, Kind.ASSIGN, declared + timedelta(minutes=2), role="responder", person="r"),
        ev(3, Kind.ASSIGN, declared + timedelta(minutes=5), role="commander", person="bob"),
        # skip from reported straight to recovering: counts as contained
        ev(
            4,
            Kind.STATUS,
            declared + timedelta(minutes=45),
            **{"from": "reported", "to": "recovering"},
        ),
        ev(
            5,
            Kind.STATUS,
            declared + timedelta(hours=2),
            **{"from": "recovering", "to": "resolved"},
        ),
        # re-open and resolve again: the first resolution still counts
        ev(
            6,
            Kind.STATUS,
            declared + timedelta(hours=3),
            **{"from": "resolved", "to": "recovering"},
        ),
        ev(
            7,
            Kind.STATUS,
            declared + timedelta(hours=4),
            **{"from": "recovering", "to": "resolved"},
        ),
    ]
    # a back-dated commander assignment recorded later, but earlier in occurred time
    events.append(ev(8, Kind.ASSIGN, declared + timedelta(minutes=4), role="commander", person="c"))
    m = rules.metrics(events)
    assert m.time_to_detect == 12 * 60
    assert m.time_to_report == 3 * 60
    assert m.time_to_acknowledge == 4 * 60
    assert m.time_to_contain == (15 + 45) * 60
    assert m.time_to_resolve == (15 + 120) * 60


def test_metrics_unknowns_and_origin_fallback() -> None:
    declared = T0
    events = [ev(1, Kind.DECLARE, declared, title="t", severity="SEV3")]
    m = rules.metrics(events)
    assert m.durations() == {
        "time_to_detect": None,
        "time_to_report": None,
        "time_to_acknowledge": None,
        "time_to_contain": None,
        "time_to_resolve": None,
    }
    events.append(
        ev(
            2,
            Kind.STATUS,
            declared + timedelta(minutes=7),
            **{"from": "reported", "to": "contained"},
        )
    )
    assert rules.metrics(events).time_to_contain == 420  # from declaration when nothing earlier
    assert rules.metrics([]).time_to_resolve is None
    assert rules.format_duration(None) == "-"
    assert rules.format_duration(3900) == "1h 05m"
    assert rules.format_duration(250) == "4m 10s"
    assert rules.format_duration(90000) == "25h 00m"
    assert rules.format_duration(24 * 3600 + 24 * 60) == "24h 24m"
    assert rules.format_duration(-(49 * 3600 + 5 * 60 + 59)) == "-49h 05m"


async def test_metrics_through_the_store_with_at(store: Store, clock: Clock) -> None:
    inc = await store.declare(
        "x",
        actor="a",
        at=T0 - timedelta(minutes=10),
        detected_at=T0 - timedelta(minutes=25),
        started_at=T0 - timedelta(minutes=40),
        commander="",
    )
    await store.assign(inc.id, Role.COMMANDER, "bob", actor="a", at=T0 - timedelta(minutes=8))
    clock.tick(minutes=30)  # 00:10 next day
    await store.set_status(inc.id, Status.CONTAINED, actor="bob", at=T0 + timedelta(minutes=5))
    await store.set_status(inc.id, Status.RESOLVED, actor="bob")
    m = rules.metrics(await store.events(inc.id))
    assert (m.time_to_detect, m.time_to_report, m.time_to_acknowledge) == (900, 900, 120)
    assert m.time_to_contain == 45 * 60
    assert m.time_to_resolve == 70 * 60
    assert (await store.incident(inc.id)).resolved_at == clock.now


# ------------------------------------------------------------ closure gate


def review_ok() -> Review:
    return Review(summary="s", root_cause="r", lessons="l", updated_at=T0)


def test_closure_gaps_lists_each_gap() -> None:
    s = state(
        review=Review(summary="s", root_cause=" ", updated_at=T0),
        actions=(
            act(id=1, owner=None),
            act(id=2, due=None, owner=None),
            act(id=3, owner=None, due=None, status=ActionStatus.WONT_DO),
            act(id=4),
        ),
    )
    gaps = rules.closure_gaps(s, None)
    assert gaps == [
        "review missing: root cause, lessons",
        "ACT-1 has no owner",
        "ACT-2 has no owner or due date",
        "no final update sent (send one after resolving, or mark it --final)",
    ]


def test_closure_final_update_rules() -> None:
    resolved = T0 + timedelta(hours=1)
    before = upd(T0 + timedelta(minutes=30))
    s = state(review=review_ok(), updates=(before,))
    assert rules.closure_gaps(s, resolved) == [
        "no final update sent (send one after resolving, or mark it --final)"
    ]
    # an update sent after resolution counts as the final one
    s2 = state(review=review_ok(), updates=(before, upd(resolved + timedelta(minutes=1))))
    assert rules.closure_gaps(s2, resolved) == []
    # an update explicitly marked final counts whenever it was sent
    s3 = state(review=review_ok(), updates=(upd(T0, final=True),))
    assert rules.closure_gaps(s3, None) == []


async def _closable(store: Store) -> int:
    inc = await store.declare("x", actor="alice", severity=Severity.SEV2)
    await store.save_review(inc.id, actor="alice", summary="s", root_cause="r", lessons="l")
    await store.add_action(inc.id, "a", actor="alice", owner="dave", due=date(2026, 12, 1))
    await store.set_status(inc.id, Status.RESOLVED, actor="alice")
    await store.send_update(inc.id, Audience.EXTERNAL, "all good", actor="comms")
    return inc.id


async def test_store_close_gate_refuses_then_override_records_reason(store: Store) -> None:
    inc = await store.declare("x", actor="alice")
    await store.add_action(inc.id, "no owner yet", actor="alice")
    with pytest.raises(RuleViolation) as e:
        await store.set_status(inc.id, Status.CLOSED, actor="alice")
    msg = str(e.value)
    assert "\n" not in msg
    assert "3 missing" in msg
    assert "(1) review missing: summary, root cause, lessons" in msg
    assert "(2) ACT-1 has no owner or due date" in msg
    assert "(3) no final update sent" in msg
    assert (await store.incident(inc.id)).status is Status.REPORTED
    with pytest.raises(InvalidInput):
        await store.set_status(inc.id, Status.CLOSED, actor="alice", override=" ")
    ev_ = await store.set_status(inc.id, Status.CLOSED, actor="alice", override="CTO accepted")
    assert ev_.data["override"] == "CTO accepted"
    assert len(ev_.data["gaps"]) == 3
    assert ev_.text == "CTO accepted"
    assert (await store.incident(inc.id)).status is Status.CLOSED


async def test_store_closes_clean_without_override(store: Store) -> None:
    n = await _closable(store)
    ev_ = await store.set_status(n, Status.CLOSED, actor="alice")
    assert "override" not in ev_.data
    with pytest.raises(RuleViolation, match="already closed"):
        await store.set_status(n, Status.CLOSED, actor="alice")


async def test_closed_incident_refuses_changes_until_reopened(store: Store) -> None:
    n = await _closable(store)
    await store.set_status(n, Status.CLOSED, actor="alice")
    attempts = [
        store.set_severity(n, Severity.SEV1, actor="alice"),
        store.assign(n, Role.SCRIBE, "carol", actor="alice"),
        store.add_item(n, "step", actor="alice"),
        store.send_update(n, Audience.INTERNAL, "u", actor="alice"),
        store.notify(n, "CTO", actor="alice"),
        store.add_evidence(n, "log", actor="alice"),
        store.save_review(n, actor="alice", lessons="more"),
        store.add_action(n, "more", actor="alice"),
    ]
    for coro in attempts:
        with pytest.raises(RuleViolation, match="is closed: re-open it first"):
            await coro
    with pytest.raises(RuleViolation, match="re-open: give a reason"):
        await store.set_status(n, Status.IN_REVIEW, actor="alice")
    with pytest.raises(RuleViolation, match="only the commander"):
        await store.set_status(n, Status.IN_REVIEW, actor="mallory", reason="x")
    reopened = await store.set_status(n, Status.IN_REVIEW, actor="alice", reason="new finding")
    assert reopened.data == {"from": "closed", "to": "in_review"}
    assert reopened.text == "new finding"
    await store.save_review(n, actor="alice", lessons="more lessons")
    assert (await store.state(n)).review.lessons == "more lessons"


async def test_review_merges_fields_and_each_save_is_an_event(store: Store) -> None:
    inc = await store.declare("x", actor="a")
    await store.save_review(inc.id, actor="a", summary="s1", whys=["w1", "w2"])
    await store.save_review(inc.id, actor="b", root_cause="rc")
    r = (await store.state(inc.id)).review
    assert (r.summary, r.root_cause, r.whys, r.updated_by) == ("s1", "rc", ("w1", "w2"), "b")
    assert not r.recorded
    kinds = [e.kind for e in await store.events(inc.id)]
    assert kinds.count(Kind.REVIEW) == 2
    with pytest.raises(InvalidInput, match="nothing to save"):
        await store.save_review(inc.id, actor="a")
    with pytest.raises(InvalidInput, match="unknown review field"):
        await store.save_review(inc.id, actor="a", mood="bad")
    with pytest.raises(InvalidInput, match="empty"):
        await store.save_review(inc.id, actor="a", whys=["ok", "  "])


# ----------------------------------------------------- action state machine

A = ActionStatus
LEGAL = {
    (A.OPEN, A.IN_PROGRESS),
    (A.OPEN, A.DONE),
    (A.OPEN, A.WONT_DO),
    (A.IN_PROGRESS, A.OPEN),
    (A.IN_PROGRESS, A.DONE),
    (A.IN_PROGRESS, A.WONT_DO),
    (A.DONE, A.VERIFIED),
    (A.DONE, A.IN_PROGRESS),
    (A.DONE, A.WONT_DO),
    (A.WONT_DO, A.OPEN),
}


@pytest.mark.parametrize("current", list(A))
@pytest.mark.parametrize("new", list(A))
def test_action_transition_table(current: ActionStatus, new: ActionStatus) -> None:
    if (current, new) in LEGAL:
        rules.check_action_transition(current, new, "because")
    else:
        with pytest.raises(RuleViolation, match=f"cannot go from {current} to {new}"):
            rules.check_action_transition(current, new, "because")


def test_verified_and_wont_do_need_a_note() -> None:
    with pytest.raises(RuleViolation, match="how effectiveness was verified"):
        rules.check_action_transition(A.DONE, A.VERIFIED, "  ")
    with pytest.raises(RuleViolation, match="a reason"):
        rules.check_action_transition(A.OPEN, A.WONT_DO, None)
    rules.check_action_transition(A.OPEN, A.DONE, None)  # done needs nothing


async def test_store_action_lifecycle(store: Store) -> None:
    inc = await store.declare("x", actor="a")
    a = await store.add_action(inc.id, "fix it", actor="a", type=ActionType.PREVENTIVE)
    assert (a.key, a.status, a.owner, a.due) == ("ACT-1", A.OPEN, None, None)
    with pytest.raises(RuleViolation):
        await store.set_action(a.id, A.VERIFIED, actor="a", note="x")
    with pytest.raises(InvalidInput, match="nothing to change"):
        await store.set_action(a.id, actor="a")
    a = await store.set_action(a.id, actor="a", owner="dave", due=date(2026, 12, 1))
    assert (a.owner, a.due, a.status) == ("dave", "2026-12-01", A.OPEN)
    a = await store.set_action(a.id, A.IN_PROGRESS, actor="dave")
    a = await store.set_action(a.id, A.DONE, actor="dave", evidence="PR 1 merged")
    assert a.closure_evidence == "PR 1 merged"
    a = await store.set_action(a.id, actor="dave", evidence="PR 2 merged too")  # evidence alone
    assert a.closure_evidence == "PR 2 merged too"
    a = await store.set_action(a.id, A.VERIFIED, actor="qa", note="no errors for 14 days")
    assert (a.status, a.verification) == (A.VERIFIED, "no errors for 14 days")
    with pytest.raises(RuleViolation, match="allowed: nothing"):
        await store.set_action(a.id, A.OPEN, actor="qa")
    b = await store.add_action(inc.id, "maybe", actor="a")
    b = await store.set_action(b.id, A.WONT_DO, actor="a", note="superseded by ACT-1")
    assert b.reason == "superseded by ACT-1"
    with pytest.raises(NotFound, match="ACT-99"):
        await store.set_action(99, A.DONE, actor="a")
    # Follow-ups outlive the incident: they can be worked after it closes.
    assert (await store.verify()).ok


# -------------------------------------------------------------- roles


def test_missing_roles_by_severity() -> None:
    expect = {
        Severity.SEV1: [Role.COMMANDER, Role.SCRIBE, Role.COMMS],
        Severity.SEV2: [Role.COMMANDER, Role.COMMS],
        Severity.SEV3: [Role.COMMANDER],
        Severity.SEV4: [],
    }
    for sev, roles in expect.items():
        assert rules.missing_roles(state(incident=incident(severity=sev))) == roles


def test_missing_roles_with_playbooks_and_assignments() -> None:
    s = state(
        incident=incident(severity=Severity.SEV3),
        playbooks=(
            AppliedPlaybook(name="a", required_roles=(Role.COMMANDER, Role.LIAISON)),
            AppliedPlaybook(name="b", required_roles=(Role.SCRIBE, Role.LIAISON)),
        ),
        roles=(Assignment(role=Role.LIAISON, person="lee", assigned_at=T0),),
    )
    assert rules.missing_roles(s) == [Role.COMMANDER, Role.SCRIBE]


async def test_missing_roles_follow_the_record(store: Store) -> None:
    book = Playbook(name="sec", title="S", required_roles=(Role.LIAISON,), containment=("c",))
    inc = await store.declare("x", actor="a", severity=Severity.SEV2, playbook=book)
    s = await store.state(inc.id)
    assert rules.missing_roles(s) == [Role.COMMS, Role.LIAISON]  # the declarer commands
    await store.assign(inc.id, Role.COMMS, "cara", actor="a")
    await store.assign(inc.id, Role.LIAISON, "lee", actor="a")
    await store.assign(inc.id, Role.COMMANDER, "ian", actor="a")
    assert rules.missing_roles(await store.state(inc.id)) == []
    await store.set_severity(inc.id, Severity.SEV1, actor="ian")
    assert rules.missing_roles(await store.state(inc.id)) == [Role.SCRIBE]


async def test_only_commander_or_deputy_may_command(store: Store) -> None:
    inc = await store.declare("x", actor="a", commander="")
    # anyone may take charge while there is no commander
    await store.assign(inc.id, Role.COMMANDER, "ian", actor="somebody")
    await store.assign(inc.id, Role.DEPUTY, "dee", actor="ian")
    await store.assign(inc.id, Role.RESPONDER, "rex", actor="dee")
    for coro, what in [
        (store.set_severity(inc.id, Severity.SEV1, actor="rex"), "change severity"),
        (store.set_status(inc.id, Status.CONTAINED, actor="rex"), "change status"),
        (store.assign(inc.id, Role.SCRIBE, "rex", actor="rex"), "assign roles"),
        (store.set_status(inc.id, Status.CLOSED, actor="rex", override="x"), "change status"),
    ]:
        with pytest.raises(RuleViolation, match=f"only the commander or deputy may {what}"):
            await coro
    # responders may still do the work
    await store.add_item(inc.id, "step", actor="rex")
    await store.add_evidence(inc.id, "dump", actor="rex")
    await store.send_update(inc.id, Audience.INTERNAL, "u", actor="rex")
    await store.set_severity(inc.id, Severity.SEV1, actor="dee")


# --------------------------------------------------------- notifications


def test_pending_notifications_case_insensitive_in_order() -> None:
    s = state(
        notifications=(
            Notification(who="cto", notified_at=T0, notified_by="c"),
            Notification(who="Janitor", notified_at=T0, notified_by="c"),
        )
    )
    required = ["Head of engineering", "CTO", "Legal"]
    assert rules.pending_notifications(required, s) == ["Head of engineering", "Legal"]
    assert rules.pending_notifications([], s) == []


async def test_notifications_through_the_store(store: Store) -> None:
    inc = await store.declare("x", actor="a", severity=Severity.SEV1)
    await store.notify(inc.id, "Legal", actor="cara")
    await store.notify(inc.id, "Legal", actor="cara")  # twice: lands, counted once
    s = await store.state(inc.id)
    assert [n.who for n in s.notifications] == ["Legal"]
    assert rules.pending_notifications(["CTO", "legal"], s) == ["CTO"]
    with pytest.raises(InvalidInput):
        await store.notify(inc.id, "bad\x1bname", actor="cara")


# ------------------------------------------------------------ evidence


def item(custodian: str = "carol") -> Evidence:
    return Evidence(
        n=1, description="d", collected_by="carol", collected_at=T0, custodian=custodian
    )


CUSTODY = state(
    roles=(
        Assignment(role=Role.COMMANDER, person="alice", assigned_at=T0),
        Assignment(role=Role.DEPUTY, person="dee", assigned_at=T0),
        Assignment(role=Role.RESPONDER, person="bob", assigned_at=T0),
    )
)


@pytest.mark.parametrize("actor", ["carol", "alice", "dee"])
def test_holder_commander_or_deputy_may_transfer_custody(actor: str) -> None:
    rules.check_custody_transfer(CUSTODY, item(), "fran", actor)


def test_other_responder_may_not_transfer_custody() -> None:
    with pytest.raises(RuleViolation) as e:
        rules.check_custody_transfer(CUSTODY, item(), "bob", "bob")
    assert str(e.value) == (
        "EV-1 is held by carol; only carol or the commander/deputy (alice, dee) "
        "may transfer it; you are bob"
    )
    # handing it on to someone else does not make it any more allowed
    with pytest.raises(RuleViolation, match="you are bob"):
        rules.check_custody_transfer(CUSTODY, item(), "fran", "bob")


def test_without_a_commander_only_the_holder_may_transfer_custody() -> None:
    # unlike command, nobody may take evidence just because no commander is assigned
    with pytest.raises(RuleViolation) as e:
        rules.check_custody_transfer(state(), item(), "bob", "bob")
    assert str(e.value) == (
        "EV-1 is held by carol; only carol or the commander/deputy (none assigned) "
        "may transfer it; you are bob"
    )
    rules.check_custody_transfer(state(), item(), "bob", "carol")


def test_commander_and_deputy_named_once() -> None:
    both = state(
        roles=(
            Assignment(role=Role.COMMANDER, person="ian", assigned_at=T0),
            Assignment(role=Role.DEPUTY, person="ian", assigned_at=T0),
        )
    )
    with pytest.raises(RuleViolation, match=r"commander/deputy \(ian\) may"):
        rules.check_custody_transfer(both, item(), "bob", "bob")


@pytest.mark.parametrize("actor", ["carol", "alice", "bob"])
def test_transfer_to_the_current_holder_is_refused(actor: str) -> None:
    with pytest.raises(RuleViolation) as e:
        rules.check_custody_transfer(CUSTODY, item(), "carol", actor)
    assert str(e.value) == "EV-1 is already held by carol"


async def test_store_refuses_custody_transfer_by_a_non_holder(store: Store) -> None:
    inc = await store.declare("x", actor="alice")
    await store.assign(inc.id, Role.DEPUTY, "dee", actor="alice")
    await store.add_evidence(inc.id, "disk image", actor="carol")
    before = await store.events()
    with pytest.raises(RuleViolation, match="EV-1 is held by carol; only carol or the"):
        await store.transfer_evidence(inc.id, 1, "bob", reason="grabbing it", actor="bob")
    assert await store.events() == before  # nothing written
    after = await store.state(inc.id)
    assert after.evidence[0].custodian == "carol" and after.evidence[0].transfers == ()
    # the commander and the deputy may move it for an unavailable holder; each
    # transfer records who did it as well as whom it came from
    await store.transfer_evidence(inc.id, 1, "fran", reason="carol off shift", actor="alice")
    await store.transfer_evidence(inc.id, 1, "gus", reason="fran off shift", actor="dee")
    await store.transfer_evidence(inc.id, 1, "legal", reason="hold", actor="gus")
    (ev1,) = (await store.state(inc.id)).evidence
    assert [(t.from_person, t.to_person, t.by) for t in ev1.transfers] == [
        ("carol", "fran", "alice"),
        ("fran", "gus", "dee"),
        ("gus", "legal", "gus"),
    ]
    # the previous holder has no say any more
    with pytest.raises(RuleViolation, match="EV-1 is held by legal"):
        await store.transfer_evidence(inc.id, 1, "carol", reason="back", actor="gus")


async def test_evidence_custody_chain(store: Store) -> None:
    inc = await store.declare("x", actor="a")
    e = await store.add_evidence(inc.id, "auth.log", actor="rex", sha256="ab" * 32, location="s3")
    assert (e.key, e.custodian, e.collected_by) == ("EV-1", "rex", "rex")
    await store.transfer_evidence(inc.id, 1, "fran", reason="forensics", actor="rex")
    with pytest.raises(RuleViolation, match="already held by fran"):
        await store.transfer_evidence(inc.id, 1, "fran", reason="again", actor="rex")
    with pytest.raises(NotFound, match="no evidence EV-2"):
        await store.transfer_evidence(inc.id, 2, "fran", reason="r", actor="rex")
    with pytest.raises(InvalidInput, match="reason is empty"):
        await store.transfer_evidence(inc.id, 1, "gus", reason=" ", actor="rex")
    await store.amend_evidence(inc.id, 1, "path was /var/log/auth.log.1", actor="rex")
    with pytest.raises(NotFound):
        await store.amend_evidence(inc.id, 5, "x", actor="rex")
    (item,) = (await store.state(inc.id)).evidence
    assert item.custodian == "fran"
    assert [(t.from_person, t.to_person, t.reason) for t in item.transfers] == [
        ("rex", "fran", "forensics")
    ]
    assert item.amendments == ("path was /var/log/auth.log.1",)
    assert item.description == "auth.log"  # never edited
