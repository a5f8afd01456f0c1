"""The checklist pane under Pilot: F4 focuses it, Up/Down (k/j) select a step,
Space or x toggles it through the same path as `/check N`."""

from __future__ import annotations

from pathlib import Path

from helpers.screen import declared, events, frozen, message_text, running, shown, state, until
from textual.pilot import Pilot

from ircmd.models import Phase
from ircmd.screens.command import CommandScreen
from ircmd.store import Store
from ircmd.widgets.panels import CURSOR, Checklist


async def with_steps(tmp_path: Path) -> Path:
    """INC-1 with steps 1 and 2 in containment and 3 in recovery, none done."""
    db = await declared(tmp_path)
    async with await Store.open(db, clock=frozen) as store:
        await store.add_item(1, "isolate the host", actor="alice")
        await store.add_item(1, "rotate the keys", actor="alice")
        await store.add_item(1, "restore from backup", actor="alice", phase=Phase.RECOVERY)
    return db


async def focused(pilot: Pilot[None]) -> tuple[CommandScreen, Checklist]:
    """F4, once the steps are shown: the checklist has the focus."""
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, CommandScreen) and app.screen.is_mounted)
    screen = app.screen
    assert isinstance(screen, CommandScreen)
    checklist = screen.query_one(Checklist)
    await until(pilot, lambda: "restore from backup" in shown(screen, "checklist"))
    await pilot.press("f4")
    await until(pilot, lambda: checklist.has_focus)
    return screen, checklist


def step_line(screen: CommandScreen, n: int) -> str:
    """The screen line step `n` starts on."""
    lines = shown(screen, "checklist").split("\n")
    return next(line for line in lines if line.startswith(f"{n:>2} "))


def highlighted(checklist: Checklist) -> list[str]:
    """The screen lines drawn in the cursor style."""
    return [
        line.plain
        for line in checklist.render().split("\n")
        if any(span.style == CURSOR for span in line.spans)
    ]


async def done_steps(db: Path) -> list[int]:
    return [i.n for i in (await state(db)).checklist if i.done]


async def test_f4_focuses_the_checklist_and_the_keys_move_the_selection(
    tmp_path: Path,
) -> None:
    db = await with_steps(tmp_path)
    async with running(db, size=(80, 24)) as pilot:
        screen, checklist = await focused(pilot)
        assert checklist.selected is None
        assert highlighted(checklist) == []
        await pilot.press("down", "down", "down")  # the Recovery heading is passed over
        assert checklist.selected == 3
        assert [line.rstrip() for line in highlighted(checklist)] == [" 3 [ ] restore from backup"]
        await pilot.press("k")
        assert checklist.selected == 2
        await pilot.press("j", "j", "j")  # stays on the last step
        assert checklist.selected == 3
        await pilot.press("up", "up", "up")
        assert checklist.selected == 1
        await pilot.press("escape")  # the selection shows only in the focused pane
        assert highlighted(checklist) == []
        assert screen.bar.value == ""


async def test_space_checks_the_selected_step_and_again_unchecks_it(tmp_path: Path) -> None:
    db = await with_steps(tmp_path)
    async with running(db, size=(80, 24)) as pilot:
        screen, checklist = await focused(pilot)
        await pilot.press("down", "down", "space")
        await until(pilot, lambda: "[x]" in step_line(screen, 2))
        assert message_text(screen) == "step 2 checked"
        assert await done_steps(db) == [2]
        assert checklist.has_focus  # the next step is a key away
        await pilot.press("space")
        await until(pilot, lambda: "[ ]" in step_line(screen, 2))
        assert message_text(screen) == "step 2 unchecked"
        assert await done_steps(db) == []
        assert screen.bar.value == ""  # Space went to the pane, not the bar


