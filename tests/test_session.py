"""The Session on a real SQLite file, without Textual: what the app opens and the
command screen works with (the first incident, presence, the anchor check, closing)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ircmd.config import AnchorSettings, Config
from ircmd.models import IrcmdError, Severity, Status
from ircmd.session import Session, latest_active
from ircmd.store import Store

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def frozen() -> datetime:
    return NOW


async def three_incidents(db: Path) -> None:
    """INC-1 active with the latest activity, INC-2 active, INC-3 closed after both."""
    async with await Store.open(db, clock=frozen) as store:
        for title in ("first", "second", "third"):
            await store.declare(title, actor="alice", severity=Severity.SEV2)
        await store.log(1, "latest activity of an active incident", actor="alice")
        await store.set_status(3, Status.CLOSED, actor="alice", override="test")


async def test_it_opens_the_latest_active_incident(tmp_path: Path) -> None:
    db = tmp_path / "ircmd.db"
    await three_incidents(db)
    session = await Session.open(Config(db=db, user="bob"), frozen)
    try:
        # INC-3 is newer but closed
        assert latest_active(await session.store.list_incidents()) == 1
        assert session.feed.last_id == await session.store.last_event_id()
        assert session.warning is None and session.anchoring is None
    finally:
        await session.close()


async def test_no_active_incident_opens_none(tmp_path: Path) -> None:
    session = await Session.open(Config(db=tmp_path / "ircmd.db", user="bob"), frozen)
    try:
        assert latest_active(await session.store.list_incidents()) is None
    finally:
        await session.close()


async def test_presence_is_this_session_and_leaves_on_close(tmp_path: Path) -> None:
    db = tmp_path / "ircmd.db"
    await three_incidents(db)
    one = await Session.open(Config(db=db, user="bob"), frozen)
    two = await Session.open(Config(db=db, user="carol"), frozen)
    try:
        assert one.id != two.id
        await one.heartbeat(1)
        seen = await two.heartbeat(2)
        assert {(p.person, p.incident_id) for p in seen} == {("bob", 1), ("carol", 2)}
        await one.close()
        seen = await two.heartbeat(2)
        assert {p.person for p in seen} == {"carol"}
    finally:
        await two.close()


async def test_close_stops_the_feed_and_the_store(tmp_path: Path) -> None:
    session = await Session.open(Config(db=tmp_path / "ircmd.db", user="bob"), frozen)
    await session.close()
    assert session.feed.stopped
    assert not session.store._backend.db._running  # the aiosqlite thread has finished


async def test_a_writable_session_with_an_anchor_log_anchors(tmp_path: Path) -> None:
    log = tmp_path / "anchors.jsonl"
    cfg = Config(db=tmp_path / "ircmd.db", user="bob", anchor=AnchorSettings(log=log))
    session = await Session.open(cfg, frozen)
    try:
        assert session.anchoring is not None
    finally:
        await session.close()
    read_only = Config(db=tmp_path / "ircmd.db", user="bob", read_only=True, anchor=cfg.anchor)
    session = await Session.open(read_only, frozen)
    try:
        assert session.anchoring is None  # a read-only session writes no anchor
    finally:
        await session.close()


async def test_a_database_that_cannot_be_opened_raises(tmp_path: Path) -> None:
    cfg = Config(db=tmp_path / "missing" / "ircmd.db", user="bob", read_only=True)
    with pytest.raises(IrcmdError):
        await Session.open(cfg, frozen)
