"""A version-3 record (before alerts and public titles) opens, migrates to the
current schema, still verifies, and takes alerts and a public title."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers.old_record import old_record

from ircmd.ingest import Alert, AlertStatus, RoutedAlert
from ircmd.models import Kind, Severity
from ircmd.store import Store, schema

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_a_version_3_record_migrates_and_takes_alerts(tmp_path: Path) -> None:
    db = tmp_path / "v3.db"
    declare = {"title": "Payments down", "severity": Severity.SEV2.value, "summary": ""}
    update = {"audience": "external", "channel": "", "final": False}
    old_record(
        db,
        3,
        [
            (1, Kind.DECLARE, "alice", "Payments down", declare, T0),
            (1, Kind.ASSIGN, "alice", "", {"role": "commander", "person": "alice"}, T0),
            (1, Kind.UPDATE, "alice", "We are looking into it", update, T0),
        ],
    )
    async with await Store.open(db, clock=lambda: T0 + timedelta(hours=1)) as store:
        assert (await store.verify()).ok
        assert await store.untriaged() == set()
        (public,) = await store.public_incidents()
        assert (public.title, public.public_status) == ("Incident INC-1", "investigating")
        await store.set_public_title(1, "Payments", actor="alice")
        alert = Alert(fingerprint="f", status=AlertStatus.FIRING, title="5xx", starts_at=T0)
        routed = RoutedAlert(alert=alert, group="g", severity=Severity.SEV3)
        result = await store.ingest_alerts([routed], actor="alerts:am", source="am", playbooks={})
        assert result.opened == ["INC-2"] and await store.untriaged() == {2}
        assert [i.title for i in await store.public_incidents()] == ["Payments"]
        assert (await store.verify()).ok
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (schema.SCHEMA_VERSION,)
