"""80x24 is a first-class size: the header keeps its countdown line, the focused
form field is on screen, checklist steps wrap whole; and the smaller screen rules
that came with it (identity in the header, the declare form's Enter, resolved
incidents on the board, done actions awaiting verification)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from helpers.screen import (
    NOW,
    declared,
    dialog,
    form_of,
    frozen,
    ready,
    running,
    seeded,
    state,
    until,
)
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Footer, Input

from ircmd.models import ActionStatus, Severity, Status
from ircmd.screens.modals import DeclareScreen, TextScreen
from ircmd.store import Store
from ircmd.widgets.panels import STEP_INDENT

SMALL = (80, 24)
LONG_TITLE = ("Checkout API returns 502 for EU customers after deploy 4812 " * 3)[:120]


def header_lines(widget: Widget) -> list[str]:
    """What the header draws, line by line, in its own region."""
    region = Region(0, 0, widget.outer_size.width, widget.outer_size.height)
    return ["".join(seg.text for seg in strip) for strip in widget.render_lines(region)]


def on_screen(pilot: Pilot[None], widget: Widget) -> bool:
    """The widget is inside the screen and is what is drawn at its first cell (not
    scrolled away behind its container's edge, nor covered)."""
    screen = pilot.app.screen
    region = widget.region
    if not region or not screen.region.contains_region(region):
        return False
    shown, _ = screen.get_widget_at(region.x, region.y)
    return shown is widget or widget in shown.ancestors_with_self


def focused_and_shown(pilot: Pilot[None], widget: Widget) -> Callable[[], bool]:
    return lambda: pilot.app.focused is widget and on_screen(pilot, widget)


async def test_a_long_title_never_pushes_the_overdue_line_off(db_ref: Path | str) -> None:
    db = await declared(db_ref, title=LONG_TITLE)
    later = NOW + timedelta(hours=2)  # SEV2: an update was due an hour after declaring
    async with running(db, size=SMALL, open_incident=1, clock=lambda: later) as pilot:
        screen = await ready(pilot)
        header = screen.query_one("#header")
        await until(pilot, lambda: "UPDATE OVERDUE" in str(header.render()))
        await pilot.pause()
        assert header.region.height == 2
        assert screen.region.contains_region(header.region)
        first, second = header_lines(header)
        assert "UPDATE OVERDUE" in second and "declared" in second
        assert first.rstrip().endswith("as alice")  # who you are, on the title's line
        assert "…" in first and LONG_TITLE not in first  # the title gave way
        assert len(first) == len(second) == header.outer_size.width


async def test_the_full_title_is_on_enter_on_the_board(db_ref: Path | str) -> None:
    db = await declared(db_ref, title=LONG_TITLE)
    async with running(db, size=SMALL, open_incident=1) as pilot:
        screen = await ready(pilot)
        await until(pilot, lambda: screen.current == 1)
        screen.board.focus()
        await pilot.press("home", "enter")  # the first (the only) line: the open one
        full = await dialog(pilot, TextScreen)
        shown = " ".join(str(w.render()) for w in full.query("Static"))
        assert LONG_TITLE in shown


async def test_the_header_says_who_you_are_and_that_it_is_locked(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db, user="bob", size=SMALL, user_locked=True, read_only=True) as pilot:
        screen = await ready(pilot)
        header = screen.query_one("#header")
        await until(pilot, lambda: "as bob (locked) read-only" in str(header.render()))


async def test_the_focused_form_field_is_always_on_screen(db_ref: Path | str) -> None:
    """Tab through the longest form (the review) and the declare dialog at 80x24."""
    db = await seeded(db_ref)
    async with running(db, size=SMALL, open_incident=1) as pilot:
        app = pilot.app
        screen = await ready(pilot)
        await until(pilot, lambda: screen.state is not None)
        await pilot.press("f7", "r")
        form = await form_of(pilot)
        fields = list(form.query("TextArea"))
        assert len(fields) >= 6
        for field in fields:
            field.focus()
            await until(pilot, focused_and_shown(pilot, field))  # never stays off screen
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        await pilot.press("f2")
        declare = await dialog(pilot, DeclareScreen, focused="#declare-title")
        # The whole declare form fits at 80x24: the playbook and the button, unscrolled.
        playbook, ok = declare.query_one("#declare-playbook"), declare.query_one("#dialog-ok")
        await until(pilot, lambda: on_screen(pilot, playbook) and on_screen(pilot, ok))
        for _ in range(12):  # every field and both buttons, and round again
            await pilot.press("tab")
            await pilot.pause()
            focused = app.focused
            assert focused is not None and focused.screen is declare
            await until(pilot, focused_and_shown(pilot, focused))


SENTENCE = "Restore normal capacity and then remove the temporary mitigations one at a " * 2
WORD = "x" * 120  # a path or a hash: longer than the pane, with nowhere to break


@pytest.mark.parametrize(
    "step",
    [SENTENCE + "time, watching the error rate (END)", WORD + " (END)"],
    ids=["words", "word"],
)
async def test_a_long_checklist_step_wraps_whole(db_ref: Path | str, step: str) -> None:
    db = await declared(db_ref)
    async with await Store.open(db, clock=frozen) as store:
        await store.add_item(1, step, actor="alice")
    async with running(db, size=SMALL, open_incident=1) as pilot:
        screen = await ready(pilot)
        await pilot.press("f4")
        checklist = screen.query_one("#checklist")
        await until(pilot, lambda: "(END)" in str(checklist.render()))
        await pilot.pause()
        width = checklist.content_region.width
        assert 20 < width < len(step)
        lines = str(checklist.render()).split("\n")
        assert all(len(line) <= width for line in lines)
        first = next(i for i, line in enumerate(lines) if "[ ]" in line)
        rest = []
        for line in lines[first + 1 :]:
            if not line.startswith(" " * STEP_INDENT):
                break
            rest.append(line)
        assert len(rest) >= 2 and all(line.startswith(" " * STEP_INDENT) for line in rest)
        if step.startswith(WORD):  # folded, every line full but the last: none alternate
            assert [len(line) for line in rest[:-1]] == [width] * (len(rest) - 1)
            assert "".join(s.strip() for s in rest) == step
        else:
            rendered = " ".join([lines[first].split("[ ] ", 1)[1], *(s.strip() for s in rest)])
            assert rendered == step.strip()


async def test_enter_in_the_declare_title_moves_on_and_declares_nothing(tmp_path: Path) -> None:
    db = tmp_path / "ircmd.db"
    async with running(db, size=SMALL) as pilot:
        app = pilot.app
        screen = await ready(pilot)
        await pilot.press("f2")
        form = await dialog(pilot, DeclareScreen, focused="#declare-title")
        await pilot.press(*"Payments down", "enter")
        await until(pilot, lambda: app.focused is form.query_one("#declare-type", Input))
        assert app.screen is form
        keys = str(form.query_one(".form-keys").render())
        assert "Ctrl+S: declare" in keys and "Escape: cancel" in keys
        await pilot.press(*"service-outage", "enter", "ctrl+s")
        await until(pilot, lambda: screen.current == 1)
    st = await state(db)
    assert st.incident.title == "Payments down" and st.incident.type == "service-outage"


async def test_resolved_incidents_stay_on_the_board_until_closed(db_ref: Path | str) -> None:
    db = await declared(db_ref, title="Checkout down")
    async with await Store.open(db, clock=frozen) as store:
        await store.declare("Search slow", actor="alice", severity=Severity.SEV3)
        await store.set_status(2, Status.RESOLVED, actor="alice")
    async with running(db, size=SMALL, open_incident=1) as pilot:
        screen = await ready(pilot)
        board = screen.board

        def ids() -> list[str | None]:
            return [o.id for o in board.options]

        await until(pilot, lambda: ids() == ["1", "resolved", "2"])
        assert board.get_option("resolved").disabled
        assert "+1 resolved" in str(board.border_title)
        async with await Store.open(db, clock=frozen) as store:
            await store.set_status(1, Status.IN_REVIEW, actor="alice")
        await until(pilot, lambda: ids() == ["resolved", "2", "1"])
        async with await Store.open(db, clock=frozen) as store:
            await store.set_status(2, Status.CLOSED, actor="alice", override="test")
        await until(pilot, lambda: ids() == ["resolved", "1"])


async def test_a_done_action_awaits_verification_rather_than_overdue(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    past = date(2026, 11, 1)  # long before NOW
    async with await Store.open(db, clock=frozen) as store:
        done = await store.add_action(1, "Add a canary", actor="alice", owner="bob", due=past)
        await store.set_action(done.id, ActionStatus.DONE, actor="bob")
        await store.add_action(1, "Page on EU 5xx", actor="alice", owner="erin", due=past)
    async with running(db, size=SMALL, open_incident=1) as pilot:
        screen = await ready(pilot)
        await pilot.press("f8")
        actions = screen.query_one("#actions")
        await until(pilot, lambda: "Page on EU 5xx" in str(actions.render()))
        lines = str(actions.render()).split("\n")
        done_line = lines[lines.index(next(x for x in lines if "Add a canary" in x)) + 1]
        late_line = lines[lines.index(next(x for x in lines if "Page on EU 5xx" in x)) + 1]
        assert "awaiting verification" in done_line and "OVERDUE" not in done_line
        assert "OVERDUE" in late_line and "awaiting" not in late_line


async def test_the_layout_follows_the_terminal_size(db_ref: Path | str) -> None:
    """80x24 is compact (one-line bar, tight key hints, no palette hint); 100x30 is
    not, and back again, the palette hint included."""
    db = await declared(db_ref)
    async with running(db, size=SMALL, open_incident=1) as pilot:
        screen = await ready(pilot)
        footer = screen.query_one(Footer)

        def palette_hint() -> bool:
            return bool(footer.query(".-command-palette"))

        await until(pilot, lambda: screen.has_class("-compact") and footer.compact)
        assert screen.bar.outer_size.height == 1 and not palette_hint()
        await pilot.resize_terminal(100, 30)
        await until(pilot, lambda: not screen.has_class("-compact") and palette_hint())
        assert screen.bar.outer_size.height == 3 and not footer.compact
        await pilot.resize_terminal(*SMALL)
        await until(pilot, lambda: screen.has_class("-compact") and not palette_hint())
