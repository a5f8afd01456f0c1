"""serve's group commit (`alerting.GroupCommit`) in process, on a real database:
payloads queued together are written in one transaction, and each is answered as
if it had been written alone (its own result, or its own error)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from helpers import db
from helpers.db import Ref

from ircmd.alerting import MAX_BATCH_ALERTS, GroupCommit
from ircmd.ingest import Alert, AlertStatus, IngestResult, Route, RoutedAlert, route
from ircmd.models import InvalidInput, StorageBusy
from ircmd.store import Store
from ircmd.store.verbs.alerts import Payload

BY_SERVICE = Route(group_by=("alertname", "service"))


def routed(fp: str, *, service: str = "checkout", title: str = "5xx rate high") -> RoutedAlert:
    labels = {"alertname": "HighErrorRate", "service": service}
    alert = Alert(fingerprint=fp, status=AlertStatus.FIRING, title=title, labels=labels)
    r = route(alert, (), BY_SERVICE)
    assert r is not None
    return r


class Spy:
    """The transactions a GroupCommit runs: the payloads of each batch, and each
    payload written alone."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.batches: list[int] = []
        self.alone = 0
        batch, alone = store.ingest_batch, store.ingest_alerts

        async def counted_batch(payloads: Sequence[Payload]) -> Any:
            self.batches.append(len(payloads))
            return await batch(payloads)

        async def counted_alone(*args: Any, **kw: Any) -> IngestResult:
            self.alone += 1
            return await alone(*args, **kw)

        monkeypatch.setattr(store, "ingest_batch", counted_batch)
        monkeypatch.setattr(store, "ingest_alerts", counted_alone)


@pytest.fixture
async def store(db_ref: Ref) -> AsyncIterator[Store]:
    async with await Store.open(db_ref) as s:
        yield s


async def send(writer: GroupCommit, *payloads: list[RoutedAlert]) -> list[Any]:
    """Every payload queued before the first transaction starts; results or errors."""
    calls = (
        writer.ingest_alerts(p, actor="alerts:am", source="am", playbooks={}) for p in payloads
    )
    return list(await asyncio.gather(*calls, return_exceptions=True))


async def alert_fingerprints(store: Store) -> list[str]:
    return [e.data["fingerprint"] for e in await store.events() if e.kind == "alert"]


async def test_payloads_queued_together_are_one_transaction_each_answered_as_alone(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(store, monkeypatch)
    first, second, third, fourth = await send(
        GroupCommit(store),
        # Refused by a rule, first of its group (`ingest.parse` refuses such a payload
        # before it gets this far; the rule is the record's own guard).
        [routed("a1", title="lone \udc00 surrogate")],
        [routed("a1")],  # so the incident is opened by this one
        [routed("a2"), routed("b1", service="cart")],
        [routed("a1")],  # a re-send
    )
    assert spy.batches == [4] and spy.alone == 0
    assert isinstance(first, InvalidInput) and "title is not valid Unicode" in str(first)
    assert (second.opened, second.recorded) == (["INC-1"], 1)
    assert (third.opened, third.recorded, third.incidents) == (["INC-2"], 2, ["INC-1", "INC-2"])
    assert (fourth.recorded, fourth.duplicates) == (0, 1)
    assert [i.key for i in await store.list_incidents()] == ["INC-1", "INC-2"]
    assert await alert_fingerprints(store) == ["a1", "a2", "b1"]
    assert (await store.verify()).ok


async def test_a_transaction_holds_at_most_max_batch_alerts_but_a_bigger_payload_goes_whole(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(store, monkeypatch)
    half = MAX_BATCH_ALERTS // 2 + 1
    sizes = [MAX_BATCH_ALERTS + 1, half, half, 1]
    payloads = [[routed(f"{n}-{i}") for i in range(size)] for n, size in enumerate(sizes)]
    results = await send(GroupCommit(store), *payloads)
    assert spy.batches == [1, 1, 2]
    assert [r.recorded for r in results] == sizes
    assert len(await alert_fingerprints(store)) == sum(sizes)


async def test_a_payload_that_fails_unforeseen_fails_alone_after_the_batch_is_retried_one_by_one(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(store, monkeypatch)
    # A lone surrogate cannot be stored: it stands for any failure no rule foresees
    # (`ingest.parse` refuses such a payload before it gets this far).
    first, bad, last = await send(
        GroupCommit(store), [routed("a1")], [routed("\ud800")], [routed("a2")]
    )
    assert spy.batches == [3] and spy.alone == 3
    assert isinstance(bad, UnicodeEncodeError)
    assert (first.opened, first.recorded, last.recorded) == (["INC-1"], 1, 1)
    assert await alert_fingerprints(store) == ["a1", "a2"]
    assert (await store.verify()).ok


async def test_a_lock_held_past_the_timeout_fails_the_whole_batch_at_once(
    db_ref: Ref, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await Store.open(db_ref, timeout=0.1) as store:
        spy = Spy(store, monkeypatch)
        with db.write_lock_held(db_ref):  # another connection: on SQLite, as if a process
            results = await send(GroupCommit(store), [routed("a1")], [routed("a2")], [routed("a3")])
        assert spy.batches == [3] and spy.alone == 0  # not each alone, waiting as long again
        assert all(isinstance(r, StorageBusy) for r in results)
        assert await store.events() == []
        await send(GroupCommit(store), [routed("a4")])  # and the store goes on after
        assert await alert_fingerprints(store) == ["a4"]


async def test_a_sender_that_goes_away_does_not_stop_the_others_and_its_alerts_are_written(
    store: Store,
) -> None:
    writer = GroupCommit(store)
    calls = [
        asyncio.create_task(
            writer.ingest_alerts([routed(fp)], actor="alerts:am", source="am", playbooks={})
        )
        for fp in ("a1", "a2", "a3")
    ]
    await asyncio.sleep(0)  # each is queued; their transaction has not answered yet
    calls[0].cancel()
    second, third = await asyncio.gather(*calls[1:])
    assert calls[0].cancelled()
    assert (second.recorded, third.recorded) == (1, 1)
    assert await alert_fingerprints(store) == ["a1", "a2", "a3"]
