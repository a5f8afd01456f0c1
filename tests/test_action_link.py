"""`ircmd action link ACT-n URL` and `/link`: where a follow-up is tracked outside
ircmd (the issue a hook opened), kept on the record and shown where actions are."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.cli import RunCli, assert_error, assert_ok, event_count
from helpers.db import Ref
from helpers.old_record import old_record

from ircmd import display, entry, rules
from ircmd.models import MAX_LINK_CHARS, ActionStatus, InvalidInput, Kind, RuleViolation, Status
from ircmd.store import Store, schema
from ircmd.widgets.process import ActionsPanel

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ISSUE = "https://github.com/acme/web/issues/7"


@pytest.mark.parametrize(
    "url",
    [ISSUE, "http://tracker.internal:8080/browse/OPS-12?x=1#c", "HTTPS://Example.org/a"],
)
def test_links_kept_as_given(url: str) -> None:
    assert rules.check_link(f"  {url} ") == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("", "empty"),
        ("javascript:alert(1)", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("ftp://example.org/x", "http:// or https://"),
        ("github.com/acme/web/issues/7", "http:// or https://"),
        ("https:///nohost", "with a host"),
        ("https://example.org/a b", "space"),
        ("https://example.org/\x1b[31m", "control"),
        ("https://exa\u200bmple.org/", "invisible"),
        ("https://example.org/\u202eevil", "U+202E"),
        ("https://user:pw@example.org/x", "password"),
        ("https://token@example.org/x", "password"),
        ("https://example.org/" + "a" * MAX_LINK_CHARS, "longer than"),
        ("http://[::1/", "not a valid URL"),
    ],
)
def test_links_refused(url: str, why: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        rules.check_link(url)
    assert why.lower() in str(refused.value).lower()


async def test_link_relink_and_the_record(db_ref: Ref) -> None:
    async with await Store.open(db_ref, clock=lambda: T0) as s:
        await s.declare("Checkout errors", actor="alice")
        a = await s.add_action(1, "add alerting", actor="alice", owner="bob")
        assert a.link is None
        linked = await s.link_action(a.id, ISSUE, actor="hook-gh")
        assert linked.link == ISSUE and linked.status is ActionStatus.OPEN
        with pytest.raises(RuleViolation, match="already links to"):
            await s.link_action(a.id, ISSUE, actor="alice")
        # Moved to its own tracker: the new link names the old one.
        moved = "https://tracker.example.org/OPS-3"
        assert (await s.link_action(a.id, moved, actor="alice")).link == moved
        events = [e for e in await s.events(1) if e.kind is Kind.ACTION_LINK]
        assert [(e.actor, e.text, e.data) for e in events] == [
            ("hook-gh", ISSUE, {"action_id": 1, "from": None}),
            ("alice", moved, {"action_id": 1, "from": ISSUE}),
        ]
        assert display.describe(events[1]) == f"action ACT-1 tracked at {moved} (was {ISSUE})"
        assert (await s.verify()).ok


async def test_a_link_goes_on_after_close_and_verification(db_ref: Ref) -> None:
    async with await Store.open(db_ref, clock=lambda: T0) as s:
        await s.declare("Checkout errors", actor="alice")
        await s.add_action(1, "fix pool", actor="alice", owner="bob")
        await s.set_action(1, ActionStatus.DONE, actor="bob")
        await s.set_action(1, ActionStatus.VERIFIED, actor="bob", note="drill passed")
        await s.set_status(1, Status.CLOSED, actor="alice", override="test")
        a = await s.link_action(1, ISSUE, actor="alice")
        assert (a.link, a.status, a.verification) == (ISSUE, ActionStatus.VERIFIED, "drill passed")
        with pytest.raises(InvalidInput):
            await s.link_action(1, "ftp://x/y", actor="alice")
        assert len([e for e in await s.events(1) if e.kind is Kind.ACTION_LINK]) == 1


async def test_the_actions_tab_shows_the_link(db_ref: Ref) -> None:
    async with await Store.open(db_ref, clock=lambda: T0) as s:
        await s.declare("Checkout errors", actor="alice")
        await s.add_action(1, "fix pool", actor="alice")
        await s.link_action(1, ISSUE, actor="alice")
        state = await s.state(1)
    shown = ActionsPanel().build(state, T0).plain
    assert f"   tracked at {ISSUE}\n" in shown


def test_slash_link_parses() -> None:
    assert entry.parse(f"/link ACT-3 {ISSUE}") == entry.LinkAction(3, ISSUE)
    with pytest.raises(entry.ParseError, match="the URL is missing"):
        entry.parse("/link ACT-3")
    with pytest.raises(entry.ParseError, match="/link: link must be an http"):
        entry.parse("/link ACT-3 javascript:alert(1)")


@pytest.fixture
def db_path(db_ref: Ref) -> Ref:
    """The record `run_cli` writes: on each backend in turn."""
    return db_ref


def test_cli_action_link_shows_in_report_and_json(run_cli: RunCli, db_path: Ref) -> None:
    assert_ok(run_cli("declare", "Checkout failing", "--severity", "SEV2"))
    assert assert_ok(run_cli("action", "add", "INC-1", "add alerting")).strip() == "ACT-1"
    out = assert_ok(run_cli("action", "link", "ACT-1", ISSUE))
    assert out.strip() == f"ACT-1 tracked at {ISSUE}"
    report = assert_ok(run_cli("report", "INC-1"))
    assert f"- ACT-1 [open] add alerting (corrective; no owner; due -)\n  - tracked at {ISSUE}" in (
        report
    )
    assert f"action ACT-1 tracked at {ISSUE}" in report  # on the timeline too
    assert f'"link": "{ISSUE}"' in assert_ok(run_cli("actions", "--json"))

    before = event_count(db_path)
    assert_error(run_cli("action", "link", "ACT-1", "file:///etc/passwd"), "http")
    assert_error(run_cli("action", "link", "ACT-9", ISSUE), "no action ACT-9")
    assert event_count(db_path) == before


def test_a_locked_session_may_link(run_cli: RunCli) -> None:
    assert_ok(run_cli("declare", "Checkout failing", "--severity", "SEV2"))
    assert_ok(run_cli("action", "add", "INC-1", "add alerting"))
    locked = run_cli("action", "link", "ACT-1", ISSUE, user=None, env={"IRCMD_LOCK_USER": "bob"})
    assert_ok(locked)


async def test_a_version_4_record_migrates_and_takes_links(tmp_path: Path) -> None:
    db = tmp_path / "v4.db"
    declare = {"title": "Payments down", "severity": "SEV2", "summary": ""}
    add = {"action_id": 1, "type": "corrective", "owner": None, "due": None, "review_date": None}
    old_record(
        db,
        4,
        [
            (1, Kind.DECLARE, "alice", "Payments down", declare, T0),
            (1, Kind.ACTION_ADD, "alice", "fix pool", add, T0),
        ],
    )
    async with await Store.open(db, clock=lambda: T0 + timedelta(hours=1)) as store:
        assert (await store.verify()).ok
        assert (await store.actions())[0].link is None
        assert (await store.link_action(1, ISSUE, actor="alice")).link == ISSUE
        assert (await store.verify()).ok
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (schema.SCHEMA_VERSION,)