async def test_x_toggles_and_other_keys_still_go_to_the_bar(tmp_path: Path) -> None:
    db = await with_steps(tmp_path)
    async with running(db, size=(80, 24)) as pilot:
        screen, checklist = await focused(pilot)
        await pilot.press("j", "x")
        await until(pilot, lambda: "[x]" in step_line(screen, 1))
        assert await done_steps(db) == [1]
        await pilot.press("h", "x", "space", "j")  # `h` is no pane key: all go to the bar
        assert screen.bar.has_focus
        assert screen.bar.value == "hx j"
        screen.bar.value = ""
        await pilot.press(*"xkj", "space", "x", "enter")  # a note starting with x
        await until(pilot, lambda: screen.bar.history[-1:] == ["xkj x"])
        assert checklist.selected == 1
    assert (await events(db))[-1].text == "xkj x"
    assert await done_steps(db) == [1]


async def test_a_read_only_session_refuses_and_writes_nothing(tmp_path: Path) -> None:
    db = await with_steps(tmp_path)
    before = len(await events(db))
    async with running(db, size=(80, 24), read_only=True) as pilot:
        screen, _ = await focused(pilot)
        await pilot.press("down", "space")
        await until(pilot, lambda: message_text(screen) != "")
        assert message_text(screen) == "this session is read-only: nothing was written"
        assert "[ ]" in step_line(screen, 1)
    assert len(await events(db)) == before
    assert await done_steps(db) == []


async def test_a_skipped_step_is_struck_with_its_reason_and_space_checks_it(
    tmp_path: Path,
) -> None:
    db = await with_steps(tmp_path)
    async with await Store.open(db, clock=frozen) as store:
        await store.skip_item(1, 2, "no keys on this host", actor="alice")
    async with running(db, size=(100, 30)) as pilot:
        screen, checklist = await focused(pilot)
        line = step_line(screen, 2)
        assert line.startswith(" 2 [-] rotate the keys — skipped: no keys on this host")
        assert "Containment 0+1/2" in shown(screen, "checklist")
        assert checklist.border_title == "Checklist 0+1/3"
        content = checklist.render()
        struck = [content.plain[s.start : s.end] for s in content.spans if "strike" in str(s.style)]
        assert struck == ["rotate the keys"]
        await pilot.press("down", "down", "space")
        await until(pilot, lambda: "[x]" in step_line(screen, 2))
    item = (await state(db)).checklist[1]
    assert (item.n, item.done, item.skipped) == (2, True, False)


async def test_the_selection_stays_on_its_step_when_another_session_changes_the_list(
    tmp_path: Path,
) -> None:
    db = await with_steps(tmp_path)
    async with running(db, size=(80, 24)) as pilot:
        screen, checklist = await focused(pilot)
        await pilot.press("down", "down", "down")
        assert checklist.selected == 3
        async with await Store.open(db, clock=frozen) as store:
            await store.check(1, 1, actor="bob")
            await store.add_item(1, "block the address", actor="bob")  # step 4, above step 3
        await until(pilot, lambda: "block the address" in shown(screen, "checklist"))
        await until(pilot, lambda: "[x]" in step_line(screen, 1))
        assert checklist.selected == 3
        assert [line.rstrip() for line in highlighted(checklist)] == [" 3 [ ] restore from backup"]


async def test_the_pane_scrolls_to_the_selected_step_at_80x24(tmp_path: Path) -> None:
    db = await with_steps(tmp_path)
    async with await Store.open(db, clock=frozen) as store:
        for k in range(12):
            await store.add_item(
                1, f"recovery step number {k} of many", actor="alice", phase=Phase.RECOVERY
            )
    async with running(db, size=(80, 24)) as pilot:
        screen, checklist = await focused(pilot)
        await until(pilot, lambda: "step number 11" in shown(screen, "checklist"))
        height = checklist.content_region.height
        assert len(shown(screen, "checklist").split("\n")) > height  # else nothing to scroll
        await pilot.press(*["down"] * 15)
        assert checklist.selected == 15
        lines = shown(screen, "checklist").split("\n")
        assert not lines[0].startswith("Containment")
        assert highlighted(checklist)[0] in lines[:height]
        assert highlighted(checklist)[0].startswith("15 ")
        await pilot.press(*["up"] * 14)
        assert checklist.selected == 1
        assert shown(screen, "checklist").startswith("Containment")
        await pilot.press("escape")
        assert shown(screen, "checklist").startswith("Containment")
