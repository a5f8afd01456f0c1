"""Deliveries on the command screen, on real SQLite files: each folded under the
entry it delivered (`→ ops ✓  email ✗ 550 ...`), each update's in the Comms tab
with the outbox's waiting and failing ones, and the header's warnings. Outcomes
are recorded by another connection through the store verbs a deliverer uses (the
screen sees them through its change feed, as from another process), and once end
to end by a real `ircmd deliver` process and a real receiver on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.receivers import SECRET, Receiver
from helpers.screen import (
    NOW,
    declared,
    dialog,
    frozen,
    lines_of,
    message_text,
    ready,
    running,
    shown,
    submit,
    timeline_text,
    until,
)
from helpers.serve import Deliver
from textual.app import App, ComposeResult
from textual.widgets import Static

from ircmd import view
from ircmd.hooks.outbox import ContactRoute, Route
from ircmd.models import Audience, Event, Kind, Severity
from ircmd.screens.modals import TextScreen
from ircmd.store import Store
from ircmd.store.store import utc_now
from ircmd.store.verbs.deliveries import Result
from ircmd.widgets.timeline import Row, Timeline

OWNER = "test-deliverer"


async def hooked(tmp_path: Path, *names: str) -> Path:
    """One declared incident and hooks `names` (default ops and email) that want
    updates and notifies, as a deliverer's start writes them."""
    db = await declared(tmp_path)
    async with await Store.open(db, clock=frozen) as store:
        routes = [Route(n, "webhook", ("update", "notify")) for n in names or ("ops", "email")]
        await store.set_routes(routes, [])
    return db


async def update(db: Path, text: str = "Checkout is degraded") -> int:
    async with await Store.open(db, clock=frozen) as store:
        ev = await store.send_update(1, Audience.EXTERNAL, text, actor="alice")
    return ev.id


async def settle(db: Path, hook: str, result: Result) -> None:
    """Take `hook`'s due deliveries and record `result` for each, as a deliverer
    would after sending them: the outcome and the row's state in one transaction."""
    async with await Store.open(db, clock=frozen) as store:
        claim = await store.claim_deliveries(OWNER, {hook: 10.0}, NOW)
        for run in claim.runs:
            for c in run:
                await store.record_delivery(c.id, result, actor="deliverer", owner=OWNER)


async def test_outcomes_fold_onto_the_update_and_fill_the_comms_tab(tmp_path: Path) -> None:
    db = await hooked(tmp_path)
    sent = await update(db)
    async with running(db, poll_interval=0.05) as pilot:
        screen = await ready(pilot)
        await until(pilot, lambda: bool(screen.deliveries))
        assert "→ email … queued  ops … queued" in lines_of(screen, sent)[-1]
        rows = len(screen.timeline.rows)

        await settle(db, "ops", Result("sent", "200"))
        await settle(db, "email", Result("failed", "550", "mailbox unavailable"))
        await until(pilot, lambda: "email ✗" in timeline_text(screen))
        under = lines_of(screen, sent)
        assert under[0].startswith(f"#{sent}") and "external update" in under[0]
        assert "→ email ✗ 550 mailbox unavailable  ops ✓" in under[-1]
        # The two delivery events are on the record, yet no line of their own.
        assert len(screen.timeline.rows) == rows
        assert not [r for r in screen.timeline.rows if r.kind == Kind.DELIVERY]
        assert "deliveries failing: 1" in shown(screen, "header")

        await pilot.press("f5")
        await pilot.pause()
        comms = shown(screen, "comms")
        assert "→ email ✗ 550 mailbox unavailable  ops ✓" in comms
        assert "Deliveries  1 failing, 0 waiting" in comms
        assert f"DLV-1 #{sent} update email ✗ 550 mailbox unavailable" in comms
        assert "ircmd deliveries retry DLV-1" in comms


async def test_enter_on_a_delivered_entry_shows_each_outcome(tmp_path: Path) -> None:
    db = await hooked(tmp_path, "ops")
    sent = await update(db)
    await settle(db, "ops", Result("gave_up", "timeout", "no answer in 10 s"))
    async with running(db) as pilot:
        screen = await ready(pilot)
        await until(pilot, lambda: bool(screen.deliveries))
        assert "→ ops ✗ gave up timeout no answer in 10 s" in lines_of(screen, sent)[-1]
        screen.timeline.focus()
        screen.timeline.cursor = len(screen.timeline.rows) - 1
        await pilot.press("enter")
        full = await dialog(pilot, TextScreen)
        body = "\n".join(str(w.render()) for w in full.query(Static))
        assert "delivered:\n→ ops ✗ gave up timeout no answer in 10 s" in body


