"""Custody transfer refusals reach the screen too: the Store enforces the rule."""

from __future__ import annotations

from datetime import timedelta

from helpers.db import Ref
from helpers.screen import NOW, events, frozen, message_text, running, state, submit

from ircmd.models import Severity
from ircmd.store import Store


async def test_screen_refuses_transfer_by_a_non_holder(db_ref: Ref) -> None:
    db = db_ref
    async with await Store.open(db, clock=frozen) as store:
        inc = await store.declare(
            "Checkout down", actor="alice", severity=Severity.SEV2, at=NOW - timedelta(minutes=5)
        )
        await store.add_evidence(inc.id, "disk image", actor="carol")
    before = await events(db)
    async with running(db, user="bob", size=(120, 30)) as pilot:
        screen = await submit(pilot, "/transfer EV-1 bob grabbing it")
        assert (
            "EV-1 is held by carol; only carol or the commander/deputy (alice) may transfer it;"
            " you are bob"
        ) in message_text(screen)
        assert screen.bar.value == "/transfer EV-1 bob grabbing it"  # kept to fix and retry
    assert await events(db) == before
    assert (await state(db)).evidence[0].custodian == "carol"
