"""`ircmd migrate`: a SQLite record moved to PostgreSQL whole, and the commands that
prove it there (`verify`, `report`, `anchor`), with `backup` (pg_dump) and the
refusals: a non-empty target, a broken source, a read-only or locked session."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from helpers import pg
from helpers.cli import RunCli, assert_error, assert_ok

from ircmd.hooks.outbox import EVENTS, ContactRoute, Route
from ircmd.ingest import Alert, AlertStatus, RoutedAlert
from ircmd.models import ActionStatus, Audience, Mark, Phase, Playbook, Role, Severity, Status
from ircmd.store import Store, schema
from ircmd.store.postgres import connect
from ircmd.store.verbs.deliveries import Result

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=30)
        return self.now


async def _build(db: Path) -> None:
    """Three incidents: a playbook's checklist, checks and a skip, roles, evidence and
    its custody, actions, updates, notifications (queued for a hook), a review, an
    impact, and an incident opened by an alert."""
    book = Playbook(
        name="outage",
        title="Outage",
        containment=("fail over", "page the DB team"),
        recovery=("fail back",),
        required_roles=(Role.SCRIBE,),
    )
    async with await Store.open(db, clock=Clock()) as s:
        await s.set_routes([Route("ops", "webhook", tuple(EVENTS))], [ContactRoute("CEO", "ops")])
        inc = await s.declare("Checkout returns 500s", actor="alice", severity=Severity.SEV2)
        n = inc.id
        await s.apply_playbook(n, book, actor="alice")
        await s.assign(n, Role.SCRIBE, "sam", actor="alice")
        await s.check(n, 1, actor="rex", done=True)
        await s.skip_item(n, 2, "the DB team is already on it", actor="alice")
        await s.add_item(n, "pin the release", actor="rex", phase=Phase.RECOVERY)
        await s.log(n, "rolled back deploy 4812", actor="rex")
        await s.add_evidence(n, "heap dump of checkout-api", actor="carol", location="s3://x")
        await s.transfer_evidence(n, 1, "dave", reason="carol off shift", actor="carol")
        await s.amend_evidence(n, 1, "taken at 12:05", actor="dave")
        await s.send_update(n, Audience.INTERNAL, "rolling back", actor="alice")
        await s.notify(n, "CEO", actor="alice")
        await s.set_severity(n, Severity.SEV1, actor="alice", reason="EU down too")
        await s.set_impact(n, actor="alice", customer_impact="checkout down", users_affected=900)
        a = await s.add_action(n, "alert on 5xx", actor="alice", owner="bob", due=date(2026, 4, 1))
        await s.set_action(a.id, ActionStatus.DONE, actor="bob", note="alert added")
        await s.set_status(n, Status.RESOLVED, actor="alice")
        await s.send_update(n, Audience.EXTERNAL, "resolved", actor="cara", final=True)
        await s.save_review(n, actor="alice", summary="bad deploy", root_cause="pool size")
        # The oldest delivery is sent, the next fails for good, the rest stay queued.
        claim = await s.claim_deliveries("test", {"ops": 5.0}, s.now())
        sent, failed, *rest = [c for run in claim.runs for c in run]
        await s.record_delivery(sent.id, Result("sent", "200"), actor="deliverer", owner="test")
        await s.record_delivery(
            failed.id, Result("failed", "400", "bad"), actor="deliverer", owner="test"
        )
        await s.release_deliveries("test", [c.id for c in rest])
        # A deliverer of the file has the next ones in hand when the record moves.
        assert (await s.claim_deliveries("busy", {"ops": 60.0}, s.now())).runs

        second = await s.declare("Login slow", actor="bob", severity=Severity.SEV3)
        await s.log(second.id, "p99 at 4 s", actor="bob")
        await s.mark(second.id, Mark.DETECTED, T0, "paged at noon", actor="bob")
        alert = Alert(fingerprint="f1", status=AlertStatus.FIRING, title="disk full", starts_at=T0)
        routed = RoutedAlert(alert=alert, group="disk", severity=Severity.SEV3)
        await s.ingest_alerts([routed], actor="alerts:am", source="am", playbooks={})
        await s.set_public_title(second.id, "Slow sign-in", actor="bob")
        result = await s.verify()
        assert result.ok, result.message


def build(db: Path) -> None:
    asyncio.run(_build(db))


def rows(conn: Any, table: str) -> list[tuple[Any, ...]]:
    return sorted((tuple(r) for r in conn.execute(f"SELECT * FROM {table}")), key=repr)


def head_of(out: str) -> str:
    """`head #N HASH` from a verify or migrate line."""
    return out[out.index("head #") :].split(";")[0].strip()


@pytest.fixture
def record(tmp_path: Path) -> Path:
    db = tmp_path / "ircmd.db"
    build(db)
    return db


def test_migrate_moves_the_record_whole(
    run_cli: RunCli, record: Path, pg_url: str, tmp_path: Path
) -> None:
    anchors = {"IRCMD_ANCHOR_LOG": str(tmp_path / "state" / "anchors.jsonl")}
    assert_ok(run_cli("anchor", env=anchors))
    on_file = assert_ok(run_cli("verify", env=anchors))

    out = assert_ok(run_cli("migrate", "--to", pg_url, env=anchors))  # --from: the configured file
    lines = out.splitlines()
    count = sqlite3.connect(record).execute("SELECT count(*) FROM events").fetchone()[0]
    assert lines[0].startswith(f"migrated {count} events; chain intact; head #{count} ")
    assert head_of(lines[0]) == head_of(on_file)
    assert f"1 anchor of {record} holds" in lines[1]
    lite = sqlite3.connect(record)
    unsent = [r[0] for r in lite.execute("SELECT state FROM deliveries WHERE state <> 'sent'")]
    assert unsent[0] == "failed" and set(unsent[1:]) == {"sending", "queued"}
    assert f"{len(unsent)} unsent or failed deliveries came along" in lines[1]

    on_server = assert_ok(run_cli("verify", db=pg_url, env=anchors))
    assert on_server.startswith(f"ok: chain intact: {count} events")
    assert head_of(on_server) == head_of(on_file)

    # The same record: every event and projection row, and so every report, byte for byte.
    with psycopg.connect(pg_url) as server:
        for table in ("events", *schema.PROJECTION_TABLES, "hook_routes", "contact_routes"):
            assert rows(server, table) == rows(lite, table), table
        assert rows(server, "presence") == []
        moved = list(server.execute("SELECT state, lease_owner FROM deliveries ORDER BY id"))
    # Those in hand are queued again, unleased: their deliverer works on the file.
    assert moved == [("failed", None)] + [("queued", None)] * (len(unsent) - 1)
    for inc in ("INC-1", "INC-2", "INC-3"):
        for fmt in ("md", "json", "csv"):
            args = ("report", inc, "--format", fmt)
            assert assert_ok(run_cli(*args, db=pg_url)) == assert_ok(run_cli(*args)), (inc, fmt)


def test_a_target_that_holds_a_record_is_refused(
    run_cli: RunCli, record: Path, pg_url: str
) -> None:
    assert_ok(run_cli("migrate", "--from", str(record), "--to", pg_url))
    assert_error(
        run_cli("migrate", "--from", str(record), "--to", pg_url),
        "already holds a record",
        "migrate only into an empty database",
    )
    # A database of something else is refused too, and left as it was.
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        conn.execute("CREATE TABLE customers (id int)")
    assert_error(run_cli("migrate", "--to", pg_url), "not an ircmd one")
    with psycopg.connect(pg_url) as conn:
        tables = [
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
    assert tables == ["customers"]


def _tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]


def test_a_broken_source_is_refused_naming_the_fault(
    run_cli: RunCli, record: Path, pg_url: str
) -> None:
    lite = sqlite3.connect(record)
    lite.execute("DROP TRIGGER events_append_only_update")
    lite.execute("UPDATE events SET text = 'nothing happened' WHERE id = 7")
    lite.commit()
    lite.close()
    assert_error(
        run_cli("migrate", "--to", pg_url),
        f"{record} fails verification",
        "event #7 was altered",
        "nothing migrated",
    )
    assert _tables(pg_url) == []  # the target was never touched


def test_edited_projections_are_rebuilt_from_the_events(
    run_cli: RunCli, record: Path, pg_url: str
) -> None:
    lite = sqlite3.connect(record)
    lite.execute("UPDATE incidents SET title = 'nothing to see', severity = 'SEV4' WHERE id = 1")
    lite.execute("DELETE FROM custody")
    lite.commit()
    lite.close()
    assert_error(run_cli("verify"), "table incidents does not match the record")

    assert_ok(run_cli("migrate", "--to", pg_url))
    assert assert_ok(run_cli("verify", db=pg_url)).startswith("ok: chain intact")
    with psycopg.connect(pg_url) as conn:
        title, severity = conn.execute(
            "SELECT title, severity FROM incidents WHERE id = 1"
        ).fetchone()
        custody = conn.execute("SELECT count(*) FROM custody").fetchone()[0]
    assert (title, severity) == ("Checkout returns 500s", "SEV1")
    assert custody == 1


async def _with_nul(db: Path) -> None:
    async with await Store.open(db, clock=Clock()) as s:
        await s.declare("Checkout", actor="alice", severity=Severity.SEV2)
        await s.log(1, "a NUL \x00 in a note", actor="alice")


def test_a_nul_character_is_refused_by_name(run_cli: RunCli, db_path: Path, pg_url: str) -> None:
    asyncio.run(_with_nul(db_path))
    assert_error(
        run_cli("migrate", "--to", pg_url), "event #2 holds a NUL character", "nothing migrated"
    )
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_database_identity_needs_a_service_login(
    run_cli: RunCli, record: Path, pg_url: str
) -> None:
    """Under identity = database an event must name its login; the copied events name
    their writers, so only a member of ircmd_service may copy them."""
    connect(pg_url, read_only=False, timeout=5).close()  # the schema, created empty
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO ircmd_meta (key, value) VALUES ('identity', 'database')")
    assert_error(
        run_cli("migrate", "--to", pg_url), "identity = database", "member of ircmd_service"
    )
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_migrate_is_refused_where_nothing_may_be_written(
    run_cli: RunCli, record: Path, pg_url: str
) -> None:
    assert_error(run_cli("--read-only", "migrate", "--to", pg_url), "migrate refused")
    assert_error(
        run_cli("migrate", "--to", pg_url, env={"IRCMD_LOCK_USER": "bob"}, db=None),
        "locked",
        "migrate",
    )
    assert_error(run_cli("migrate", "--to", str(record)), "not a PostgreSQL URL")
    assert_error(
        run_cli("migrate", "--from", pg_url, "--to", pg_url), "migrate moves a SQLite file"
    )
    assert _tables(pg_url) == []


def test_backup_on_postgresql_restores_with_pg_restore(
    run_cli: RunCli, record: Path, pg_url: str, tmp_path: Path
) -> None:
    assert_ok(run_cli("migrate", "--to", pg_url))
    dump = tmp_path / "ircmd.dump"
    assert assert_ok(run_cli("backup", str(dump), db=pg_url)) == f"backed up to {dump}\n"
    assert dump.stat().st_mode & 0o077 == 0
    assert_error(run_cli("backup", str(dump), db=pg_url), "already exists")
    assert_error(run_cli("restore", str(dump), db=pg_url), "pg_restore")

    admin = os.environ[pg.ENV]
    copy = pg.fresh_database(admin)
    try:
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={copy}", str(dump)],
            check=True,
            capture_output=True,
        )
        restored = assert_ok(run_cli("verify", db=copy))
        original = assert_ok(run_cli("verify", db=pg_url))
        assert head_of(restored) == head_of(original)
        assert assert_ok(run_cli("report", "INC-1", db=copy)) == assert_ok(
            run_cli("report", "INC-1")
        )
    finally:
        pg.drop_database(admin, copy)


def test_anchors_vouch_for_a_postgresql_record(
    run_cli: RunCli, tmp_path: Path, pg_url: str
) -> None:
    log = tmp_path / "state" / "anchors.jsonl"
    env = {"IRCMD_ANCHOR_LOG": str(log)}
    assert_ok(run_cli("declare", "Checkout failing", "--severity", "SEV2", db=pg_url, env=env))
    assert_ok(run_cli("log", "INC-1", "rolled back", db=pg_url, env=env))
    made = assert_ok(run_cli("anchor", db=pg_url, env=env))
    assert made.startswith("anchored 2 events; head #2 ")
    assert "postgresql://" in log.read_text()
    assert "1 anchor in" in assert_ok(run_cli("verify", db=pg_url, env=env))

    # The record replaced wholesale by another, self-consistent one: the chain checks,
    # the anchor does not hold.
    admin = os.environ[pg.ENV]
    name = pg_url.rpartition("/")[2]
    pg.drop_database(admin, pg_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    assert_ok(run_cli("declare", "Nothing to see", "--severity", "SEV4", db=pg_url, env={}))
    assert_ok(run_cli("log", "INC-1", "quiet day", db=pg_url, env={}))
    assert_error(run_cli("verify", db=pg_url, env=env), "anchor at line 1", "does not hold")


def test_a_copy_that_fails_verification_is_rolled_back(
    record: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared verify runs on the copy before it is committed: a replay that went
    wrong (here, one that drops every custody row) leaves the target without a record."""
    from ircmd.domain import StorageError
    from ircmd.store import migrate, projections

    def lossy(ev: Any, dialect: Any = None) -> list[Any]:
        found = projections.statements(ev)
        return [s for s in found if "custody" not in s[0]]

    monkeypatch.setattr(migrate, "statements", lossy)
    with pytest.raises(StorageError, match=r"fails verification .*custody.*nothing migrated"):
        migrate.migrate(record, pg_url, timeout=5)
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM incidents").fetchone()[0] == 0
