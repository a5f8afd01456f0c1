"""The verbs as plain functions over one transaction on an in-memory database: no
asyncio, no file, no Store. Each test runs a verb the way the Store does (one
`transaction`) and checks what it wrote, or that a refusal wrote nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Concatenate, ParamSpec, TypeVar

import pytest

from ircmd.models import (
    ActionStatus,
    Audience,
    ClosureRefused,
    InvalidInput,
    NotFound,
    Role,
    RuleViolation,
    Severity,
    Status,
)
from ircmd.store import presence, queries, verify
from ircmd.store.connection import fresh_schema
from ircmd.store.dialect import SQLITE
from ircmd.store.reader import Connection, Reader
from ircmd.store.tx import Tx, transaction
from ircmd.store.verbs import actions, checklist, comms, evidence, incident, review

P = ParamSpec("P")
T = TypeVar("T")

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Db:
    """One in-memory record and a way to run verbs on it, as the Store would."""

    def __init__(self) -> None:
        self.conn = fresh_schema()
        self.conn.isolation_level = None  # transactions are the verbs' own
        self.conn.row_factory = sqlite3.Row
        self.max_text = 64 * 1024
        self.force_time = False

    def run(self, verb: Callable[Concatenate[Tx, P], T], *args: P.args, **kw: P.kwargs) -> T:
        def work(conn: Connection) -> T:
            tx = Tx(conn, SQLITE, lambda: NOW, max_text=self.max_text, force_time=self.force_time)
            return verb(tx, *args, **kw)

        return transaction(self.conn, SQLITE, work, timeout=1)

    def read(self) -> Reader:
        return Reader(self.conn, SQLITE)

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM events").fetchone()[0])


@pytest.fixture
def db() -> Iterator[Db]:
    d = Db()
    try:
        yield d
    finally:
        d.conn.close()


@pytest.fixture
def inc(db: Db) -> int:
    """INC-1, commanded by alice."""
    n = db.run(incident.declare, "checkout down", actor="alice").id
    db.run(incident.assign, n, Role.COMMANDER, "alice", actor="alice")
    return n


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
    message = refused(db, RuleViolation, incident.log, inc, "late note", actor="alice")
    assert "is closed" in message


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


# ---------------------------------------------------------------------- comms


def test_updates_and_notifications_land_in_the_state(db: Db, inc: int) -> None:
    db.run(comms.send_update, inc, Audience.INTERNAL, "we are on it", actor="alice")
    db.run(comms.notify, inc, "ｌｅｇａｌ", actor="alice")
    state = queries.state(db.read(), inc)
    assert [u.text for u in state.updates] == ["we are on it"]
    assert [n.who for n in state.notifications] == ["legal"]
    refused(db, InvalidInput, comms.send_update, inc, Audience.INTERNAL, "  ", actor="alice")


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
