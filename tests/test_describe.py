"""How changes read on the record (display.describe): who moved evidence, what
changed on an action, in the words the timeline, `show` and the report use."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from helpers.screen import events, frozen

from ircmd.display import describe
from ircmd.models import ActionStatus, Kind, Role, Severity
from ircmd.store import Store


async def test_a_commanders_transfer_says_who_moved_the_item(tmp_path: Path) -> None:
    db = tmp_path / "ircmd.db"
    async with await Store.open(db, clock=frozen) as store:
        inc = await store.declare("Breach", actor="alice", severity=Severity.SEV1)
        await store.assign(inc.id, Role.COMMANDER, "alice", actor="alice")
        await store.add_evidence(inc.id, "disk image", actor="carol")
        await store.transfer_evidence(inc.id, 1, "dave", reason="carol off shift", actor="alice")
        await store.transfer_evidence(inc.id, 1, "erin", reason="to forensics", actor="dave")
    lines = [describe(e) for e in await events(db) if e.kind is Kind.EVIDENCE_TRANSFER]
    assert lines == [
        "evidence EV-1 custody carol -> dave (by alice): carol off shift",
        "evidence EV-1 custody dave -> erin: to forensics",
    ]


async def test_an_action_change_says_what_changed(tmp_path: Path) -> None:
    db = tmp_path / "ircmd.db"
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