async def test_a_retry_and_a_requeue_show_as_they_happen(tmp_path: Path) -> None:
    db = await hooked(tmp_path, "ops")
    sent = await update(db)
    async with running(db, poll_interval=0.05) as pilot:
        screen = await ready(pilot)
        await until(pilot, lambda: bool(screen.deliveries))
        await settle(db, "ops", Result("failed", "503", "busy", retry_at=NOW))
        await until(pilot, lambda: "ops … retrying 503 busy" in lines_of(screen, sent)[-1])
        await settle(db, "ops", Result("failed", "400", "bad request"))
        await until(pilot, lambda: "ops ✗ 400 bad request" in lines_of(screen, sent)[-1])
        async with await Store.open(db, clock=frozen) as store:
            await store.retry_delivery(1, actor="bob")
        # Queued again by a person: waiting, and its last failure still said.
        await until(pilot, lambda: "ops … retrying 400 bad request" in lines_of(screen, sent)[-1])
        # Failing still, and waiting (no deliverer runs here: said once presence is read).
        header = shown(screen, "header")
        assert "deliveries failing: 1" in header or "deliveries: 1 failing, 1 waiting" in header


async def test_the_header_says_when_deliveries_wait_and_no_deliverer_runs(
    tmp_path: Path,
) -> None:
    db = await hooked(tmp_path)
    await update(db)
    async with running(db, heartbeat=3600) as pilot:
        screen = await ready(pilot)
        await until(
            pilot, lambda: "2 deliveries waiting, no deliverer running" in shown(screen, "header")
        )
        # A deliverer's heartbeat, on the frozen clock: fresh. The next beat reads it.
        async with await Store.open(db, clock=frozen) as store:
            await store.heartbeat("deliver-test", None, "deliver", "host")
        screen.beat()
        await until(pilot, lambda: "waiting" not in shown(screen, "header"))
        assert "watching" not in shown(screen, "header")  # a deliverer is nobody watching


async def test_hook_names_and_reasons_print_literally(tmp_path: Path) -> None:
    db = await hooked(tmp_path, "[@click=app.quit]x", "[/]")
    sent = await update(db)
    await settle(db, "[/]", Result("failed", "[b]", "[/] [@click=app.quit]y\x1b[2J"))
    async with running(db) as pilot:
        screen = await ready(pilot)
        await until(pilot, lambda: bool(screen.deliveries))
        line = lines_of(screen, sent)[-1]
        assert "→ [/] ✗ [b] [/] [@click=app.quit]y␛[2J  [@click=app.quit]x … queued" in line
        await pilot.press("f5")
        await pilot.pause()
        comms = shown(screen, "comms")
        assert "[/] ✗ [b] [/] [@click=app.quit]y␛[2J" in comms
        assert "[@click=app.quit]x … queued" in comms
        assert pilot.app.is_running


async def test_notify_says_whether_a_hook_reaches_the_contact(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db, size=(140, 30)) as pilot:
        screen = await submit(pilot, "/notify head of engineering")
        assert message_text(screen) == "Head of engineering notified"  # no hooks at all
    async with await Store.open(db, clock=frozen) as store:
        await store.set_routes(
            [Route("ops", "webhook", ("update",))], [ContactRoute("Status page", "ops")]
        )
    async with running(db, size=(140, 30)) as pilot:
        screen = await submit(pilot, "/notify status page")
        assert message_text(screen) == "Status page notified; sending via ops"
        screen = await submit(pilot, "/notify customer support lead")
        assert message_text(screen) == (
            "Customer support lead notified (recorded only: no channel for"
            " Customer support lead in config.toml's [contacts])"
        )


# ---------------------------------------------------------------- end to end


