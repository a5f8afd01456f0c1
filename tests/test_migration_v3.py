"""A version-2 record (before skipped steps and structured impact) opens, migrates
to the current schema, still verifies, and takes the new kinds of event."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers.old_record import old_record

from ircmd.models import Kind, Mark, Severity
from ircmd.store import Store, schema

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def version_2_file(path: Path) -> None:
    step = {"n": 1, "phase": "containment"}
    declare = {"title": "Payments down", "severity": Severity.SEV2.value, "summary": ""}
    events = [
        (Kind.DECLARE, "Payments down", declare),
        (Kind.ITEM_ADD, "block the bad IPs", step),
        (Kind.ASSIGN, "", {"role": "commander", "person": "alice"}),
        (Kind.NOTIFY, "CEO", {"who": "CEO"}),
        (Kind.CHECK, "block the bad IPs", step),
        (Kind.UNCHECK, "block the bad IPs", step),
    ]
    old_record(
        path,
        2,
        [
            (1, kind, "alice", text, data, T0 + timedelta(minutes=i))
            for i, (kind, text, data) in enumerate(events)
        ],
    )


async def test_a_version_2_record_migrates_and_verifies(tmp_path: Path) -> None:
    db = tmp_path / "v2.db"
    version_2_file(db)
    async with await Store.open(db, clock=lambda: T0 + timedelta(hours=1)) as store:
        assert (await store.verify()).ok
        state = await store.state(1)
        (step,) = state.checklist
        assert (step.text, step.skipped) == ("block the bad IPs", False)
        assert state.impact.updated_at is None
        await store.check(1, 1, actor="alice")
        await store.add_item(1, "rotate keys", actor="alice")
        await store.skip_item(1, 2, "no keys exposed", actor="alice")
        await store.set_impact(1, actor="alice", users_affected=30)
        await store.mark(1, Mark.IMPACT, T0 - timedelta(minutes=5), "alerts lagged", actor="bob")
        state = await store.state(1)
        assert state.checklist[1].skip_reason == "no keys exposed"
        assert state.impact.users_affected == 30
        assert (await store.verify()).ok
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (schema.SCHEMA_VERSION,)
