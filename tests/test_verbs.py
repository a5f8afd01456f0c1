"""The verbs as plain functions over one transaction, on an in-memory SQLite
database and on a PostgreSQL one: no asyncio, no file, no Store. Each test runs a verb the way the Store does (one
`transaction`) and checks what it wrote, or that a refusal wrote nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

import pytest

from ircmd import display, rules
from ircmd.models import (
    ActionStatus,
    ActionType,
    Audience,
    ClosureRefused,
    Event,
    Impact,
    InvalidInput,
    Kind,
    Mark,
    Moment,
    NotFound,
    Playbook,
    Role,
    RuleViolation,
    Severity,
    Status,
)
from ircmd.store import presence, queries, verify
from ircmd.store.connection import fresh_schema
from ircmd.store.dialect import SQLITE, Dialect
from ircmd.store.postgres import POSTGRESQL
from ircmd.store.postgres import connect as pg_connect
from ircmd.store.reader import Connection, Reader
from ircmd.store.tx import Tx, transaction
from ircmd.store.verbs import actions, checklist, comms, evidence, incident, review

P = ParamSpec("P")
T = TypeVar("T")

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Db:
    """One in-memory record and a way to run verbs on it, as the Store would."""

    def __init__(self, url: str | None = None) -> None:
        self.conn: Any
        self.dialect: Dialect
        if url is None:
            self.conn = fresh_schema()
            self.conn.isolation_level = None  # transactions are the verbs' own
            self.conn.row_factory = sqlite3.Row
            self.dialect = SQLITE
        else:
            self.conn = pg_connect(url, read_only=False, timeout=5)
            self.dialect = POSTGRESQL
        self.max_text = 64 * 1024
        self.force_time = False

    def run(self, verb: Callable[Concatenate[Tx, P], T], *args: P.args, **kw: P.kwargs) -> T:
        def work(conn: Connection) -> T:
            tx = Tx(
                conn, self.dialect, lambda: NOW, max_text=self.max_text, force_time=self.force_time
            )
            return verb(tx, *args, **kw)

        return transaction(self.conn, self.dialect, work, timeout=1)

    def read(self) -> Reader:
        return Reader(self.conn, self.dialect)

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM events").fetchone()[0])


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> Iterator[Db]:
    """An empty record in memory (SQLite) or in a new PostgreSQL database."""
    d = Db(None if request.param == "sqlite" else request.getfixturevalue("pg_url"))
    try:
        yield d
    finally:
        d.conn.close()


@pytest.fixture
def inc(db: Db) -> int:
    """INC-1, commanded by alice, who declared it."""
    return db.run(incident.declare, "checkout down", actor="alice").id


def refused(
    db: Db, error: type[Exception], verb: Callable[..., object], *args: object, **kw: object
) -> str:
    """Run a verb that must be refused; nothing may have been written."""
    before = db.count()
    with pytest.raises(error) as caught:
        db.run(verb, *args, **kw)
    assert db.count() == before
    assert not db.conn.in_transaction
    return str(caught.value)


# ------------------------------------------------------------------- incident


def test_declare_numbers_incidents_and_chains_their_events(db: Db) -> None:
    first = db.run(incident.declare, "one", actor="alice", severity=Severity.SEV2)
    second = db.run(incident.declare, "two", actor="bob")
    assert (first.id, second.id, first.severity) == (1, 2, Severity.SEV2)
    assert first.declared_at == NOW and first.declared_by == "alice"
    assert verify.verify(db.read()).ok


def test_the_actor_is_checked_and_normalised_for_every_verb(db: Db, inc: int) -> None:
    ev = db.run(incident.log, inc, "fullwidth name", actor="ａｌｉｃｅ")
    assert ev.actor == "alice"
    refused(db, InvalidInput, incident.log, inc, "no one", actor="   ")
    refused(db, InvalidInput, comms.notify, inc, "legal", actor="")


def test_a_closed_incident_refuses_entries(db: Db, inc: int) -> None:
    db.run(incident.set_status, inc, Status.RESOLVED, actor="alice")
    refused(db, ClosureRefused, incident.set_status, inc, Status.CLOSED, actor="alice")
    db.run(incident.set_status, inc, Status.CLOSED, actor="alice", override="a drill")
    message = refused(db, RuleViolation, incident.amend, inc, 1, "late fix", actor="alice")
    assert "is closed" in message
    refused(db, RuleViolation, incident.log, inc, "late", actor="alice", kind=Kind.DECISION)
    refused(db, RuleViolation, checklist.add_item, inc, "late step", actor="alice")


def test_only_the_commander_changes_severity(db: Db, inc: int) -> None:
    message = refused(db, RuleViolation, incident.set_severity, inc, Severity.SEV1, actor="bob")
    assert "only the commander or deputy" in message
    ev = db.run(incident.set_severity, inc, Severity.SEV1, actor="alice")
    assert ev.data["to"] == Severity.SEV1.value
    assert queries.incident(db.read(), inc).severity is Severity.SEV1
    # The same severity again is no change, and is not recorded as one.
    message = refused(db, RuleViolation, incident.set_severity, inc, Severity.SEV1, actor="alice")
    assert message == "INC-1 is already SEV1"


def test_amend_refuses_an_entry_of_another_incident(db: Db, inc: int) -> None:
    other = db.run(incident.declare, "other", actor="bob").id
    note = db.run(incident.log, other, "theirs", actor="bob")
    refused(db, NotFound, incident.amend, inc, note.id, "mine now", actor="alice")
    refused(db, NotFound, incident.log, 99, "nowhere", actor="alice")


def test_times_outside_the_incident_are_refused_unless_forced(db: Db, inc: int) -> None:
    future = NOW + timedelta(hours=1)
    refused(db, InvalidInput, incident.log, inc, "from the future", actor="alice", at=future)
    db.force_time = True
    assert (
        db.run(incident.log, inc, "clock is wrong", actor="alice", at=future).occurred_at == future
    )


def test_text_over_the_configured_limit_is_refused(db: Db, inc: int) -> None:
    db.max_text = 10
    refused(db, InvalidInput, incident.log, inc, "x" * 11, actor="alice")
    assert db.run(incident.log, inc, "x" * 10, actor="alice").text == "x" * 10


# ------------------------------------------------------------------ checklist


def test_checklist_items_are_numbered_and_a_second_check_names_the_first(db: Db, inc: int) -> None:
    assert db.run(checklist.add_item, inc, "block the IP", actor="alice").n == 1
    assert db.run(checklist.add_item, inc, "rotate keys", actor="alice").n == 2
    db.run(checklist.check, inc, 2, actor="bob")
    again = db.run(checklist.check, inc, 2, actor="carol")
    assert again.data["already"] == "bob"
    items = queries.state(db.read(), inc).checklist
    assert [(i.n, i.done, i.done_by) for i in items] == [(1, False, None), (2, True, "bob")]
    refused(db, NotFound, checklist.check, inc, 3, actor="alice")
    # Unchecking a step nobody checked would put a false "undone" on the record.
    assert "nothing to undo" in refused(
        db, RuleViolation, checklist.check, inc, 1, actor="alice", done=False
    )


# ---------------------------------------------------------------------- comms


def test_updates_and_notifications_land_in_the_state(db: Db, inc: int) -> None:
    db.run(comms.send_update, inc, Audience.INTERNAL, "we are on it", actor="alice")
    db.run(comms.notify, inc, "ｌｅｇａｌ", actor="alice")
    state = queries.state(db.read(), inc)
    assert [u.text for u in state.updates] == ["we are on it"]
    assert [n.who for n in state.notifications] == ["legal"]
    refused(db, InvalidInput, comms.send_update, inc, Audience.INTERNAL, "  ", actor="alice")


def test_telling_a_contact_again_lands_and_says_who_told_them_first(db: Db, inc: int) -> None:
    """Two people both called Legal (or a dialog was open while the first was recorded):
    both are on the record, the second marked, and the contact keeps its first telling."""
    first = db.run(comms.notify, inc, "legal", actor="alice")
    again = db.run(comms.notify, inc, "legal", actor="bob")
    assert "already" not in first.data
    assert again.data == {"who": "legal", "already": "alice"}
    assert display.describe(again) == "notified legal (already told by alice)"
    (told,) = queries.state(db.read(), inc).notifications
    assert (told.who, told.notified_by) == ("legal", "alice")


# ------------------------------------------------------------------- evidence


def test_custody_passes_from_the_holder_only(db: Db, inc: int) -> None:
    item = db.run(evidence.add_evidence, inc, "disk image", actor="bob", sha256="ab" * 32)
    assert (item.n, item.custodian) == (1, "bob")
    refused(
        db, RuleViolation, evidence.transfer_evidence, inc, 1, "carol", reason="x", actor="dave"
    )
    db.run(evidence.transfer_evidence, inc, 1, "carol", reason="lab", actor="bob")
    (held,) = queries.state(db.read(), inc).evidence
    assert held.custodian == "carol"
    assert [(t.from_person, t.to_person) for t in held.transfers] == [("bob", "carol")]
    refused(db, NotFound, evidence.amend_evidence, inc, 2, "no such item", actor="bob")


# --------------------------------------------------------------------- review


def test_a_review_save_over_a_moved_field_is_refused_naming_who(db: Db, inc: int) -> None:
    db.run(review.save_review, inc, actor="bob", root_cause="a bad deploy")
    message = refused(
        db,
        RuleViolation,
        review.save_review,
        inc,
        actor="carol",
        base={"root_cause": ""},
        root_cause="a full disk",
    )
    assert "root cause was changed by bob at 12:00" in message
    refused(db, InvalidInput, review.save_review, inc, actor="carol", nonsense="x")
    assert queries.state(db.read(), inc).review.root_cause == "a bad deploy"


# -------------------------------------------------------------------- actions


def test_actions_move_through_their_states(db: Db, inc: int) -> None:
    action = db.run(actions.add_action, inc, "add a canary", actor="alice", owner="bob")
    assert (action.id, action.status, action.owner) == (1, ActionStatus.OPEN, "bob")
    moved = db.run(actions.set_action, 1, ActionStatus.IN_PROGRESS, actor="bob")
    assert moved.status is ActionStatus.IN_PROGRESS
    refused(db, RuleViolation, actions.set_action, 1, ActionStatus.VERIFIED, actor="bob")
    refused(db, InvalidInput, actions.set_action, 1, actor="bob")
    refused(db, NotFound, actions.set_action, 7, ActionStatus.DONE, actor="bob")


# ------------------------------------------------------------------- presence


def test_presence_is_session_state_outside_the_chain(db: Db) -> None:
    db.run(presence.heartbeat, "s1", None, "alice", "host")
    db.run(presence.heartbeat, "s1", 1, "alice", "host")  # the same session, replaced
    seen = presence.watchers(db.read(), "2026-03-01")
    assert [(p.session, p.incident_id) for p in seen] == [("s1", 1)]
    assert db.count() == 0
    db.run(presence.leave, "s1")
    assert presence.watchers(db.read(), "2026-03-01") == []


# ---------------------------------------------------- corrections and changes


def events_of(db: Db, kind: Kind) -> list[Event]:
    return [e for e in queries.events(db.read(), 1) if e.kind is kind]


def test_the_declarer_commands_unless_told_otherwise(db: Db) -> None:
    led = db.run(incident.declare, "one", actor="alice")
    other = db.run(incident.declare, "two", actor="alice", commander="ｂｏｂ")
    nobody = db.run(incident.declare, "three", actor="alice", commander="")
    commanders = [
        queries.load(db.read(), i.id).people(Role.COMMANDER) for i in (led, other, nobody)
    ]
    assert commanders == [["alice"], ["bob"], []]
    (declared,) = events_of(db, Kind.DECLARE)
    assert declared.data["commander"] == "alice"
    # Command from the declaration counts as acknowledged at once.
    assert rules.metrics(queries.events(db.read(), 1)).time_to_acknowledge == 0
    refused(db, InvalidInput, incident.declare, "four", actor="alice", commander="\u200b")
    assert verify.verify(db.read()).ok


def test_unassign_names_the_assignment_it_corrects(db: Db, inc: int) -> None:
    given = db.run(incident.assign, inc, Role.RESPONDER, "bob", actor="alice")
    taken = db.run(incident.unassign, inc, Role.RESPONDER, "bob", actor="alice")
    assert taken.data["corrects"] == given.id
    # Command given at declaration is corrected by naming the declaration.
    (declared,) = events_of(db, Kind.DECLARE)
    dropped = db.run(incident.unassign, inc, Role.COMMANDER, "alice", actor="alice")
    assert dropped.data["corrects"] == declared.id
    assert queries.state(db.read(), inc).roles == ()
    assert verify.verify(db.read()).ok


def test_a_retracted_notification_leaves_the_contact_pending(db: Db, inc: int) -> None:
    told = db.run(comms.notify, inc, "CEO", actor="alice")
    refused(db, InvalidInput, comms.unnotify, inc, "CEO", " ", actor="alice")
    refused(db, NotFound, comms.unnotify, inc, "legal", "never told", actor="alice")
    retracted = db.run(comms.unnotify, inc, "ceo", "the page bounced", actor="bob")
    assert retracted.data == {"who": "CEO", "corrects": told.id}
    assert retracted.text == "the page bounced"
    assert rules.pending_notifications(["CEO"], queries.state(db.read(), inc)) == ["CEO"]
    assert events_of(db, Kind.NOTIFY) == [told]  # the original stays as it was
    db.run(comms.notify, inc, "CEO", actor="alice")
    assert [n.who for n in queries.state(db.read(), inc).notifications] == ["CEO"]
    assert verify.verify(db.read()).ok


def test_a_skipped_step_is_settled_for_closing_until_checked_or_unchecked(db: Db, inc: int) -> None:
    db.run(checklist.add_item, inc, "fail over", actor="alice")
    db.run(checklist.add_item, inc, "rotate keys", actor="alice")
    db.run(checklist.check, inc, 1, actor="alice")
    refused(db, InvalidInput, checklist.skip_item, inc, 2, "", actor="bob")
    assert "uncheck it first" in refused(
        db, RuleViolation, checklist.skip_item, inc, 1, "n/a", actor="bob"
    )
    skip = db.run(checklist.skip_item, inc, 2, "no keys were exposed", actor="bob")
    assert (skip.kind, skip.text, skip.data) == (
        Kind.SKIP,
        "no keys were exposed",
        {"n": 2, "phase": "containment"},
    )
    step = queries.state(db.read(), inc).checklist[1]
    assert (step.skipped, step.done, step.skipped_by, step.skip_reason) == (
        True,
        False,
        "bob",
        "no keys were exposed",
    )
    assert step.skipped_at == NOW
    assert "already skipped by bob" in refused(
        db, RuleViolation, checklist.skip_item, inc, 2, "again", actor="carol"
    )
    assert rules.checklist_gaps(queries.state(db.read(), inc)) == []
    # Unchecking puts it back to open; the gate sees it again.
    back = db.run(checklist.check, inc, 2, actor="bob", done=False)
    assert back.data["unskips"] is True
    state = queries.state(db.read(), inc)
    assert not state.checklist[1].skipped
    assert rules.checklist_gaps(state) == ["1 containment step not done (2)"]
    # Checking a skipped step makes it done after all.
    db.run(checklist.skip_item, inc, 2, "no keys were exposed", actor="bob")
    db.run(checklist.check, inc, 2, actor="carol")
    step = queries.state(db.read(), inc).checklist[1]
    assert (step.done, step.done_by, step.skipped) == (True, "carol", False)
    assert verify.verify(db.read()).ok


def test_a_step_text_correction_names_what_it_corrects(db: Db, inc: int) -> None:
    book = Playbook(name="outage", title="Outage", containment=("fail ovr", "page DB"))
    applied = db.run(checklist.apply_playbook, inc, book, actor="alice")
    first = db.run(checklist.edit_item, inc, 1, "fail over", actor="bob")
    assert first.data == {
        "n": 1,
        "phase": "containment",
        "from": "fail ovr",
        "corrects": applied.id,
    }
    second = db.run(checklist.edit_item, inc, 1, "fail over to EU-2", actor="bob")
    assert second.data["corrects"] == first.id and second.data["from"] == "fail over"
    assert "already reads that" in refused(
        db, RuleViolation, checklist.edit_item, inc, 1, "fail over to EU-2", actor="bob"
    )
    refused(db, NotFound, checklist.edit_item, inc, 9, "nothing", actor="bob")
    assert [i.text for i in queries.state(db.read(), inc).checklist] == [
        "fail over to EU-2",
        "page DB",
    ]
    assert verify.verify(db.read()).ok


def test_a_step_gets_an_owner_changes_owner_and_loses_it(db: Db, inc: int) -> None:
    added = db.run(checklist.add_item, inc, "fail over", actor="alice", assignee="bob")
    assert added.assignee == "bob"
    to_carol = db.run(checklist.own_item, inc, 1, "carol", actor="alice")
    assert (to_carol.data["assignee"], to_carol.data["from"]) == ("carol", "bob")
    assert to_carol.data["corrects"] == events_of(db, Kind.ITEM_ADD)[0].id
    refused(db, RuleViolation, checklist.own_item, inc, 1, "carol", actor="alice")
    freed = db.run(checklist.own_item, inc, 1, None, actor="alice")
    assert (freed.data["assignee"], freed.data["corrects"]) == (None, to_carol.id)
    assert queries.state(db.read(), inc).checklist[0].assignee is None
    assert "without an owner" in refused(
        db, RuleViolation, checklist.own_item, inc, 1, None, actor="alice"
    )
    assert verify.verify(db.read()).ok


def test_an_action_type_is_corrected_even_after_closing(db: Db, inc: int) -> None:
    db.run(actions.add_action, inc, "add a canary", actor="alice")
    db.run(incident.set_status, inc, Status.CLOSED, actor="alice", override="a drill")
    fixed = db.run(
        actions.retype_action, 1, ActionType.PREVENTIVE, actor="bob", reason="it prevents"
    )
    assert fixed.type is ActionType.PREVENTIVE
    (retyped,) = events_of(db, Kind.ACTION_RETYPE)
    (added,) = events_of(db, Kind.ACTION_ADD)
    assert retyped.data == {
        "action_id": 1,
        "from": "corrective",
        "to": "preventive",
        "corrects": added.id,
    }
    refused(db, RuleViolation, actions.retype_action, 1, ActionType.PREVENTIVE, actor="bob")
    assert verify.verify(db.read()).ok


def test_title_and_summary_change_with_their_history_in_the_events(db: Db, inc: int) -> None:
    (declared,) = events_of(db, Kind.DECLARE)
    first = db.run(incident.retitle, inc, "EU checkout down", actor="bob")
    assert first.data == {"from": "checkout down", "corrects": declared.id}
    second = db.run(incident.retitle, inc, "EU checkout 502s", actor="bob")
    assert second.data["corrects"] == first.id
    refused(db, RuleViolation, incident.retitle, inc, "EU checkout 502s", actor="bob")
    refused(db, InvalidInput, incident.retitle, inc, " ", actor="bob")
    summary = db.run(incident.set_summary, inc, "40% of EU card payments fail", actor="bob")
    assert summary.data == {"corrects": declared.id}
    got = queries.incident(db.read(), inc)
    assert (got.title, got.summary) == ("EU checkout 502s", "40% of EU card payments fail")
    assert verify.verify(db.read()).ok


def test_impact_is_merged_field_by_field(db: Db, inc: int) -> None:
    start, end = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    first = db.run(
        incident.set_impact,
        inc,
        actor="alice",
        customer_impact="EU card payments fail",
        services=["checkout", "payments", "checkout"],
        users_affected=1200,
    )
    assert (first.services, first.users_affected, first.records_affected) == (
        ("checkout", "payments"),
        1200,
        None,
    )
    db.run(
        incident.set_impact,
        inc,
        actor="bob",
        records_affected=0,
        data_loss_from=start,
        data_loss_to=end,
        services=[],
    )
    impact = queries.state(db.read(), inc).impact
    assert impact == Impact(
        customer_impact="EU card payments fail",
        users_affected=1200,
        records_affected=0,
        data_loss_from=start,
        data_loss_to=end,
        updated_at=NOW,
        updated_by="bob",
    )
    first_event, second_event = events_of(db, Kind.IMPACT)
    assert "corrects" not in first_event.data
    assert second_event.data["corrects"] == first_event.id
    refused(db, InvalidInput, incident.set_impact, inc, actor="bob", users_affected=-1)
    refused(db, InvalidInput, incident.set_impact, inc, actor="bob", users_affected=1200)
    refused(db, InvalidInput, incident.set_impact, inc, actor="bob")
    assert "ends before it starts" in refused(
        db, InvalidInput, incident.set_impact, inc, actor="bob", data_loss_to=start - timedelta(1)
    )
    assert verify.verify(db.read()).ok


def test_metrics_measure_from_the_latest_marks_and_name_them(db: Db) -> None:
    declared = NOW - timedelta(minutes=30)
    n = db.run(
        incident.declare,
        "checkout down",
        actor="alice",
        at=declared,
        detected_at=declared - timedelta(minutes=10),
        started_at=declared - timedelta(minutes=20),
    ).id
    (declare,) = events_of(db, Kind.DECLARE)
    m = rules.metrics(queries.events(db.read(), n))
    assert m.time_to_detect == 600
    assert m.impact_start == Moment(
        name="impact start", at=declared - timedelta(minutes=20), event_id=declare.id
    )
    earlier = db.run(
        incident.mark,
        n,
        Mark.IMPACT,
        declared - timedelta(minutes=50),
        "errors began at the 11:10 deploy",
        actor="bob",
    )
    assert earlier.data["corrects"] == declare.id
    later = db.run(
        incident.mark, n, Mark.IMPACT, declared - timedelta(minutes=40), "it was 11:20", actor="bob"
    )
    assert later.data["corrects"] == earlier.id
    db.run(incident.set_status, n, Status.RESOLVED, actor="alice")
    m = rules.metrics(queries.events(db.read(), n))
    assert m.impact_start == Moment(
        name="impact start", at=declared - timedelta(minutes=40), event_id=later.id
    )
    assert m.origin == m.impact_start
    assert m.detected is not None and m.detected.event_id == declare.id
    assert (m.time_to_detect, m.time_to_resolve) == (30 * 60, 70 * 60)
    assert "time_to_detect" in m.durations() and "impact_start" not in m.durations()
    # The projection follows the mark, so the header's times agree with the metrics.
    assert queries.incident(db.read(), n).started_at == declared - timedelta(minutes=40)
    assert "after the declaration" in refused(
        db, InvalidInput, incident.mark, n, Mark.DETECTED, NOW, "late", actor="bob"
    )
    refused(db, InvalidInput, incident.mark, n, Mark.DETECTED, declared, "", actor="bob")
    refused(
        db,
        RuleViolation,
        incident.mark,
        n,
        Mark.IMPACT,
        declared - timedelta(minutes=40),
        "x",
        actor="bob",
    )
    assert verify.verify(db.read()).ok


def test_a_note_after_closing_is_a_post_incident_note(db: Db, inc: int) -> None:
    db.run(incident.set_status, inc, Status.CLOSED, actor="alice", override="a drill")
    note = db.run(incident.log, inc, "postmortem published", actor="bob")
    assert note.data == {"post_incident": True}
    assert display.describe(note) == "post-incident note: postmortem published"
    assert queries.incident(db.read(), inc).status is Status.CLOSED
    assert (
        "post_incident"
        not in db.run(
            incident.log, db.run(incident.declare, "open one", actor="bob").id, "live", actor="bob"
        ).data
    )
    assert verify.verify(db.read()).ok
