"""The report says where each update and notify reached: each hook's final outcome,
read from the record's delivery events (Markdown and JSON alike), and the screen's
words on deliveries (`view`), which the header and the panes share."""

from __future__ import annotations

from datetime import UTC, datetime

from helpers.db import Ref

from ircmd import report, view
from ircmd.hooks.outbox import DeliveryRow, Route
from ircmd.models import Audience, Severity
from ircmd.store import Store
from ircmd.store.verbs.deliveries import Result

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


async def settle(store: Store, hook: str, result: Result) -> None:
    claim = await store.claim_deliveries("test", {hook: 10.0}, NOW)
    for run in claim.runs:
        for c in run:
            await store.record_delivery(c.id, result, actor="deliverer", owner="test")


async def test_each_update_and_notify_lists_its_hooks_final_outcomes(db_ref: Ref) -> None:
    async with await Store.open(db_ref, clock=clock) as store:
        await store.declare("Checkout down", actor="alice", severity=Severity.SEV2)
        await store.set_routes(
            [Route("email", "email", ("update",)), Route("ops", "webhook", ("update", "notify"))],
            [],
        )
        await store.send_update(1, Audience.EXTERNAL, "We are on it", actor="alice")
        await settle(store, "ops", Result("failed", "503", "busy", retry_at=NOW))
        await settle(store, "ops", Result("sent", "200"))
        await settle(store, "email", Result("failed", "550", "mailbox <b>unavailable</b>"))
        await store.notify(1, "Legal", actor="alice")
        await settle(store, "ops", Result("gave_up", "timeout", ""))
        state, events = await store.state(1), await store.events(1)

    md = report.incident_markdown(state, events, NOW)
    comms = md[md.index("## Communications sent") : md.index("## Notifications")]
    # Each hook's latest outcome, in the order the hooks first answered; user text
    # made safe for Markdown.
    assert (
        "  - delivered: ops: sent (200) after 2 attempts; "
        "email: failed (550 mailbox \\<b>unavailable\\</b>)"
    ) in comms
    notified = md[md.index("## Notifications") : md.index("## Roles")]
    assert "  - delivered: ops: gave up (timeout)" in notified

    data = report.incident_json(state, events, NOW, {})
    (u,) = data["updates"]
    assert [(d["hook"], d["outcome"], d["status"], d["attempt"]) for d in u["deliveries"]] == [
        ("ops", "sent", "200", 2),  # ops answered first, then again: its latest
        ("email", "failed", "550", 1),
    ]
    assert u["deliveries"][1]["reason"] == "mailbox <b>unavailable</b>"  # exact, as data
    (n,) = data["escalation"]["notified"]
    assert [(d["hook"], d["outcome"]) for d in n["deliveries"]] == [("ops", "gave_up")]

    async with await Store.open(db_ref, clock=clock) as store:
        (email,) = [d for d in await store.deliveries(1) if d.hook == "email"]
        await store.retry_delivery(email.id, actor="bob")
        state, events = await store.state(1), await store.events(1)
    md = report.incident_markdown(state, events, NOW)
    assert "; email: queued again by bob\n" in md


def row(state: str, attempts: int = 0, status: str = "", reason: str = "") -> DeliveryRow:
    return DeliveryRow(
        id=1,
        event_id=9,
        incident_id=1,
        kind="update",
        hook="ops",
        address=None,
        state=state,
        attempts=attempts,
        next_at=NOW,
        queued_at=NOW,
        last_status=status,
        last_reason=reason,
    )


def test_a_delivery_reads_as_its_state_with_the_far_ends_words() -> None:
    assert view.delivery_mark(row("sent", 1, "200")) == ("ops ✓", view.SENT)
    assert view.delivery_mark(row("failed", 1, "550", "mailbox\nunavailable")) == (
        "ops ✗ 550 mailbox unavailable",
        view.FAILING,
    )
    assert view.delivery_mark(row("gave_up", 9, "timeout")) == ("ops ✗ gave up timeout", "failing")
    assert view.delivery_mark(row("queued", 2, "503")) == ("ops … retrying 503", view.FAILING)
    assert view.delivery_mark(row("queued")) == ("ops … queued", view.WAITING)
    assert view.delivery_mark(row("sending")) == ("ops … sending", view.WAITING)
    long = view.delivery_mark(row("failed", 1, "500", "x" * 100))[0]
    assert long.endswith("x…") and len(long) == len("ops ✗ 500 ") + view.SHORT_REASON


def test_the_headers_words_on_deliveries() -> None:
    assert view.delivery_warning(0, 0, False) == ""
    assert view.delivery_warning(2, 0, True) == "deliveries failing: 2"
    assert view.delivery_warning(0, 3, True) == ""  # a deliverer is on it
    assert view.delivery_warning(0, 3, None) == ""  # presence not read yet
    assert view.delivery_warning(0, 1, False) == "1 delivery waiting, no deliverer running"
    assert view.delivery_warning(0, 3, False) == "3 deliveries waiting, no deliverer running"
    assert view.delivery_warning(2, 3, False) == "deliveries: 2 failing, 3 waiting, no deliverer"
