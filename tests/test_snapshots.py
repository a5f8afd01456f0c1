"""Snapshots of the command screen, every tab and every form at 80x24, and the
screen at larger sizes up to 160x48, with the clock frozen.

The database is the demo record written at the frozen time, the app reads time
only from that clock, and the cursor does not blink, so the SVGs are stable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers.screen import NOW, frozen, make_app, message_text, until
from textual.pilot import Pilot
from textual.screen import ModalScreen

from ircmd.demo import build_demo
from ircmd.hooks.outbox import Route
from ircmd.models import Audience
from ircmd.store import Store
from ircmd.store.verbs.deliveries import Result

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


SIZES = {"80x24": (80, 24), "100x30": (100, 30), "120x40": (120, 40), "160x48": (160, 48)}


@pytest.mark.parametrize("size", list(SIZES))
def test_command_screen(snap_compare: SnapCompare, tmp_path: Path, size: str) -> None:
    assert snap_compare(demo_app(tmp_path), terminal_size=SIZES[size], run_before=settle)


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


def test_read_only(snap_compare: SnapCompare, tmp_path: Path) -> None:
    assert snap_compare(
        demo_app(tmp_path, read_only=True), terminal_size=(80, 24), run_before=settle
    )


TAB_OF = {"f4": "checklist", "f5": "comms", "f6": "evidence", "f7": "review", "f8": "actions"}


@pytest.mark.parametrize(
    ("size", "key"),
    [
        *(("80x24", key) for key in TAB_OF),
        ("120x40", "f4"),
        ("120x40", "f7"),
        ("160x48", "f5"),
        ("160x48", "f8"),
    ],
)
def test_process_tab(snap_compare: SnapCompare, tmp_path: Path, size: str, key: str) -> None:
    """Every process tab at 80x24, reached with its F-key; some at larger sizes."""

    async def tab(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press(key)
        app: Any = pilot.app
        tabs = app.command_screen.query_one("#tabs")
        await until(pilot, lambda: tabs.active == TAB_OF[key])
        await pilot.pause()

    assert snap_compare(demo_app(tmp_path), terminal_size=SIZES[size], run_before=tab)


FORMS = {
    "declare": ("f2",),
    "assign": ("f3",),
    "update": ("f5", "u"),
    "evidence": ("f6", "e"),
    "transfer": ("f6", "t"),
    "review": ("f7", "r"),
    "action": ("f8", "a"),
}


@pytest.mark.parametrize(
    ("size", "form"), [*(("80x24", form) for form in FORMS), ("120x40", "declare")]
)
def test_form(snap_compare: SnapCompare, tmp_path: Path, size: str, form: str) -> None:
    """Every form and dialog at 80x24 (the declare one larger too), as it opens."""

    async def opened(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press(*FORMS[form])
        app = pilot.app
        await until(pilot, lambda: isinstance(app.screen, ModalScreen) and app.screen.is_mounted)
        screen: Any = app.screen
        for field in screen.query("Input, TextArea"):
            field.cursor_blink = False
        # The picture depends on the first field holding focus (its cursor drawn) and
        # the form laid out and painted, not on how many turns the loop got.
        await until(
            pilot,
            lambda: (
                app.focused is not None
                and app.focused.has_focus
                and not screen._layout_required
                and not screen._repaint_required
                and not app.focused._repaint_required
            ),
        )
        await pilot.pause()

    assert snap_compare(demo_app(tmp_path), terminal_size=SIZES[size], run_before=opened)


def test_comms_tab_with_deliveries(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """The Comms tab at 80x24 with an update sent to one hook, refused by another and
    waiting for a third; the header says so."""
    db = tmp_path / "ircmd.db"

    async def build() -> None:
        await build_demo(db, "alice", now=NOW)
        async with await Store.open(db, clock=frozen) as store:
            hooks = ("email", "ops", "pager")
            await store.set_routes([Route(h, "webhook", ("update",)) for h in hooks], [])
            await store.send_update(1, Audience.EXTERNAL, "Checkout is back", actor="alice")
            for hook, result in (
                ("ops", Result("sent", "200")),
                ("email", Result("failed", "550", "mailbox unavailable")),
            ):
                claim = await store.claim_deliveries("snap", {hook: 10.0}, NOW)
                (run,) = claim.runs
                await store.record_delivery(run[0].id, result, actor="deliverer", owner="snap")

    asyncio.run(build())

    async def comms(pilot: Pilot[None]) -> None:
        await settle(pilot)
        app: Any = pilot.app
        screen = app.command_screen
        await until(pilot, lambda: len(screen.deliveries) == 3)
        await pilot.press("f5")
        await until(pilot, lambda: screen.query_one("#tabs").active == "comms")
        screen.beat()  # presence read: no deliverer runs
        await until(pilot, lambda: "no deliverer" in str(screen.query_one("#header").render()))
        await pilot.pause()

    app = make_app(db, open_incident=1, heartbeat=3600)
    assert snap_compare(app, terminal_size=(80, 24), run_before=comms)
