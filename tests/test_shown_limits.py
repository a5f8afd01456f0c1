"""An entry's text has a size limit: 64 KiB by default, IRCMD_MAX_TEXT bytes if set.
Issue 9 §4."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import RunCli, assert_error, assert_ok, event_count
from helpers.db import Ref

from ircmd.config import resolve
from ircmd.models import MAX_TEXT_BYTES, Audience, InvalidInput, Severity, Status
from ircmd.store import Store

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LIMIT = 10


@pytest.fixture
def db_path(db_ref: Ref) -> Ref:
    """The record `run_cli` writes: on each backend in turn."""
    return db_ref


Write = Callable[[Store, str], Awaitable[Any]]
# Every verb that stores free text, each given `text` as that text.
VERBS: dict[str, Write] = {
    "declare": lambda s, t: s.declare(t, actor="alice", severity=Severity.SEV3),
    "declare summary": lambda s, t: s.declare(
        "t", actor="alice", severity=Severity.SEV3, summary=t
    ),
    "log": lambda s, t: s.log(1, t, actor="alice"),
    "amend": lambda s, t: s.amend(1, 1, t, actor="alice"),
    "status reason": lambda s, t: s.set_status(1, Status.REPORTED, actor="alice", reason=t),
    "checklist add": lambda s, t: s.add_item(1, t, actor="alice"),
    "update": lambda s, t: s.send_update(1, Audience.INTERNAL, t, actor="alice"),
    "evidence add": lambda s, t: s.add_evidence(1, t, actor="alice"),
    "evidence location": lambda s, t: s.add_evidence(1, "disk", actor="alice", location=t),
    "evidence transfer": lambda s, t: s.transfer_evidence(1, 1, "bob", reason=t, actor="alice"),
    "evidence amend": lambda s, t: s.amend_evidence(1, 1, t, actor="alice"),
    "review": lambda s, t: s.save_review(1, actor="alice", lessons=t),
    "review why": lambda s, t: s.save_review(1, actor="alice", whys=[t]),
    "action add": lambda s, t: s.add_action(1, t, actor="alice"),
    "action note": lambda s, t: s.set_action(1, None, actor="alice", note=t),
}


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[Store]:
    async with await Store.open(db_path, clock=lambda: T0) as s:
        await s.declare("outage", actor="alice", severity=Severity.SEV3)
        await s.set_status(1, Status.TRIAGED, actor="alice")
        await s.add_evidence(1, "disk", actor="alice")
        await s.add_action(1, "canary", actor="alice")
        s.max_text = LIMIT
        yield s


@pytest.mark.parametrize("verb", VERBS)
async def test_every_text_honours_the_configured_limit(
    store: Store, db_path: Path, verb: str
) -> None:
    before = event_count(db_path)
    with pytest.raises(InvalidInput, match=f"is 11 bytes; the limit is {LIMIT} bytes"):
        await VERBS[verb](store, "x" * (LIMIT + 1))
    with pytest.raises(InvalidInput, match="is 12 bytes"):  # bytes of UTF-8, not characters
        await VERBS[verb](store, "\u20ac" * 4)
    assert event_count(db_path) == before
    await VERBS[verb](store, "x" * LIMIT)


def test_the_limit_comes_from_ircmd_max_text() -> None:
    assert resolve(env={}).max_text == MAX_TEXT_BYTES == 64 * 1024
    assert resolve(env={"IRCMD_MAX_TEXT": "1000"}).max_text == 1000
    for bad, says in (("lots", "not a number of bytes"), ("0", "out of range")):
        with pytest.raises(InvalidInput, match=says):
            resolve(env={"IRCMD_MAX_TEXT": bad})


def test_cli_limit_default_and_configured(run_cli: RunCli, db_path: Path) -> None:
    assert_ok(run_cli("declare", "outage", "--severity", "SEV3"))
    assert_error(run_cli("log", "INC-1", "x" * (64 * 1024 + 1)), "the limit is 65536 (64 KiB)")
    small = {"IRCMD_MAX_TEXT": "100"}
    assert_error(run_cli("log", "INC-1", "x" * 101, env=small), "text is 101 bytes", "100 bytes")
    big = {"IRCMD_MAX_TEXT": str(128 * 1024)}
    assert_ok(run_cli("log", "INC-1", "--stdin", input="y" * 100_000 + "\n", env=big))
    assert_error(run_cli("log", "INC-1", "z", env={"IRCMD_MAX_TEXT": "-5"}), "IRCMD_MAX_TEXT")
    assert event_count(db_path) == 2
