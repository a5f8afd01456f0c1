"""A step checked twice keeps who checked it first and when; the second check is
its own event on the record, and `verify` agrees (the projection changed, not
only the table). Records written before, where the second check overwrote the
first, are set right when opened."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers.cli import assert_ok, ircmd
from helpers.db import Ref
from helpers.old_record import old_record

from ircmd.models import Kind
from ircmd.store import Store, schema

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HOUR, MINUTE = timedelta(hours=1), timedelta(minutes=1)


async def test_a_second_check_is_an_event_not_an_overwrite(db_ref: Ref) -> None:
    async with await Store.open(db_ref) as store:
        await store.declare("x", actor="alice", at=T0 - timedelta(hours=1))
        await store.add_item(1, "block IPs", actor="alice")
        await store.check(1, 1, actor="bob", at=T0)
        again = await store.check(1, 1, actor="carol", at=T0 + timedelta(minutes=5))
        assert again.kind is Kind.CHECK and again.data["already"] == "bob"
        item = (await store.state(1)).checklist[0]
        assert (item.done, item.done_by, item.done_at) == (True, "bob", T0)
        checks = [(e.actor, e.kind) for e in await store.events(1) if e.kind is Kind.CHECK]
        assert checks == [("bob", Kind.CHECK), ("carol", Kind.CHECK)]
        assert (await store.verify()).ok
        # Unchecked, the step's next checker is its first again.
        await store.check(1, 1, actor="dave", done=False, at=T0 + timedelta(minutes=6))
        await store.check(1, 1, actor="erin", at=T0 + timedelta(minutes=7))
        await store.check(1, 1, actor="bob", at=T0 + timedelta(minutes=8))
        item = (await store.state(1)).checklist[0]
        assert (item.done_by, item.done_at) == ("erin", T0 + timedelta(minutes=7))
        assert (await store.verify()).ok


def test_show_names_the_first_checker(tmp_path: Path, db_ref: Ref) -> None:
    def run_cli(*args: str, user: str = "alice") -> subprocess.CompletedProcess[str]:
        return ircmd(*args, db=db_ref, home=tmp_path / "home", user=user)

    # Back-dated by full ISO times, not HH:MM: the CLI reads the wall clock, and an
    # HH:MM a few minutes ahead of it would be refused as the future.
    first = (datetime.now(UTC) - timedelta(minutes=10)).replace(second=0, microsecond=0)
    later = first + timedelta(minutes=5)
    assert_ok(run_cli("declare", "Checkout down", "--at", (first - timedelta(hours=1)).isoformat()))
    assert_ok(run_cli("checklist", "add", "INC-1", "block IPs"))
    assert_ok(run_cli("check", "INC-1", "1", "--at", first.isoformat(), user="bob"))
    out = assert_ok(run_cli("check", "INC-1", "1", "--at", later.isoformat(), user="carol"))
    assert out == "step 1 was already checked by bob; yours is recorded too\n"
    (item,) = json.loads(assert_ok(run_cli("show", "INC-1", "--json")))["checklist"]
    assert item["done_by"] == "bob"
    assert item["done_at"] == first.strftime("%Y-%m-%dT%H:%M:%SZ")
    # The date shows too when the check falls on another day than the declaration.
    shown = assert_ok(run_cli("show", "INC-1"))
    assert re.search(rf"\(checked by bob at (\S+ )?{first:%H:%M} UTC\)", shown), shown


async def test_a_record_from_before_is_set_right_and_still_verifies(db_path: Path) -> None:
    one, two = {"n": 1, "phase": "containment"}, {"n": 2, "phase": "containment"}
    old_record(
        db_path,
        1,
        [
            (1, Kind.DECLARE, "alice", "x", {"title": "x", "severity": "SEV3"}, T0 - HOUR),
            (1, Kind.ITEM_ADD, "alice", "block IPs", one, T0 - HOUR),
            (1, Kind.ITEM_ADD, "alice", "rotate keys", two, T0 - HOUR),
            (1, Kind.CHECK, "bob", "block IPs", one, T0),
            (1, Kind.CHECK, "carol", "block IPs", one | {"already": "bob"}, T0 + 5 * MINUTE),
            (1, Kind.CHECK, "dave", "rotate keys", two, T0 + 6 * MINUTE),
        ],
    )
    # What version 1 left: the second check had overwritten the first checker.
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute(
            "UPDATE checklist SET done_by = 'carol', done_at = ? WHERE n = 1",
            ((T0 + 5 * MINUTE).isoformat(timespec="microseconds"),),
        )
    finally:
        conn.close()
    async with await Store.open(db_path) as store:  # migrates
        first, second = (await store.state(1)).checklist
        assert (first.done_by, first.done_at) == ("bob", T0)
        assert (second.done_by, second.done_at) == ("dave", T0 + timedelta(minutes=6))
        assert (await store.verify()).ok
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (schema.SCHEMA_VERSION,)
