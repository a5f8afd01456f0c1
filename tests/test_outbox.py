"""The outbox: what is queued for which hook in the event's own transaction, the
lease a deliverer takes, and each outcome on the record.

The clock is a variable the test moves: no test here waits on the wall clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from helpers import db
from helpers.db import Ref

from ircmd.hooks import outbox
from ircmd.hooks.outbox import ContactRoute, Route
from ircmd.models import Audience, Kind, NotFound, Role, RuleViolation, Severity, Status
from ircmd.store import Store
from ircmd.store.verbs.deliveries import Result

T0 = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


ROUTES = [
    Route("all", "webhook", ("declare", "severity", "status", "assign", "update", "notify")),
    Route("ext", "slack", ("update",), audience="external"),
    Route("big", "webhook", ("update", "close"), min_severity="SEV2"),
    Route("sec", "webhook", ("declare", "action", "alert"), incident_type="Security"),
    Route("mail", "email", ()),
]
CONTACTS = [ContactRoute("Legal Counsel", "mail", "legal@example.com")]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(db_ref: Ref, clock: Clock) -> AsyncIterator[Store]:
    async with await Store.open(db_ref, clock=clock) as s:
        await s.set_routes(ROUTES, CONTACTS)
        yield s


def queued(ref: Ref) -> list[tuple[Any, ...]]:
    return db.rows(ref, "SELECT event_id, hook, address FROM deliveries ORDER BY id")


async def test_each_event_is_queued_for_the_hooks_that_want_it(store: Store) -> None:
    await store.declare("Checkout down", actor="alice", severity=Severity.SEV3)  # 1
    await store.log(1, "a note", actor="alice")  # 2: no hook wants notes
    await store.send_update(1, Audience.INTERNAL, "looking", actor="alice")  # 3
    await store.send_update(1, Audience.EXTERNAL, "we know", actor="alice")  # 4
    await store.set_severity(1, Severity.SEV2, actor="alice")  # 5
    await store.send_update(1, Audience.EXTERNAL, "worse", actor="alice")  # 6
    await store.notify(1, "legal counsel", actor="alice")  # 7: the contact's hook, any case
    await store.notify(1, "Finance", actor="alice")  # 8: no channel: only `all`
    await store.set_status(1, Status.RESOLVED, actor="alice")  # 9
    await store.assign(1, Role.SCRIBE, "bob", actor="alice")  # 10
    assert queued(store.location) == [
        (1, "all", None),  # `sec` wants declares of Security incidents only
        (3, "all", None),
        (4, "all", None),
        (4, "ext", None),  # external only
        (5, "all", None),
        (6, "all", None),
        (6, "big", None),  # SEV2 now
        (6, "ext", None),
        (7, "all", None),
        (7, "mail", "legal@example.com"),  # `mail` lists no events: the contact's route
        (8, "all", None),
        (9, "all", None),  # a status change, not a close: `big` waits for closed
        (10, "all", None),
    ]
    kinds = [e.kind for e in await store.events(1)]
    assert kinds[1] is Kind.NOTE


async def test_close_type_and_action_filters(store: Store, clock: Clock) -> None:
    await store.declare("Leak", actor="alice", severity=Severity.SEV1, type="security")
    await store.add_action(1, "rotate keys", actor="alice")
    await store.save_review(1, actor="alice", summary="s", root_cause="r")
    await store.send_update(1, Audience.INTERNAL, "done", actor="alice", final=True)
    before = len(queued(store.location))
    await store.set_status(1, Status.CLOSED, actor="alice", override="test")
    closing = queued(store.location)[before:]
    assert sorted(h for _, h, _ in closing) == ["all", "big"]
    hooks = [h for _, h, _ in queued(store.location)]
    assert hooks.count("sec") == 2  # the declare and the action, "Security" in any case


async def test_nothing_is_queued_without_routes_or_for_a_delivery(
    db_ref: Ref, clock: Clock
) -> None:
    async with await Store.open(db_ref, clock=clock) as store:
        await store.declare("x", actor="alice")
        await store.send_update(1, Audience.EXTERNAL, "x", actor="alice")
        assert queued(store.location) == []
        await store.set_routes([Route("all", "webhook", tuple(outbox.EVENTS))], [])
        await store.send_update(1, Audience.EXTERNAL, "y", actor="alice")
        assert len(queued(store.location)) == 1
        claim = await store.claim_deliveries("me", {"all": 5.0}, clock.now)
        [[c]] = claim.runs
        ev = await store.record_delivery(c.id, Result("sent", "200"), actor="deliverer", owner="me")
        assert ev is not None and ev.kind is Kind.DELIVERY
        assert len(queued(store.location)) == 1  # the outcome is never itself delivered
        assert (await store.verify()).ok


async def test_a_claim_takes_each_incident_in_order_and_leases_it(
    store: Store, clock: Clock
) -> None:
    await store.declare("One", actor="alice")  # 1
    await store.assign(1, Role.SCRIBE, "bob", actor="alice")  # 2
    await store.declare("Two", actor="bob")  # 3
    await store.set_severity(2, Severity.SEV1, actor="bob")  # 4
    for i in range(3):
        await store.send_update(1, Audience.INTERNAL, f"one {i}", actor="alice")  # 5, 6, 7
    hooks = {"all": 2.0}
    first = await store.claim_deliveries("a", hooks, clock.now)
    assert [[c.event_id for c in run] for run in first.runs] == [[1, 2, 5, 6, 7], [3, 4]]
    assert all(c.attempt == 1 for run in first.runs for c in run)
    # Another deliverer takes nothing while the leases hold.
    assert (await store.claim_deliveries("b", hooks, clock.now)).runs == []
    for c in first.runs[1]:  # INC-2's go out
        await store.record_delivery(c.id, Result("sent", "200"), actor="deliverer", owner="a")
    # "a" sends INC-1's first and fails on the second: the rest go back, unsent.
    run = first.runs[0]
    await store.record_delivery(run[0].id, Result("sent", "200"), actor="deliverer", owner="a")
    retry_at = clock.now + timedelta(seconds=30)
    failed = Result("failed", "503", "unavailable", retry_at=retry_at)
    await store.record_delivery(run[1].id, failed, actor="deliverer", owner="a")
    await store.release_deliveries("a", [c.id for c in run[2:]])
    # Event 2 is not due yet, so nothing after it in INC-1 is taken either.
    later = await store.claim_deliveries("b", hooks, clock.now)
    assert later.runs == [] and later.next_due == retry_at
    clock.now = retry_at
    [run_b] = (await store.claim_deliveries("b", hooks, clock.now)).runs
    assert [c.event_id for c in run_b] == [2, 5, 6, 7]
    assert [c.attempt for c in run_b] == [2, 1, 1, 1]


async def test_a_dead_holders_lease_runs_out(store: Store, clock: Clock) -> None:
    await store.declare("One", actor="alice")
    await store.assign(1, Role.SCRIBE, "bob", actor="alice")
    taken = await store.claim_deliveries("dead", {"all": 2.0}, clock.now)
    assert [len(r) for r in taken.runs] == [2]
    assert (await store.claim_deliveries("b", {"all": 2.0}, clock.now)).runs == []
    # The first lease covers one send and the margin, the second two sends.
    clock.now += timedelta(seconds=2) + outbox.LEASE_MARGIN
    [[c]] = (await store.claim_deliveries("b", {"all": 2.0}, clock.now)).runs
    assert c.event_id == 1 and c.attempt == 2
    # What the dead holder might still say is not recorded: the lease is b's now.
    late = await store.record_delivery(c.id, Result("sent", "200"), actor="x", owner="dead")
    assert late is None
    # A holder known to be gone (a process of this host that ended) holds nothing.
    gone = await store.claim_deliveries("c", {"all": 2.0}, clock.now, gone={"b"}.__contains__)
    assert [[d.id for d in r] for r in gone.runs] == [[c.id]]  # the next is still "dead"'s
    clock.now += timedelta(hours=1)
    assert (await store.claim_deliveries("b", {"all": 2.0}, clock.now)).runs != []
    # A deliverer never takes what it is sending itself, lease or not.
    clock.now += timedelta(hours=1)
    assert (await store.claim_deliveries("b", {"all": 2.0}, clock.now, holding={c.id})).runs == []


async def test_outcomes_on_the_record_and_a_retry(store: Store, clock: Clock) -> None:
    await store.declare("One", actor="alice", commander="")
    [[c]] = (await store.claim_deliveries("a", {"all": 2.0}, clock.now)).runs
    refused = Result("failed", "400", "bad request")
    ev = await store.record_delivery(c.id, refused, actor="deliverer", owner="a")
    assert ev is not None
    assert ev.data == {
        "of": 1,
        "hook": "all",
        "delivery": c.id,
        "outcome": "failed",
        "status": "400",
        "reason": "bad request",
        "attempt": 1,
    }
    [row] = await store.deliveries(1, failing=True)
    assert (row.state, row.shown_state, row.last_status, row.kind) == (
        "failed",
        "failed",
        "400",
        "declare",
    )
    with pytest.raises(NotFound):
        await store.retry_delivery(99, actor="bob")
    again = await store.retry_delivery(c.id, actor="bob")
    assert (again.actor, again.data["outcome"]) == ("bob", "requeued")
    with pytest.raises(RuleViolation, match="is queued"):
        await store.retry_delivery(c.id, actor="bob")
    [[c2]] = (await store.claim_deliveries("a", {"all": 2.0}, clock.now)).runs
    assert c2.id == c.id and c2.attempt == 2
    quiet = Result("failed", "503", retry_at=clock.now, record=False)
    assert await store.record_delivery(c2.id, quiet, actor="deliverer", owner="a") is None
    [row] = await store.deliveries(failing=True)
    assert row.shown_state == "retrying" and row.failing
    assert (await store.verify()).ok
    assert await store.deliveries_waiting() == 1


async def test_routes_replace_the_last_deliverers(store: Store) -> None:
    assert [r.name for r in await store.routes()] == ["all", "big", "ext", "mail", "sec"]
    await store.set_routes([Route("only", "slack", ("update",))], [])
    assert await store.routes() == [Route("only", "slack", ("update",))]
    assert db.scalar(store.location, "SELECT count(*) FROM contact_routes") == 0


async def test_the_payload_is_the_event_and_its_incident(store: Store) -> None:
    await store.declare("Checkout down", actor="alice", severity=Severity.SEV2, type="outage")
    ev = await store.send_update(1, Audience.EXTERNAL, "we know", actor="alice")
    got = (await store.delivery_payloads([ev.id]))[ev.id]
    assert got["incident"] == {
        "ref": "INC-1",
        "title": "Checkout down",
        "severity": "SEV2",
        "status": "reported",
        "type": "outage",
        "commander": "alice",
    }
    assert got["event"]["text"] == "we know" and got["event"]["hash"] == ev.hash
    assert got["event"]["data"]["audience"] == "external"
    key = outbox.idempotency_key(ev.hash, "ext")
    assert key == outbox.idempotency_key(ev.hash, "ext") != outbox.idempotency_key(ev.hash, "all")