@pytest.fixture
def hook_config(tmp_path: Path, receiver: Receiver) -> Iterator[Path]:
    """A config.toml whose hook `ops` posts external updates to the receiver."""
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[[hooks]]
name = "ops"
kind = "webhook"
url = "{receiver.url}"
secret = "{SECRET}"
events = ["update"]
audience = "external"
"""
    )
    config.chmod(0o600)
    yield config


async def test_an_update_typed_in_the_bar_reaches_a_receiver_and_shows_sent(
    tmp_path: Path, receiver: Receiver, hook_config: Path
) -> None:
    # The deliverer, a process of its own, keeps the real time, so this record does
    # too: what is queued is due at once, whatever today's date is beside NOW.
    db = tmp_path / "ircmd.db"
    async with await Store.open(db) as store:
        await store.declare("Checkout down", actor="alice", severity=Severity.SEV2)
    home = tmp_path / "home"
    home.mkdir()
    deliver = Deliver(db, home, hook_config)
    try:
        await deliver.routed()
        async with running(db, clock=utc_now, poll_interval=0.05) as pilot:
            screen = await submit(pilot, "/update external Checkout is back for everyone")
            got = await receiver.until(1)
            assert got[0].signed
            assert got[0].body["event"]["text"] == "Checkout is back for everyone"
            sent = got[0].body["event"]["id"]
            await until(pilot, lambda: "→ ops ✓" in lines_of(screen, sent)[-1])
            assert "external update: Checkout is back" in lines_of(screen, sent)[0]
        assert deliver.stop() == 0
    finally:
        deliver.kill()


async def test_the_comms_tab_scrolls_at_80x24(tmp_path: Path) -> None:
    db = await hooked(tmp_path)
    for i in range(6):
        await update(db, f"update {i}: checkout errors are still elevated in eu-west")
    await settle(db, "email", Result("failed", "550", "mailbox unavailable"))
    async with running(db, size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await until(pilot, lambda: len(screen.deliveries) == 12)
        await pilot.press("f5")
        scroll = screen.query_one("#comms-scroll")
        await until(pilot, lambda: scroll.max_scroll_y > 0)  # laid out: it runs past the pane
        assert screen.focused is screen.query_one("#comms")  # its keys (u, n) still act
        page = scroll.scrollable_content_region.height
        for _ in range(3):  # each from where the last one ended: a scroll is animated
            to = min(scroll.scroll_y + page, scroll.max_scroll_y)
            await pilot.press("pagedown")
            await until(pilot, lambda to=to: scroll.scroll_y == to)
        assert scroll.scroll_y == scroll.max_scroll_y
        assert "ircmd deliveries INC-1" in shown(screen, "comms")  # 12 listed: 8 and more


# ------------------------------------------------------------ the widget alone


class Bare(App[None]):
    def compose(self) -> ComposeResult:
        yield Timeline(clock=frozen)


def note(n: int, kind: Kind = Kind.NOTE, **data: object) -> Event:
    return Event(
        id=n,
        incident_id=1,
        occurred_at=NOW,
        recorded_at=NOW,
        actor="bob",
        kind=kind,
        text=f"entry {n}",
        data=data,
    )


async def test_a_row_gains_its_delivery_line_in_place() -> None:
    """Marks for rows not loaded yet wait for them; a row gaining its line moves the
    rows below, not the view of a reader scrolled back; delivery events get no row."""
    async with Bare().run_test(size=(80, 10)) as pilot:
        tl = pilot.app.query_one(Timeline)
        tl.append([note(n) for n in range(50, 101)])
        tl.append([note(101, Kind.DELIVERY, of=60, hook="ops", outcome="sent")])
        assert [r.id for r in tl.rows][-1] == 100
        tl.set_deliveries({10: (("ops ✓", view.SENT),)})  # row 10 is not loaded yet
        tl.insert_older([Row(note(n)) for n in range(1, 50)])
        assert tl.rows[9].delivered == (("ops ✓", view.SENT),)
        tl.focus()
        await pilot.press("pageup", "pageup")
        top = tl._top()
        lines = tl.total_lines
        tl.set_deliveries({10: (("ops ✓", view.SENT),), 60: (("ops ✗ 550 no", view.FAILING),)})
        await pilot.pause()
        assert tl.total_lines == lines + 1
        assert tl._top() == top
        assert tl._starts == [
            sum(tl._lines_of(r) for r in tl.rows[:i]) for i in range(len(tl.rows))
        ]
        start = tl._starts[59]
        assert tl.line_text(start + 1).strip() == "→ ops ✗ 550 no"
        assert tl.line_text(start + 2).lstrip().startswith("#61 ")
        tl.set_deliveries({})
        await pilot.pause()
        assert tl.total_lines == lines - 1


async def test_every_hook_shows_when_the_reasons_are_long() -> None:
    """A long reason of the first hook is cut to its share; the others still show."""
    long = "retrying refused Error connecting to smtp.example.org on port 587: timed out"
    async with Bare().run_test(size=(80, 10)) as pilot:
        tl = pilot.app.query_one(Timeline)
        tl.append([note(1)])
        tl.set_deliveries(
            {1: ((f"chat … {long}", view.FAILING), (f"mail … {long}", view.FAILING),
                 ("ops ✓", view.SENT))}
        )  # fmt: skip
        await pilot.pause()
        line = tl.line_text(1)
        assert len(line) <= 80 and line.rstrip().endswith("ops ✓"), line
        assert "chat … retrying" in line and "mail … retrying" in line, line
