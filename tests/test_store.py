"""The Store in-process, on a real SQLite file and a real PostgreSQL database: the
chain, the rules it enforces, refusals that leave the record untouched, and the
database faults it reports (the faults of a file on SQLite only)."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import db
from helpers.db import Ref, dump

from ircmd.models import (
    MAX_TEXT_BYTES,
    InvalidInput,
    IrcmdError,
    Kind,
    NotFound,
    ReadOnly,
    Role,
    RuleViolation,
    Severity,
    Status,
    StorageError,
)
from ircmd.store import Store
from ircmd.store.record import GENESIS, row_hash

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
async def store(db_ref: Ref) -> AsyncIterator[Store]:
    s = await Store.open(db_ref, clock=Clock())
    try:
        yield s
    finally:
        await s.close()


async def test_declare_numbers_incidents_and_chains_events(store: Store, db_ref: Ref) -> None:
    a = await store.declare("API down", actor="alice", severity=Severity.SEV1)
    b = await store.declare("Slow search", actor="bob")
    assert (a.key, b.key) == ("INC-1", "INC-2")
    assert a.status is Status.REPORTED and b.severity is Severity.SEV3  # suggested
    ev = await store.log("INC-1", "note", actor="carol")
    assert ev.id == 3 and ev.incident == "INC-1" and ev.actor == "carol"
    rows = db.rows(
        db_ref,
        "SELECT id, incident_id, occurred_at, recorded_at, actor, kind, text, data,"
        " prev_hash, hash FROM events ORDER BY id",
    )
    assert [r[0] for r in rows] == [1, 2, 3]
    assert rows[0][8] == GENESIS
    for prev, row in itertools.pairwise(rows):
        assert row[8] == prev[9]
    assert all(row_hash(r) == r[9] for r in rows)
    assert ev.hash == rows[2][9]
    result = await store.verify()
    assert result.ok and result.events == 3
    assert (await store.verify("INC-1")).events == 2


async def test_text_is_stored_byte_for_byte(store: Store) -> None:
    await store.declare("[bold]title[/bold]", actor="alice")
    texts = [
        "[/]",
        "[@click=app.quit]x",
        "\x1b[31mred\x1b[0m\x07",
        "tab\there\r\nCRLF",
        "\u202eevil RTL",
        "  leading and trailing  ",
        "x" * MAX_TEXT_BYTES,
    ]
    for t in texts:
        await store.log(1, t, actor="alice")
    got = [e.text for e in await store.events("INC-1") if e.kind is Kind.NOTE]
    assert got == texts
    assert (await store.incident(1)).title == "[bold]title[/bold]"
    assert (await store.verify()).ok


async def test_nul_is_kept_on_sqlite_and_refused_cleanly_on_postgresql(
    store: Store, db_ref: Ref
) -> None:
    """PostgreSQL's text cannot hold U+0000: the write is refused in one line, whole,
    rather than stored altered (the hash covers the text as given)."""
    await store.declare("x", actor="alice")
    before = dump(db_ref)
    if db.is_pg(db_ref):
        with pytest.raises(InvalidInput, match="NUL"):
            await store.log(1, "nul\x00inside", actor="alice")
        with pytest.raises(InvalidInput, match="NUL"):
            await store.declare("nul\x00title", actor="alice")
        assert dump(db_ref) == before
        await store.log(1, "after", actor="alice")  # the connection is still good
    else:
        await store.log(1, "nul\x00inside", actor="alice")
        assert (await store.events(1))[-1].text == "nul\x00inside"
    assert (await store.verify()).ok


# Each refusal: the write, the exception it must raise, and the start of its message.
REFUSALS: dict[str, tuple[Callable[[Store], Awaitable[object]], type[Exception], str]] = {
    "no such incident": (
        lambda s: s.log("INC-9", "no such incident", actor="alice"),
        NotFound,
        "no incident INC-9",
    ),
    "blank text": (lambda s: s.log(1, "   ", actor="alice"), InvalidInput, "text is empty"),
    "text too long": (
        lambda s: s.log(1, "x" * (MAX_TEXT_BYTES + 1), actor="alice"),
        InvalidInput,
        "the limit is 65536",
    ),
    "control character in a name": (
        lambda s: s.log(1, "ok", actor="bad\x1bname"),
        InvalidInput,
        "control characters",
    ),
    "a kind log cannot write": (
        lambda s: s.log(1, "ok", actor="alice", kind=Kind.SEVERITY),
        InvalidInput,
        "cannot log an entry of kind severity",
    ),
    "a time in the future": (
        lambda s: s.log(1, "future", actor="alice", at=T0 + timedelta(days=1)),
        InvalidInput,
        "in the future",
    ),
    "back without a reason": (
        lambda s: s.set_status(1, Status.TRIAGED, actor="alice"),
        RuleViolation,
        "is a re-open: give a reason",
    ),
    "severity by a non-commander": (
        lambda s: s.set_severity(1, Severity.SEV1, actor="bob"),
        RuleViolation,
        "only the commander or deputy may change severity",
    ),
    "commander already": (
        lambda s: s.assign(1, Role.COMMANDER, "alice", actor="alice"),
        RuleViolation,
        "alice is already commander on INC-1",
    ),
    "no such checklist item": (
        lambda s: s.check(1, 7, actor="alice"),
        NotFound,
        "no checklist item 7 on INC-1",
    ),
    "amend a missing entry": (
        lambda s: s.amend(1, 999, "fix", actor="alice"),
        NotFound,
        "no entry #999 in INC-1",
    ),
    "amend an id too big to bind": (  # NotFound, not OverflowError
        lambda s: s.amend(1, 2**70, "fix", actor="alice"),
        NotFound,
        "no entry #1180591620717411303424 in INC-1",
    ),
    "amend entry 0": (
        lambda s: s.amend(1, 0, "fix", actor="alice"),
        NotFound,
        "no entry #0 in INC-1",
    ),
    "empty checklist item": (
        lambda s: s.add_item(1, "", actor="alice"),
        InvalidInput,
        "step is empty",
    ),
    "unassign someone without the role": (
        lambda s: s.unassign(1, Role.SCRIBE, "zed", actor="alice"),
        NotFound,
        "zed is not scribe on INC-1",
    ),
}


@pytest.mark.parametrize("refusal", list(REFUSALS))
async def test_refused_writes_leave_the_record_unchanged(
    store: Store, db_ref: Ref, refusal: str
) -> None:
    write, error, message = REFUSALS[refusal]
    await store.declare("x", actor="alice")
    await store.set_status(1, Status.CONTAINED, actor="alice")
    before = dump(db_ref)
    with pytest.raises(IrcmdError) as caught:
        await write(store)
    assert type(caught.value) is error and message in str(caught.value), repr(caught.value)
    assert dump(db_ref) == before
    assert (await store.verify()).ok


async def test_reopen_with_reason_and_commander_handoff(store: Store) -> None:
    await store.declare("x", actor="alice")
    await store.set_status(1, Status.RESOLVED, actor="alice")
    ev = await store.set_status(1, Status.RECOVERING, actor="alice", reason="errors again")
    assert ev.data == {"from": "resolved", "to": "recovering"} and ev.text == "errors again"
    hand = await store.assign(1, Role.COMMANDER, "bob", actor="alice")
    assert hand.data["previous"] == "alice"
    state = await store.state(1)
    assert state.people(Role.COMMANDER) == ["bob"]
    assert state.incident.resolved_at is not None
    with pytest.raises(RuleViolation, match="you are alice"):
        await store.set_severity(1, Severity.SEV1, actor="alice")


async def test_checklist_check_uncheck_and_amend(store: Store) -> None:
    await store.declare("x", actor="alice")
    item = await store.add_item(1, "block IPs", actor="alice", assignee="bob")
    assert item.n == 1
    await store.check(1, 1, actor="bob")
    again = await store.check(1, 1, actor="carol")  # both land, second says who had
    assert again.data["already"] == "bob"
    assert (await store.state(1)).checklist[0].done_by == "bob"  # the first checker stays
    await store.check(1, 1, actor="bob", done=False)
    assert not (await store.state(1)).checklist[0].done
    fix = await store.amend(1, 2, "block IPs and ranges", actor="alice")
    assert fix.kind is Kind.AMEND and fix.data == {"amends": 2}
    assert (await store.events(1))[1].text == "block IPs"  # the original stays
    assert (await store.verify()).ok


async def test_backdated_entry_keeps_both_times(store: Store) -> None:
    await store.declare("x", actor="alice")
    ev = await store.log(1, "paged", actor="alice", at=T0 - timedelta(hours=1))
    assert ev.occurred_at == T0 - timedelta(hours=1)
    assert ev.recorded_at > T0
    stored = (await store.events(1))[-1]
    assert stored.occurred_at == ev.occurred_at and stored.recorded_at == ev.recorded_at


async def test_read_only_store_refuses_writes(db_ref: Ref) -> None:
    async with await Store.open(db_ref) as rw:
        await rw.declare("x", actor="alice")
    before = dump(db_ref)
    async with await Store.open(db_ref, read_only=True) as ro:
        with pytest.raises(ReadOnly, match="read-only"):
            await ro.log(1, "nope", actor="alice")
        assert len(await ro.events()) == 1
        assert (await ro.verify()).ok
    assert dump(db_ref) == before


async def test_read_only_missing_database_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "absent.db"
    with pytest.raises(StorageError, match="no such database"):
        await Store.open(db, read_only=True)
    assert not db.exists()


async def test_missing_directory_is_created(tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "c.db"
    async with await Store.open(db) as s:
        await s.declare("x", actor="alice")
    assert db.exists()


async def test_not_a_database(tmp_path: Path) -> None:
    db = tmp_path / "junk.db"
    db.write_bytes(b"this is not sqlite, it is a shopping list\n" * 100)
    with pytest.raises(StorageError, match="not a SQLite database"):
        await Store.open(db)
    assert db.read_bytes().startswith(b"this is not sqlite")


async def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE cats (name TEXT)")
    with pytest.raises(StorageError, match="not an ircmd one"):
        await Store.open(db)


async def test_a_session_meeting_another_ones_switch_to_wal_waits_for_it(tmp_path: Path) -> None:
    """Sessions started together on a new file: one switches it to WAL while another
    tries the same. SQLite refuses the second switch at once, busy handler or not
    (CI met "locked by another writer" this way); the open must wait its turn."""
    path = tmp_path / "new.db"
    path.touch()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process, mid-switch on the empty file
    opening = asyncio.ensure_future(Store.open(path, timeout=60))
    try:
        await asyncio.sleep(1)  # the old open failed here, at its first attempt
        assert not opening.done(), opening.exception()
    finally:
        other.execute("COMMIT")
        other.close()
    async with await opening as s:
        await s.declare("x", actor="alice")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_newer_schema_is_refused(db_ref: Ref) -> None:
    async with await Store.open(db_ref) as s:
        await s.declare("x", actor="alice")
    db.set_schema_version(db_ref, 99)
    for ro in (False, True):
        with pytest.raises(StorageError, match="schema version 99, newer"):
            await Store.open(db_ref, read_only=ro)


async def test_locked_by_another_writer(db_ref: Ref) -> None:
    async with await Store.open(db_ref) as s:
        await s.declare("x", actor="alice")
    async with await Store.open(db_ref, timeout=0.3) as s:
        with db.write_lock_held(db_ref):
            loop = asyncio.get_running_loop()
            start = loop.time()
            with pytest.raises(StorageError, match=r"locked by another writer for more than 0.3 s"):
                await s.log(1, "blocked", actor="alice")
            assert loop.time() - start >= 0.25
            # Reads still work while another holds the write lock.
            assert len(await s.events()) == 1
        await s.log(1, "after", actor="alice")  # the same connection recovers
        assert len(await s.events()) == 2
        assert (await s.verify()).ok


async def test_concurrent_coroutines_on_one_store(store: Store) -> None:
    await store.declare("x", actor="alice")
    await asyncio.gather(*(store.log(1, f"n{i}", actor="alice") for i in range(50)))
    assert sorted(e.text for e in await store.events(1) if e.kind is Kind.NOTE) == sorted(
        f"n{i}" for i in range(50)
    )
    assert (await store.verify()).ok


async def test_backup_copy_verifies(db_path: Path, tmp_path: Path) -> None:
    """SQLite only: its backup is a database file (PostgreSQL's is pg_dump's)."""
    store = await Store.open(db_path, clock=Clock())
    await store.declare("x", actor="alice")
    await store.log(1, "y", actor="alice")
    dest = await store.backup(tmp_path / "bk" / "copy.db")
    async with await Store.open(dest, read_only=True) as copy:
        assert (await copy.verify()).ok
        assert [e.text for e in await copy.events()] == ["x", "y"]
    with pytest.raises(InvalidInput, match="already exists"):
        await store.backup(dest)
    await store.close()
