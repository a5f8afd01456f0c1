"""SyncStore, the store of one-shot commands: the same open, verbs, checks and
errors as the async Store, on a plain sqlite3 connection with no event loop."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ircmd.models import (
    InvalidInput,
    Kind,
    NotFound,
    ReadOnly,
    RuleViolation,
    Status,
    StorageBusy,
    StorageError,
)
from ircmd.store import Store
from ircmd.store.reader import hash_of
from ircmd.store.sync import SyncStore
from ircmd.store.verbs import incident

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def declared(db: Path) -> None:
    async with await Store.open(db) as store:
        await store.declare("API down", actor="alice")


async def test_a_sync_write_is_chained_like_any_other(db_path: Path) -> None:
    await declared(db_path)
    with SyncStore.open(db_path) as store:
        ev = store.run(incident.log, "INC-1", "paged", actor="bob", kind=Kind.DECISION)
        assert store.read(hash_of, ev.id) == ev.hash
    async with await Store.open(db_path, read_only=True) as store:
        last = (await store.events(1))[-1]
        assert (last.id, last.text, last.kind, last.actor) == (ev.id, "paged", Kind.DECISION, "bob")
        assert (await store.verify()).ok


async def test_the_verbs_rules_hold(db_path: Path) -> None:
    await declared(db_path)
    async with await Store.open(db_path) as store:
        await store.set_status(1, Status.CLOSED, actor="alice", override="test")
    with SyncStore.open(db_path) as store, pytest.raises(RuleViolation, match="is closed"):
        store.run(incident.log, 1, "late", actor="bob", kind=Kind.DECISION)
    with SyncStore.open(db_path) as store:  # a note after close is a post-incident note
        assert store.run(incident.log, 1, "postmortem out", actor="bob").data["post_incident"]
    with SyncStore.open(db_path) as store, pytest.raises(NotFound):
        store.run(incident.log, 9, "nowhere", actor="bob")


async def test_read_only_refuses_and_settings_apply(db_path: Path) -> None:
    await declared(db_path)
    with SyncStore.open(db_path, read_only=True) as store, pytest.raises(ReadOnly):
        store.run(incident.log, 1, "x", actor="bob")
    with SyncStore.open(db_path, clock=lambda: T0) as store:
        store.max_text = 4
        with pytest.raises(InvalidInput, match="the limit is 4 bytes"):
            store.run(incident.log, 1, "too long", actor="bob")


def test_a_missing_database_is_an_error_for_a_reader(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no such database"):
        SyncStore.open(tmp_path / "none.db", read_only=True)
    assert not (tmp_path / "none.db").exists()


async def test_a_held_lock_is_a_one_line_busy_error(db_path: Path) -> None:
    await declared(db_path)
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with SyncStore.open(db_path, timeout=0.1) as store, pytest.raises(StorageBusy):
            store.run(incident.log, 1, "x", actor="bob")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


async def test_a_replaced_file_is_not_written(db_path: Path) -> None:
    await declared(db_path)
    with SyncStore.open(db_path) as store:
        os.replace(db_path, db_path.with_suffix(".aside"))
        await declared(db_path)
        with pytest.raises(StorageError, match="replaced by another file"):
            store.run(incident.log, 1, "x", actor="bob")
