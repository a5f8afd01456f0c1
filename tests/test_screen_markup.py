"""User text is never markup: hostile strings as notes and titles are shown literally."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.screen import declared, dialog, events, ready, running, state, submit, until

from ircmd.widgets.timeline import Timeline

HOSTILE = [
    "[/]",
    "[bold]x",
    "[@click=app.quit]x[/]",
    "[$accent]x",
    "a[b]c",
    "emoji 🔥🚒 and CJK 障害対応中",
]


def timeline_text(tl: Timeline) -> str:
    return "\n".join(tl.line_text(i) for i in range(tl.total_lines))


@pytest.mark.parametrize("text", HOSTILE)
async def test_hostile_note_and_title_shown_literally(tmp_path: Path, text: str) -> None:
    db = tmp_path / "ircmd.db"
    async with running(db, size=(200, 50)) as pilot:
        app = pilot.app
        await submit(pilot, f"/declare SEV2 {text}")
        screen = await submit(pilot, text)
        tl = screen.timeline
        # In the declare entry and as the note.
        await until(pilot, lambda: timeline_text(tl).count(text) >= 2)
        assert text in str(screen.query_one("#header").render())
        assert any(text in str(o.prompt) for o in screen.board.options)
        await pilot.pause()
        app.export_screenshot()  # every widget rendered, with the text on screen
        assert app.is_running
    assert (await state(db)).incident.title == text
    assert (await events(db))[-1].text == text


async def test_escape_sequences_are_shown_as_symbols(db_ref: Path | str) -> None:
    db = await declared(db_ref, "\x1b[31mred\x1b[0m title")
    async with running(db, size=(120, 40)) as pilot:
        screen = await submit(pilot, "\x1b[31mred\x1b[0m note")
        await until(pilot, lambda: "note" in timeline_text(screen.timeline))
        shown = timeline_text(screen.timeline)
        assert "␛[31mred␛[0m note" in shown
        assert "\x1b" not in shown
        header = str(screen.query_one("#header").render())
        assert "␛[31mred␛[0m title" in header and "\x1b" not in header
    assert (await events(db))[-1].text == "\x1b[31mred\x1b[0m note", (
        "the record keeps what was typed"
    )


async def test_ten_thousand_character_line(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    long = "0123456789" * 1000
    async with running(db, size=(80, 24)) as pilot:
        app = pilot.app
        screen = await submit(pilot, long)
        tl = screen.timeline
        await until(
            pilot, lambda: any("0123456789" in tl.line_text(i) for i in range(tl.total_lines))
        )
        last = [tl.line_text(i) for i in range(tl.total_lines)][-6:]
        assert last[-1].rstrip().endswith("…"), "wrapped to a few lines, then cut"
        assert all(len(line) <= 80 for line in last)
        tl.focus()
        await pilot.press("end", "enter")
        await until(pilot, lambda: app.screen is not screen)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
    assert (await events(db))[-1].text == long


async def test_hostile_title_through_the_declare_form(tmp_path: Path) -> None:
    from textual.widgets import Input

    from ircmd.screens.modals import DeclareScreen

    db = tmp_path / "ircmd.db"
    title = "[@click=app.quit]x[/] [b]"
    async with running(db, size=(100, 40)) as pilot:
        app = pilot.app
        await ready(pilot)
        await pilot.press("f2")
        form = await dialog(pilot, DeclareScreen, focused="#declare-title")
        form.query_one("#declare-title", Input).value = title
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.command_screen.current == 1)
        assert title in str(app.command_screen.query_one("#header").render())
    assert (await state(db)).incident.title == title


async def test_hostile_text_typed_key_by_key(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    typed = "[@click=app.quit]x[/] a[b]c [$accent]x"
    async with running(db, size=(120, 30)) as pilot:
        app = pilot.app
        screen = await ready(pilot)
        await pilot.press(*typed)
        assert screen.bar.value == typed
        await pilot.press("enter")
        await until(pilot, lambda: screen.bar.value == "")
        await until(pilot, lambda: typed in timeline_text(screen.timeline))
        assert app.is_running
    assert (await events(db))[-1].text == typed
