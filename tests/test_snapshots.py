"""Snapshots of the command screen at 80x24 and 160x48, with the clock frozen.

The database is the demo record written at the frozen time, the app reads time
only from that clock, and the cursor does not blink, so the SVGs are stable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers.screen import NOW, make_app, message_text, until
from textual.pilot import Pilot

from ircmd.demo import build_demo
from ircmd.screens.forms import FormScreen
from ircmd.screens.modals import DeclareScreen

SnapCompare = Callable[..., bool]


def demo_app(tmp_path: Path, **kw: Any) -> Any:
    db = tmp_path / "ircmd.db"
    asyncio.run(build_demo(db, "alice", now=NOW))
    return make_app(db, open_incident=1, **kw)


async def settle(pilot: Pilot[None]) -> None:
    """Wait for the first load and stop the cursor blinking; snap_compare then waits
    for every pending message and animation before it takes the picture."""
    app: Any = pilot.app
    await until(
        pilot,
        lambda: (
            app.command_screen is not None
            and app.command_screen.is_mounted
            and app.command_screen.timeline.rows
        ),
    )
    app.command_screen.bar.cursor_blink = False
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_command_screen(snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(demo_app(tmp_path), terminal_size=size, run_before=settle)


def test_light_theme(snap_compare: SnapCompare, tmp_path: Path) -> None:
    async def light(pilot: Pilot[None]) -> None:
        pilot.app.theme = "textual-light"
        await settle(pilot)

    assert snap_compare(demo_app(tmp_path), terminal_size=(160, 48), run_before=light)


def test_inline_error(snap_compare: SnapCompare, tmp_path: Path) -> None:
    async def bad(pilot: Pilot[None]) -> None:
        await settle(pilot)
        app: Any = pilot.app
        screen = app.command_screen
        screen.bar.value = "/sev 9"
        await pilot.press("enter")
        await until(
            pilot,
            lambda: (
                message_text(screen) == "/sev: unknown severity '9' (use SEV1..SEV4)"
                and screen.bar.value == "/sev 9"
            ),
        )

    assert snap_compare(demo_app(tmp_path), terminal_size=(80, 24), run_before=bad)


def test_declare_form(snap_compare: SnapCompare, tmp_path: Path) -> None:
    async def form(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("f2")
        await until(
            pilot,
            lambda: isinstance(pilot.app.screen, DeclareScreen) and pilot.app.screen.is_mounted,
        )
        pilot.app.screen.query_one("#declare-title").cursor_blink = False  # type: ignore[attr-defined]
        await pilot.pause()

    assert snap_compare(demo_app(tmp_path), terminal_size=(80, 24), run_before=form)


def test_read_only(snap_compare: SnapCompare, tmp_path: Path) -> None:
    assert snap_compare(
        demo_app(tmp_path, read_only=True), terminal_size=(80, 24), run_before=settle
    )


TAB_OF = {"f5": "comms", "f7": "review", "f8": "actions"}


@pytest.mark.parametrize(
    ("size", "key"), [((80, 24), "f5"), ((160, 48), "f5"), ((80, 24), "f7"), ((160, 48), "f8")]
)
def test_process_tab(
    snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int], key: str
) -> None:
    """The Comms, Review and Actions tabs, reached with their F-keys."""

    async def tab(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press(key)
        app: Any = pilot.app
        tabs = app.command_screen.query_one("#tabs")
        await until(pilot, lambda: tabs.active == f"tab-{TAB_OF[key]}")
        await pilot.pause()

    assert snap_compare(demo_app(tmp_path), terminal_size=size, run_before=tab)


def test_update_draft_form(snap_compare: SnapCompare, tmp_path: Path) -> None:
    async def draft(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("f5", "u")
        await until(
            pilot,
            lambda: isinstance(pilot.app.screen, FormScreen) and pilot.app.screen.is_mounted,
        )
        pilot.app.screen.query_one("#field-text").cursor_blink = False  # type: ignore[attr-defined]
        await pilot.pause()

    assert snap_compare(demo_app(tmp_path), terminal_size=(80, 24), run_before=draft)
