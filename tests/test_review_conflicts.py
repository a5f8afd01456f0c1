"""Concurrent review edits: field-by-field optimistic concurrency, on real SQLite.

The review form remembers the review it opened on and sends only the fields the
user changed, each with its starting value; the Store refuses (inside its
transaction) when one of those fields was changed by someone else since. The CLI
stays one-shot: it sets the fields it is given.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from helpers.cli import Cli
from helpers.db import Ref
from helpers.screen import (
    NOW,
    declared,
    events,
    fill,
    form_of,
    frozen,
    message_text,
    ready,
    running,
    save,
    state,
    until,
)
from textual.pilot import Pilot
from textual.widgets import TextArea

from ircmd.models import InvalidInput, Kind, RuleViolation, Severity
from ircmd.screens.forms import FormScreen
from ircmd.store import Store, schema
from ircmd.store.projections import replay

BOB_AT = NOW + timedelta(minutes=2)  # 12:02 UTC, the day the app's clock is frozen on


async def as_bob(db: Ref, **fields: object) -> None:
    """Bob saves review fields from elsewhere (his own connection, his clock)."""
    async with await Store.open(db, clock=lambda: BOB_AT) as store:
        await store.save_review(1, actor="bob", **fields)  # type: ignore[arg-type]


async def review_events(db: Ref) -> int:
    return sum(e.kind is Kind.REVIEW for e in await events(db))


async def declared_on(ref: Ref) -> Ref:
    """`declared`'s incident in the record `ref` (on either backend)."""
    async with await Store.open(ref, clock=frozen) as store:
        await store.declare(
            "Checkout down",
            actor="alice",
            severity=Severity.SEV2,
            at=NOW - timedelta(minutes=5),
            commander="",
        )
    return ref


async def open_review_form(pilot: Pilot[None]) -> FormScreen:
    await ready(pilot)
    await pilot.press("f7", "r")
    return await form_of(pilot)


def error_line(form: FormScreen) -> str:
    return str(form.query_one("#form-error").render())


# ------------------------------------------------------------------ the form


async def test_different_fields_both_land(tmp_path: Path) -> None:
    db = await declared(tmp_path)
    async with await Store.open(db) as store:
        await store.save_review(1, actor="alice", summary="first draft", lessons="canary")
    async with running(db, size=(100, 50)) as pilot:
        app = pilot.app
        form = await open_review_form(pilot)
        await as_bob(db, summary="bob's careful summary")
        fill(form, root_cause="no canary stage")
        await save(pilot, form)
        assert "review saved" in message_text(app.command_screen)
    r = (await state(db)).review
    assert (r.summary, r.root_cause, r.lessons) == (
        "bob's careful summary",
        "no canary stage",
        "canary",
    )
    assert r.updated_by == "alice"
    assert await review_events(db) == 3  # alice, bob, alice: one event per save
    last = (await events(db))[-1]
    assert last.text == "review: root cause"


async def test_same_field_is_refused_and_the_typed_text_stays(tmp_path: Path) -> None:
    db = await declared(tmp_path)
    async with running(db, size=(100, 50)) as pilot:
        app = pilot.app
        form = await open_review_form(pilot)
        await as_bob(db, summary="bob's careful summary")
        before = await review_events(db)
        fill(form, summary="alice's summary", root_cause="alice's root cause")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "since you opened it" in error_line(form))
        assert app.screen is form  # still open
        assert error_line(form) == (
            "the review's summary was changed by bob at 12:02 since you opened it;"
            " your text is kept: reopen the form (r) to merge"
        )
        assert form.query_one("#field-summary", TextArea).text == "alice's summary"
        assert form.query_one("#field-root_cause", TextArea).text == "alice's root cause"
        assert await review_events(db) == before  # nothing written, not even root cause
        r = (await state(db)).review
        assert (r.summary, r.root_cause) == ("bob's careful summary", "")
        # Escape, reopen: bob's text is there to merge with; saving now lands.
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.command_screen)
        form = await open_review_form(pilot)
        area = form.query_one("#field-summary", TextArea)
        await until(pilot, lambda: area.text == "bob's careful summary")
        fill(form, summary="bob's careful summary, and alice's", root_cause="alice's root cause")
        await save(pilot, form)
    r = (await state(db)).review
    assert (r.summary, r.root_cause) == ("bob's careful summary, and alice's", "alice's root cause")


