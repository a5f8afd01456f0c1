"""SyncStore, the store of one-shot commands: the same open, verbs, checks and
errors as the async Store, on a plain connection with no event loop (a sqlite3 or a
psycopg one: each test that is not about the file runs on both backends)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import db
from helpers.db import Ref

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


async def declared(ref: Ref) -> None:
    async with await Store.open(ref) as store:
        await store.declare("API down", actor="alice")


async def test_a_sync_write_is_chained_like_any_other(db_ref: Ref) -> None:
    await declared(db_ref)
    with SyncStore.open(db_ref) as store:
        ev = store.run(incident.log, "INC-1", "paged", actor="bob", kind=Kind.DECISION)
        assert store.read(hash_of, ev.id) == ev.hash
    async with await Store.open(db_ref, read_only=True) as store:
        last = (await store.events(1))[-1]
        assert (last.id, last.text, last.kind, last.actor) == (ev.id, "paged", Kind.DECISION, "bob")
        assert (await store.verify()).ok


async def test_the_verbs_rules_hold(db_ref: Ref) -> None:
    await declared(db_ref)
    async with await Store.open(db_ref) as store:
        await store.set_status(1, Status.CLOSED, actor="alice", override="test")
    with SyncStore.open(db_ref) as store, pytest.raises(RuleViolation, match="is closed"):
        store.run(incident.log, 1, "late", actor="bob", kind=Kind.DECISION)
    with SyncStore.open(db_ref) as store:  # a note after close is a post-incident note
        assert store.run(incident.log, 1, "postmortem out", actor="bob").data["post_incident"]
    with SyncStore.open(db_ref) as store, pytest.raises(NotFound):
        store.run(incident.log, 9, "nowhere", actor="bob")


async def test_read_only_refuses_and_settings_apply(db_ref: Ref) -> None:
    await declared(db_ref)
    with SyncStore.open(db_ref, read_only=True) as store, pytest.raises(ReadOnly):
        store.run(incident.log, 1, "x", actor="bob")
    with SyncStore.open(db_ref, clock=lambda: T0) as store:
        store.max_text = 4
        with pytest.raises(InvalidInput, match="the limit is 4 bytes"):
            store.run(incident.log, 1, "too long", actor="bob")


def test_a_missing_database_is_an_error_for_a_reader(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no such database"):
        SyncStore.open(tmp_path / "none.db", read_only=True)
    assert not (tmp_path / "none.db").exists()


async def test_a_held_lock_is_a_one_line_busy_error(db_ref: Ref) -> None:
    await declared(db_ref)
    with SyncStore.open(db_ref, timeout=0.1) as store:
        with db.write_lock_held(db_ref), pytest.raises(StorageBusy, match="locked by another"):
            store.run(incident.log, 1, "x", actor="bob")
        store.run(incident.log, 1, "after", actor="bob")  # the same connection goes on
    assert db.event_count(db_ref) == 2


async def test_a_replaced_file_is_not_written(db_path: Path) -> None:
    await declared(db_path)
    with SyncStore.open(db_path) as store:
        os.replace(db_path, db_path.with_suffix(".aside"))
        await declared(db_path)
        with pytest.raises(StorageError, match="replaced by another file"):
            store.run(incident.log, 1, "x", actor="bob")
