"""A version-4 record (before the outbox) opens, migrates to the current schema,
still verifies, and queues deliveries for the hooks a deliverer routes."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers.old_record import old_record

from ircmd.hooks.outbox import Route
from ircmd.models import Audience, Kind, Severity
from ircmd.store import Store, schema

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_a_version_4_record_migrates_and_queues_deliveries(tmp_path: Path) -> None:
    db = tmp_path / "v4.db"
    declare = {"title": "Payments down", "severity": Severity.SEV2.value, "summary": ""}
    update = {"audience": "external", "channel": "", "final": False}
    old_record(
        db,
        4,
        [
            (1, Kind.DECLARE, "alice", "Payments down", declare, T0),
            (1, Kind.UPDATE, "alice", "We are looking into it", update, T0),
        ],
    )
    async with await Store.open(db, clock=lambda: T0 + timedelta(hours=1)) as store:
        assert (await store.verify()).ok
        assert await store.deliveries() == []  # nothing queued before there was an outbox
        await store.set_routes([Route("ops", "webhook", ("update",))], [])
        ev = await store.send_update(1, Audience.EXTERNAL, "Fixed", actor="alice")
        [row] = await store.deliveries(1)
        assert (row.event_id, row.hook, row.state) == (ev.id, "ops", "queued")
        assert (await store.verify()).ok
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (schema.SCHEMA_VERSION,)
