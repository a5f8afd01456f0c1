"""How changes read on the record (display.describe): who moved evidence, what
changed on an action, in the words the timeline, `show` and the report use."""

from __future__ import annotations

from datetime import date, timedelta

from helpers.db import Ref
from helpers.screen import events, frozen

from ircmd.display import describe, stamp
from ircmd.models import ActionStatus, ActionType, Kind, Mark, Severity
from ircmd.store import Store


async def test_a_commanders_transfer_says_who_moved_the_item(db_ref: Ref) -> None:
    db = db_ref
    async with await Store.open(db, clock=frozen) as store:
        inc = await store.declare("Breach", actor="alice", severity=Severity.SEV1)
        await store.add_evidence(inc.id, "disk image", actor="carol")
        await store.transfer_evidence(inc.id, 1, "dave", reason="carol off shift", actor="alice")
        await store.transfer_evidence(inc.id, 1, "erin", reason="to forensics", actor="dave")
    lines = [describe(e) for e in await events(db) if e.kind is Kind.EVIDENCE_TRANSFER]
    assert lines == [
        "evidence EV-1 custody carol -> dave (by alice): carol off shift",
        "evidence EV-1 custody dave -> erin: to forensics",
    ]


async def test_an_action_change_says_what_changed(db_ref: Ref) -> None:
    db = db_ref
    async with await Store.open(db, clock=frozen) as store:
        inc = await store.declare("Breach", actor="alice", severity=Severity.SEV1)
        await store.add_action(inc.id, "Rotate keys", actor="alice")
        await store.set_action(1, actor="alice", owner="dave", due=date(2026, 12, 1))
        await store.set_action(1, ActionStatus.IN_PROGRESS, actor="dave")
    lines = [describe(e) for e in await events(db) if e.kind is Kind.ACTION_SET]
    assert lines == [
        "action ACT-1 owner dave, due 2026-12-01",
        "action ACT-1 open -> in_progress",
    ]


async def test_corrections_and_changes_say_what_they_replace(db_ref: Ref) -> None:
    db = db_ref
    async with await Store.open(db, clock=frozen) as store:
        inc = (await store.declare("DB down", actor="alice", severity=Severity.SEV2)).id
        await store.add_item(inc, "fail ovr", actor="alice", assignee="bob")
        await store.edit_item(inc, 1, "fail over", actor="alice")
        await store.own_item(inc, 1, "carol", actor="alice")
        await store.own_item(inc, 1, None, actor="alice")
        await store.skip_item(inc, 1, "replica was down too", actor="alice")
        await store.check(inc, 1, actor="alice", done=False)
        await store.notify(inc, "CEO", actor="alice")
        await store.unnotify(inc, "CEO", "wrong number", actor="alice")
        await store.retitle(inc, "DB down in EU", actor="alice")
        await store.set_summary(inc, "writes fail", actor="alice")
        await store.mark(inc, Mark.IMPACT, frozen() - timedelta(minutes=5), "deploy", actor="bob")
        await store.set_impact(
            inc, actor="bob", customer_impact="EU writes fail", services=["db"], users_affected=9
        )
        await store.add_action(inc, "add a replica", actor="alice")
        await store.retype_action(1, ActionType.PREVENTIVE, actor="alice", reason="prevents")
    ids = {e.kind: e.id for e in reversed(await events(db))}
    shown = [describe(e) for e in await events(db)][2:]
    assert shown[:5] == [
        f"step 1 corrected (#{ids[Kind.ITEM_ADD]}): fail over (was: fail ovr)",
        "step 1 owned by carol (was bob)",
        "step 1 without an owner (was carol)",
        "[-] 1. skipped, not applicable: replica was down too",
        "[ ] 1. fail over (no longer skipped)",
    ]
    assert shown[6:] == [
        f"CEO not notified after all (retracts #{ids[Kind.NOTIFY]}): wrong number",
        "retitled: DB down in EU (was: DB down)",
        "summary: writes fail",
        f"re-marked: impact began {stamp(frozen() - timedelta(minutes=5))}: deploy",
        "impact: EU writes fail; services db; 9 users",
        "action ACT-1 (corrective, no owner, no due date): add a replica",
        "action ACT-1 type corrective -> preventive: prevents",
    ]
