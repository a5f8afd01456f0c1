"""The deliverer in this process against a real receiver on 127.0.0.1: what
arrives (signed, in order, once), and what happens when the receiver is down,
slow, failing, rate limiting or refusing. The waits end as soon as their condition
holds; retries are made short by the deliverer's own backoff settings."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from helpers.processes import DEADLINE
from helpers.receivers import SECRET, SLACK_TOKEN, Receiver, Reply

from ircmd.hooks.base import Outcome
from ircmd.hooks.deliverer import Deliverer, settle
from ircmd.hooks.outbox import Claimed
from ircmd.models import Audience, DatabaseReplaced, Kind, Severity
from ircmd.settings import Settings
from ircmd.store import Store


def settings_for(receiver: Receiver, **hook: Any) -> Settings:
    return Settings.model_validate(
        {
            "hooks": [
                {
                    "name": "ops",
                    "kind": "webhook",
                    "url": receiver.url,
                    "secret": SECRET,
                    "events": ["declare", "update", "notify"],
                    **hook,
                },
                {
                    "name": "chat",
                    "kind": "slack",
                    "url": receiver.slack_url,
                    "events": ["update"],
                    "audience": "external",
                },
            ],
            "contacts": {"Legal": {"hook": "ops", "address": "legal@example.com"}},
        }
    )


class Running:
    """A deliverer running in this loop until the test ends, on a connection of its
    own, and `store`, another, on which the test writes as any writer would."""

    def __init__(self, deliverer: Deliverer, store: Store) -> None:
        self.deliverer = deliverer
        self.store = store
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.deliverer.run(self.stop))
        # Running once its routing is in the record.
        for _ in range(int(DEADLINE * 100)):
            if await self.deliverer.store.routes():
                return
            await asyncio.sleep(0.01)

    async def end(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, DEADLINE)


Start = Callable[..., Coroutine[Any, Any, Running]]


@pytest.fixture
async def start(db_ref: Path | str, receiver: Receiver) -> AsyncIterator[Start]:
    """Deliverers on the record of each backend in turn (`db_ref`), or on `db`."""
    made: list[Running] = []
    stores: list[Store] = []

    async def go(db: Path | str | None = None, **hook: Any) -> Running:
        own = await Store.open(db or db_ref)
        store = await Store.open(db or db_ref)
        stores.extend((own, store))
        settings = settings_for(receiver, **hook)
        deliverer = Deliverer(
            own, settings, first_retry=0.2, retry_cap=0.5, poll_interval=0.2, rng=random.Random(1)
        )
        running = Running(deliverer, store)
        await running.start()
        made.append(running)
        return running

    yield go
    for r in made:
        with contextlib.suppress(Exception):
            await r.end()
    for s in stores:
        await s.close()


async def until(check: Callable[[], Coroutine[Any, Any, bool]], what: str) -> None:
    for _ in range(int(DEADLINE * 50)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {DEADLINE} s: {what}")


async def ids_of(store: Store, *kinds: Kind) -> list[int]:
    """The ids of the events of these kinds, in order."""
    return [e.id for e in await store.events() if e.kind in kinds]


async def outcomes(store: Store) -> list[tuple[int, str, str, str]]:
    """(event delivered, hook, outcome, status) of each delivery event, in order."""
    return [
        (e.data["of"], e.data["hook"], e.data["outcome"], e.data["status"])
        for e in await store.events()
        if e.kind is Kind.DELIVERY
    ]


async def test_updates_arrive_signed_readable_and_on_the_record(
    tmp_path: Path, receiver: Receiver, start: Start
) -> None:
    running = await start()
    store = running.store
    await store.declare("Checkout down", actor="alice", severity=Severity.SEV2)
    await store.send_update(1, Audience.EXTERNAL, "We are rolling back", actor="bob")
    await store.notify(1, "legal", actor="alice")
    got = await receiver.until(4)
    hooked = [a for a in got if a.path == "/hook"]
    assert [a.body["event"]["kind"] for a in hooked] == ["declare", "update", "notify"]
    assert all(a.signed for a in hooked)
    assert hooked[2].body["address"] == "legal@example.com"
    first = hooked[0].body
    assert first["incident"]["ref"] == "INC-1" and first["incident"]["severity"] == "SEV2"
    assert first["hook"] == "ops" and first["version"] == 1
    [slack] = [a for a in got if a.path != "/hook"]
    text = slack.body["text"]
    assert "*INC-1 SEV2 Checkout down [reported]*" in text
    assert "update: We are rolling back" in text and "by bob" in text
    await until(lambda: _count(store, 4), "four outcomes on the record")
    # An outcome may be recorded between the writes (on PostgreSQL, NOTIFY wakes the
    # deliverer at once): the ids are read, not assumed.
    declared, update, notified = await ids_of(store, Kind.DECLARE, Kind.UPDATE, Kind.NOTIFY)
    assert sorted(await outcomes(store)) == [
        (declared, "ops", "sent", "200"),
        (update, "chat", "sent", "200"),
        (update, "ops", "sent", "200"),
        (notified, "ops", "sent", "200"),
    ]
    assert {a.key for a in hooked} == {a.key for a in hooked if len(a.key) == 32}
    assert (await store.verify()).ok


async def _count(store: Store, n: int) -> bool:
    return len(await outcomes(store)) >= n


async def test_a_receiver_that_is_down_gets_them_when_it_is_back(
    receiver: Receiver, start: Start
) -> None:
    receiver.stop()
    running = await start()
    store = running.store
    await store.declare("Checkout down", actor="alice")
    for i in range(3):
        await store.send_update(1, Audience.INTERNAL, f"update {i}", actor="alice")
    await until(lambda: _count(store, 1), "the first refusal on the record")
    [(of, hook, outcome, status)] = (await outcomes(store))[:1]
    assert (of, hook, outcome, status) == (1, "ops", "failed", "refused")
    [row] = await store.deliveries(failing=True)
    assert row.failing and row.last_status == "refused"
    # The reason is the error's, without the receiver's address.
    assert row.last_reason == "connection refused"
    assert receiver.got() == []
    receiver.start()
    got = await receiver.until(4)
    hooked = await ids_of(store, Kind.DECLARE, Kind.UPDATE)  # the refusal may come between
    assert [a.body["event"]["id"] for a in got] == hooked  # in order, once each
    await until(lambda: _count(store, 5), "every outcome")
    assert [o for o in await outcomes(store) if o[2] == "sent"] == [
        (n, "ops", "sent", "200") for n in hooked
    ]


async def test_a_slow_receiver_times_out_and_is_retried(receiver: Receiver, start: Start) -> None:
    receiver.hold()
    running = await start(timeout=1)
    store = running.store
    await store.declare("Checkout down", actor="alice")
    await until(lambda: _count(store, 1), "the timeout on the record")
    assert (await outcomes(store))[0][2:] == ("failed", "timeout")
    receiver.release()
    # However long this test takes to release it, the retries meanwhile time out too,
    # and a failure like the last one is not recorded again (`settle`'s `record`): the
    # second outcome on the record is the retry that got through.
    await until(lambda: _count(store, 2), "the retry's outcome")
    assert (await outcomes(store))[-1][2] == "sent"
    got = receiver.got()
    assert len(got) >= 2 and len({a.key for a in got}) == 1  # the same key every time


async def test_500_then_200_and_429_with_retry_after(receiver: Receiver, start: Start) -> None:
    receiver.answer(Reply(500, body="boom"), Reply(429, {"Retry-After": "1"}, "slow down"))
    running = await start()
    store = running.store
    await store.declare("Checkout down", actor="alice")
    await until(lambda: _count(store, 3), "three outcomes")
    delivered = [e for e in await store.events() if e.kind is Kind.DELIVERY]
    assert [(e.data["outcome"], e.data["status"]) for e in delivered] == [
        ("failed", "500"),
        ("failed", "429"),
        ("sent", "200"),
    ]
    assert delivered[0].data["reason"] == "Internal Server Error: boom"
    got = receiver.got()
    assert len(got) == 3 and got[2].at - got[1].at >= 0.9  # Retry-After: 1 respected
    assert len({a.key for a in got}) == 1


async def test_a_400_is_permanent_and_holds_nothing_back(receiver: Receiver, start: Start) -> None:
    receiver.answer(Reply(400, body="unknown field"))
    running = await start()
    store = running.store
    await store.declare("Checkout down", actor="alice")
    await store.send_update(1, Audience.INTERNAL, "next", actor="alice")
    await until(lambda: _count(store, 2), "both outcomes")
    assert await outcomes(store) == [(1, "ops", "failed", "400"), (2, "ops", "sent", "200")]
    [failed] = await store.deliveries(failing=True)
    assert (failed.state, failed.attempts) == ("failed", 1)
    await store.retry_delivery(failed.id, actor="bob")
    await until(lambda: _count(store, 4), "the retry sent")
    assert (await outcomes(store))[-1] == (1, "ops", "sent", "200")
    assert len(receiver.got()) == 3


async def test_it_gives_up_after_give_up_after(receiver: Receiver, start: Start) -> None:
    receiver.stop()
    running = await start(give_up_after=1)
    store = running.store
    await store.declare("Checkout down", actor="alice")
    await until(
        lambda: _has(store, "gave_up"),
        "gave up",
    )
    [row] = await store.deliveries(failing=True)
    assert row.state == "gave_up"


async def _has(store: Store, outcome: str) -> bool:
    return any(o[2] == outcome for o in await outcomes(store))


async def test_two_deliverers_never_send_one_delivery_twice(
    db_ref: Path | str, receiver: Receiver, start: Start
) -> None:
    db = db_ref
    a = await start(db)
    await start(db)
    store = a.store
    for n in range(1, 6):
        await store.declare(f"incident {n}", actor="alice")
    for i in range(20):
        for n in range(1, 6):
            await store.send_update(n, Audience.INTERNAL, f"{n}.{i}", actor="alice")
    got = await receiver.until(105)
    await asyncio.sleep(0.5)  # anything sent twice would have arrived by now
    got = receiver.got()
    assert len(got) == 105 and len({a.key for a in got}) == 105
    for n in range(1, 6):
        texts = [a.body["event"]["text"] for a in got if a.body["event"]["incident"] == f"INC-{n}"]
        assert texts == [f"incident {n}"] + [f"{n}.{i}" for i in range(20)]


def test_settle_backs_off_with_jitter_and_respects_retry_after() -> None:
    from datetime import UTC, datetime, timedelta

    from ircmd.settings import Hook

    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    hook = Hook(name="h", kind="slack", url="http://x", give_up_after=3600)

    def claimed(attempt: int, last: str = "") -> Claimed:
        return Claimed(1, 1, 1, "h", None, attempt, t0, last)

    busy = Outcome(ok=False, retry=True, status="503")
    rng = random.Random(7)
    waits = [
        (settle(busy, claimed(n), hook, t0, rng).retry_at - t0).total_seconds()  # type: ignore[operator]
        for n in (1, 2, 3, 4, 20)
    ]
    assert 1 <= waits[0] <= 2 and 2 <= waits[1] <= 4 and 4 <= waits[2] <= 8
    assert 300 <= waits[4] <= 600  # capped
    told = Outcome(ok=False, retry=True, status="429", retry_after=42)
    assert settle(told, claimed(1), hook, t0, rng).retry_at == t0 + timedelta(seconds=42)
    # Only news is recorded: the first failure, or a different status.
    assert settle(busy, claimed(1), hook, t0, rng).record
    assert not settle(busy, claimed(2, "503"), hook, t0, rng).record
    assert settle(busy, claimed(2, "refused"), hook, t0, rng).record
    late = t0 + timedelta(hours=2)
    assert settle(busy, claimed(9), hook, late, rng).outcome == "gave_up"
    near = t0 + timedelta(seconds=3590)
    assert settle(busy, claimed(9), hook, near, rng).retry_at == t0 + timedelta(hours=1)
    refused = Outcome(ok=False, retry=False, status="404")
    assert settle(refused, claimed(1), hook, t0, rng).outcome == "failed"


async def test_no_secret_reaches_the_record(
    tmp_path: Path, receiver: Receiver, start: Start
) -> None:
    receiver.answer(Reply(404, body=f"no such hook {receiver.slack_url}"))
    running = await start(tmp_path / "x.db")  # the file's bytes are read below
    store = running.store
    await store.declare("Checkout down", actor="alice")
    await store.send_update(1, Audience.EXTERNAL, "x", actor="alice")
    await until(lambda: _count(store, 3), "every outcome")
    await running.end()
    await store.close()
    await running.deliverer.store.close()
    for f in tmp_path.glob("x.db*"):
        raw = f.read_bytes()
        assert SECRET.encode() not in raw and SLACK_TOKEN.encode() not in raw, f
    assert b"/hook" not in (tmp_path / "x.db").read_bytes()


@pytest.mark.sqlite_only
async def test_a_record_replaced_under_the_deliverer_stops_it_with_that_error(
    tmp_path: Path, db_ref: Path, start: Start
) -> None:
    """`ircmd restore` swaps another file in: the deliverer, still on the old one, would
    send nothing queued in the new one and say nothing. It stops with the error
    instead (its supervisor, or a person, starts it again on the new file)."""
    running = await start()
    await running.store.declare("Checkout down", actor="alice", severity=Severity.SEV2)
    other = tmp_path / "other.db"
    async with await Store.open(other) as elsewhere:
        await elsewhere.declare("Somewhere else", actor="bob", severity=Severity.SEV3)
    other.replace(db_ref)
    assert running.task is not None
    with pytest.raises(DatabaseReplaced, match="replaced by another file"):
        await asyncio.wait_for(running.task, DEADLINE)