async def test_emptying_a_field_clears_it_untouched_fields_are_not_sent(tmp_path: Path) -> None:
    db = await declared(tmp_path)
    async with await Store.open(db) as store:
        await store.save_review(
            1, actor="alice", summary="s", went_well="fast rollback", whys=["a", "b"]
        )
    async with running(db, size=(100, 50)) as pilot:
        form = await open_review_form(pilot)
        await as_bob(db, lessons="bob's lessons")  # a field alice leaves alone
        fill(form, went_well="", whys="  \n")
        await save(pilot, form)
    r = (await state(db)).review
    assert (r.summary, r.went_well, r.whys, r.lessons) == ("s", "", (), "bob's lessons")
    assert (await events(db))[-1].text == "review: whys (cleared), went well (cleared)"


async def test_an_unchanged_form_says_so_and_writes_nothing(tmp_path: Path) -> None:
    db = await declared(tmp_path)
    async with running(db, size=(100, 50)) as pilot:
        app = pilot.app
        form = await open_review_form(pilot)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "nothing changed" in error_line(form))
        assert app.screen is form
    assert await review_events(db) == 0


# ------------------------------------------------------------------ the Store


async def test_store_conflict_rules(db_ref: Ref) -> None:
    db = await declared_on(db_ref)
    async with await Store.open(db, clock=lambda: NOW) as store:
        await store.save_review(1, actor="alice", summary="a0", root_cause="r0")
        await as_bob(db, summary="b1")
        # The same change as bob's is no conflict (and not a change: bob stays its author).
        await store.save_review(1, actor="alice", base={"summary": "a0"}, summary="b1")
        async with await Store.open(db, clock=lambda: NOW + timedelta(minutes=3)) as carol:
            await carol.save_review(1, actor="carol", root_cause="r2")
        n = await review_events(db)
        with pytest.raises(RuleViolation) as e:
            await store.save_review(
                1,
                actor="alice",
                base={"summary": "a0", "root_cause": "r0", "lessons": ""},
                summary="a2",
                root_cause="r3",
                lessons="l",
            )
        assert str(e.value) == (
            "the review's summary was changed by bob at 12:02 and root cause by carol"
            " at 12:03 since you opened it; your text is kept: reopen the form (r) to merge"
        )
        assert await review_events(db) == n
        async with await Store.open(db, clock=lambda: NOW) as c2:
            await c2.save_review(1, actor="carol", summary="c", root_cause="c")
        with pytest.raises(RuleViolation, match="summary and root cause were changed by carol"):
            await store.save_review(
                1,
                actor="alice",
                base={"summary": "b1", "root_cause": "r2"},
                summary="x",
                root_cause="y",
            )
        with pytest.raises(InvalidInput, match="unknown review field"):
            await store.save_review(1, actor="alice", base={"nope": ""}, summary="x")
        with pytest.raises(InvalidInput, match="whys is empty"):
            await store.save_review(1, actor="alice", whys=["ok", " "])


async def test_replay_rebuilds_the_review_after_clears_and_refusals(db_ref: Ref) -> None:
    db = await declared_on(db_ref)
    async with await Store.open(db) as store:
        await store.save_review(1, actor="alice", summary="s", whys=["w"], lessons="l")
        await store.save_review(1, actor="alice", base={"summary": "s"}, summary="", whys=[])
        with pytest.raises(RuleViolation):
            await store.save_review(1, actor="bob", base={"lessons": "old"}, lessons="new")
        saved = (await store.state(1)).review
        evs = await store.events()
    assert (saved.summary, saved.whys, saved.lessons) == ("", (), "l")
    conn = sqlite3.connect(":memory:")
    conn.executescript(schema.MIGRATIONS[0])
    replay(conn, evs)
    row = conn.execute("SELECT summary, whys, lessons FROM review").fetchone()
    assert row == ("", "[]", "l")


# ------------------------------------------------------------------ the CLI


def test_cli_sets_only_the_given_fields_and_empty_clears(tmp_path: Path, db_ref: Ref) -> None:
    cli = Cli(tmp_path, db_ref)
    cli.ok("declare", "x")
    cli.ok("review", "INC-1", "--summary", "alice's", "--lessons", "canary")
    cli.ok("review", "INC-1", "--summary", "bob's careful summary", user="bob")
    r = cli.ok("show", "INC-1", "--json").json()["review"]
    assert (r["summary"], r["lessons"], r["updated_by"]) == (
        "bob's careful summary",
        "canary",
        "bob",
    )
    cli.ok("review", "INC-1", "--lessons", "")
    r = cli.ok("show", "INC-1", "--json").json()["review"]
    assert (r["summary"], r["lessons"]) == ("bob's careful summary", "")
    cli.fails("review", "INC-1", says="nothing to save")
    cli.fails("review", "INC-1", "--why", "", says="whys is empty")
