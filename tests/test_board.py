"""The board on its own: a first load of only the lines it can show, then the rest;
changes that arrive in between lose nothing and raise nothing."""

from __future__ import annotations

from dataclasses import replace

from helpers.builders import incident
from textual.app import App, ComposeResult

from ircmd.models import Severity, Status
from ircmd.widgets.board import DIVIDER, Board

INCIDENTS = [
    incident(id=n, title=f"incident {n}", status=Status.RESOLVED if n % 10 == 0 else Status.TRIAGED)
    for n in range(1, 31)
]


class Host(App[None]):
    CSS = "Board { max-height: 6; }"

    def compose(self) -> ComposeResult:
        yield Board(id="board")


def ids(board: Board) -> list[str | None]:
    return [board.get_option_at_index(i).id for i in range(board.option_count)]


def full_order() -> list[str]:
    active = [str(i.id) for i in sorted(INCIDENTS, key=lambda i: -i.id) if i.id % 10]
    resolved = [str(i.id) for i in sorted(INCIDENTS, key=lambda i: -i.id) if not i.id % 10]
    return [*active, DIVIDER, *resolved]


async def test_a_first_load_builds_what_shows_and_fill_adds_the_rest_in_order() -> None:
    app = Host()
    async with app.run_test(size=(60, 20)) as pilot:
        board = app.query_one(Board)
        assert board.most_lines() == 6
        board.load(INCIDENTS, 1, set(), first=board.most_lines())
        await pilot.pause()
        assert ids(board) == full_order()[:6]
        assert board.border_title == "Board 27 +3 resolved"  # the count is of all of them
        board.fill()
        await pilot.pause()
        assert ids(board) == full_order()
        assert str(board.get_option("1").prompt).startswith("▶ INC-1 ")
        board.fill()  # a second fill adds nothing
        assert ids(board) == full_order()


async def test_changes_before_the_fill_reach_the_lines_built_later() -> None:
    app = Host()
    async with app.run_test(size=(60, 20)) as pilot:
        board = app.query_one(Board)
        board.load(INCIDENTS, None, set(), first=4)
        board.set_current(3)  # not built yet: no error
        board.upsert(replace(INCIDENTS[2], title="renamed three"))  # nor here
        assert board.option_count == 4
        board.fill()
        await pilot.pause()
        assert ids(board) == full_order()
        prompt = str(board.get_option("3").prompt)
        assert prompt.startswith("▶ INC-3 ") and "renamed three" in prompt


async def test_a_change_that_moves_a_line_rebuilds_all_and_the_fill_then_adds_nothing() -> None:
    app = Host()
    async with app.run_test(size=(60, 20)) as pilot:
        board = app.query_one(Board)
        board.load(INCIDENTS, None, set(), first=4)
        board.upsert(replace(INCIDENTS[4], severity=Severity.SEV1))  # moves to the top
        await pilot.pause()
        assert board.option_count == len(full_order())
        assert ids(board)[0] == "5"
        board.fill()
        assert board.option_count == len(full_order())
