"""The update draft follows the incident: containment progress until contained,
recovery progress after that."""

from __future__ import annotations

from helpers.db import Ref
from helpers.screen import NOW, frozen

from ircmd.comms import draft_update
from ircmd.models import Audience, Phase, Severity, Status
from ircmd.store import Store


async def test_the_draft_reports_the_phase_the_incident_is_in(db_ref: Ref) -> None:
    async with await Store.open(db_ref, clock=frozen) as store:
        await store.declare("Checkout down", actor="alice", severity=Severity.SEV2)
        await store.add_item(1, "Roll back the release", actor="alice")
        await store.add_item(1, "Fail over to EU-2", actor="alice")
        await store.add_item(1, "Replay failed payments", actor="alice", phase=Phase.RECOVERY)
        await store.check(1, 1, actor="alice")
        early = draft_update(await store.state(1), Audience.INTERNAL, NOW)
        await store.check(1, 2, actor="alice")
        await store.set_status(1, Status.CONTAINED, actor="alice")
        later = draft_update(await store.state(1), Audience.INTERNAL, NOW)
    assert "Containment 1/2 steps done. Next: Fail over to EU-2." in early
    assert "Recovery 0/1 steps done. Next: Replay failed payments." in later
    assert "Containment" not in later


async def test_a_skipped_step_is_not_next(db_ref: Ref) -> None:
    async with await Store.open(db_ref, clock=frozen) as store:
        await store.declare("Checkout down", actor="alice", severity=Severity.SEV2)
        await store.add_item(1, "Page the vendor", actor="alice")
        await store.add_item(1, "Fail over to EU-2", actor="alice")
        await store.skip_item(1, 1, "the vendor is not involved", actor="alice")
        draft = draft_update(await store.state(1), Audience.INTERNAL, NOW)
    assert "Containment 0/2 steps done. Next: Fail over to EU-2." in draft
