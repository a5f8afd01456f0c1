"""Timeline layout: dates on rows from another day, word wrapping by cell width.

Pilot tests on a real SQLite file with the clock frozen at NOW (2026-11-23 12:00
UTC), plus a few direct checks of the wrapping functions.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from helpers.screen import NOW, declared, frozen, ready, running, submit, until
from rich.cells import cell_len
from textual.app import App, ComposeResult

from ircmd.models import Event, Kind, Severity
from ircmd.store import Store
from ircmd.widgets import timeline as tl_mod
from ircmd.widgets.timeline import MAX_LINES, Row, Timeline


def all_lines(tl: Timeline) -> list[str]:
    return [tl.line_text(i) for i in range(tl.total_lines)]


def row_lines(tl: Timeline, needle: str) -> list[str]:
    """The lines of the first row whose first line contains `needle`."""
    index = next(i for i, row in enumerate(tl.rows) if needle in row.text)
    start = tl._starts[index]
    end = tl._starts[index + 1] if index + 1 < len(tl.rows) else tl.total_lines
    return [tl.line_text(i) for i in range(start, end)]


def line_of(tl: Timeline, row_id: int) -> str:
    return next(line for line in all_lines(tl) if line.lstrip().startswith(f"#{row_id} "))


def body(tl: Timeline, line: str) -> str:
    """The text column of a line (cells after the prefix)."""
    prefix = tl._layout.prefix
    cells = 0
    for i, ch in enumerate(line):
        if cells >= prefix:
            return line[i:]
        cells += cell_len(ch)
    return ""


# ------------------------------------------------------------------ dates


async def began_in_2019(tmp_path: Path) -> Path:
    """An incident declared at 11:55 today whose impact began on 2019-12-31 (a breach
    found late), so an entry dated 2020 is a plausible time (rules.check_time)."""
    db = tmp_path / "ircmd.db"
    async with await Store.open(db, clock=frozen) as store:
        await store.declare(
            "Checkout down",
            actor="alice",
            severity=Severity.SEV2,
            at=NOW - timedelta(minutes=5),
            started_at=datetime(2019, 12, 31, tzinfo=UTC),
        )
    return db


async def test_back_dated_entries_show_their_date(tmp_path: Path) -> None:
    db = await began_in_2019(tmp_path)  # 11:55 today
    async with running(db, size=(80, 24)) as pilot:
        await submit(pilot, "same day as the declaration")
        await submit(pilot, "/at 23:59 vendor called back")  # yesterday, 11-22
        await submit(pilot, "/at 2020-01-01T00:00 an old log line")
        await submit(pilot, "back to today")
        screen = await submit(pilot, "still today")
        tl = screen.timeline
        await until(pilot, lambda: "still today" in "".join(all_lines(tl)))
        ids = {row.text: row.id for row in tl.rows}
        first = line_of(tl, tl.rows[0].id)
        assert "11:55:00" in first and "11-23" not in first, "today, like the clock: no date"
        same = line_of(tl, ids["same day as the declaration"])
        assert "12:00:00" in same and "11-23" not in same
        assert "11-22 23:59:00" in line_of(tl, ids["vendor called back"])
        assert "2020-01-01 00:00:00" in line_of(tl, ids["an old log line"])
        back = line_of(tl, ids["back to today"])
        assert "11-23 12:00:00" in back, "another day than the row above"
        still = line_of(tl, ids["still today"])
        assert "12:00:00" in still and "11-23" not in still and "2026" not in still
        # Written long after it happened: marked ↶ after the time (the rest are not).
        assert "23:59:00↶alice" in line_of(tl, ids["vendor called back"])
        assert "00:00:00↶alice" in line_of(tl, ids["an old log line"])
        assert "↶" not in back + still + same
        # The columns stay aligned: every first line has its actor at the same cell.
        firsts = [line_of(tl, row.id) for row in tl.rows]
        assert len({line.index("alice ") for line in firsts}) == 1
        assert all(cell_len(line) <= 80 for line in all_lines(tl))


async def test_first_row_from_another_day_shows_its_date(tmp_path: Path) -> None:
    db = tmp_path / "ircmd.db"
    async with await Store.open(db, clock=frozen) as store:
        await store.declare("Overnight", actor="alice", at=NOW - timedelta(days=1))
        await store.log(1, "late", actor="bob", at=NOW - timedelta(days=1, minutes=-1))
    async with running(db, size=(80, 24)) as pilot:
        screen = await ready(pilot)
        tl = screen.timeline
        await until(pilot, lambda: len(tl.rows) == 2)
        assert "11-22 12:00:00" in line_of(tl, 1)
        assert "12:01:00" in line_of(tl, 2) and "11-22" not in line_of(tl, 2)


async def test_history_junction_decides_the_date_again(tmp_path: Path) -> None:
    """The tail's first row is compared with today until older rows of its own
    day are inserted above it; then it shows no date."""
    from ircmd.screens import command

    db = tmp_path / "ircmd.db"
    yesterday = NOW - timedelta(days=1)
    async with await Store.open(db, clock=frozen) as store:
        await store.declare("Overnight", actor="alice", at=yesterday)
        for i in range(30):
            await store.log(1, f"entry {i}", actor="bob", at=yesterday + timedelta(minutes=i))
    old_tail, command.TAIL = command.TAIL, 10
    try:
        async with running(db, size=(80, 24)) as pilot:
            screen = await ready(pilot)
            tl = screen.timeline
            await until(pilot, lambda: len(tl.rows) == 31)
            assert "11-22 12:00:00" in line_of(tl, 1), "the first row against today"
            dated = [row.id for row in tl.rows if row.dated]
            assert dated == [1], "the junction row is no longer dated"
            assert all("11-22" not in line_of(tl, n) for n in range(2, 32))
    finally:
        command.TAIL = old_tail


def ev(n: int, at: datetime, text: str = "x") -> Event:
    return Event(
        id=n, incident_id=1, occurred_at=at, recorded_at=at, actor="bob", kind=Kind.NOTE, text=text
    )


class Bare(App[None]):
    """A Timeline in an app with no clock: the first row always shows its date."""

    def compose(self) -> ComposeResult:
        yield Timeline()


async def test_without_a_clock_the_first_row_is_dated() -> None:
    app = Bare()
    async with app.run_test(size=(80, 10)) as pilot:
        tl = app.query_one(Timeline)
        at = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
        tl.append([ev(5, at), ev(6, at + timedelta(hours=1))])
        await pilot.pause()
        assert "2026-11-23 09:30:00" in line_of(tl, 5)
        assert "10:30:00" in line_of(tl, 6) and "11-23" not in line_of(tl, 6)
        # Older rows of another day inserted above: the junction row now shows its day.
        tl.insert_older([Row(ev(2, at - timedelta(days=1)))])
        await pilot.pause()
        assert "2026-11-22 09:30:00" in line_of(tl, 2)
        assert "11-23 09:30:00" in line_of(tl, 5) and "2026-11-23" not in line_of(tl, 5)
        assert "11-23" not in line_of(tl, 6)


async def test_scrolled_back_keeps_its_place_when_the_time_column_widens(
    tmp_path: Path,
) -> None:
    db = await began_in_2019(tmp_path)
    async with await Store.open(db, clock=frozen) as store:
        for i in range(60):
            await store.log(1, f"entry {i} " + "word " * 12, actor="bob")
    async with running(db, poll_interval=0.05, size=(80, 24)) as pilot:
        screen = await ready(pilot)
        tl = screen.timeline
        await until(pilot, lambda: len(tl.rows) == 61)
        tl.focus()
        await pilot.press("pageup", "pageup")
        assert not tl.following
        top = tl._top()
        prefix = tl._layout.prefix
        async with await Store.open(db, clock=frozen) as other:
            await other.log(1, "from 2020", actor="carol", at=datetime(2020, 1, 1, tzinfo=UTC))
        await until(pilot, lambda: "from 2020" in "".join(all_lines(tl)))
        await pilot.pause()
        assert tl._layout.prefix > prefix, "the time column widened"
        assert tl._top() == top, "the same row is still at the top"
        assert not tl.following


# --------------------------------------------------------------- wrapping

LONG = (
    "Impact unknown: the attacker exfiltrated customer records from the billing "
    "replica before the credentials were rotated; legal and the privacy team are "
    "assessing notification duties while forensics images the affected hosts"
)


async def test_long_note_wraps_at_spaces(tmp_path: Path) -> None:
    db = await declared(tmp_path)
    async with running(db, size=(80, 24)) as pilot:
        screen = await submit(pilot, LONG)
        tl = screen.timeline
        await until(pilot, lambda: "Impact unknown" in "".join(all_lines(tl)))
        lines = row_lines(tl, "Impact unknown")
        assert len(lines) > 2
        texts = [body(tl, line).rstrip() for line in lines]
        assert " ".join(texts).split() == LONG.split(), "no word split across lines"
        assert all(cell_len(line) <= 80 for line in lines)
        # Continuation lines are indented under the text column.
        pad = " " * tl._layout.prefix
        assert all(line.startswith(pad) and line[len(pad)] != " " for line in lines[1:])
        assert lines[0].index("Impact") == len(pad)
        # Lines are filled: the next word would not have fitted on the line before.
        text_w = tl._layout.text_w
        for here, after in pairwise(texts):
            assert cell_len(here) + 1 + cell_len(after.split()[0]) > text_w


async def test_wrapping_follows_a_resize(tmp_path: Path) -> None:
    db = await declared(tmp_path)
    async with running(db, size=(80, 24)) as pilot:
        screen = await submit(pilot, LONG)
        tl = screen.timeline
        await until(pilot, lambda: "Impact unknown" in "".join(all_lines(tl)))
        narrow = row_lines(tl, "Impact unknown")
        await pilot.resize_terminal(160, 40)
        await until(pilot, lambda: len(row_lines(tl, "Impact unknown")) < len(narrow))
        wide = row_lines(tl, "Impact unknown")
        texts = [body(tl, line).rstrip() for line in wide]
        assert " ".join(texts).split() == LONG.split()
        assert tl.total_lines == tl._starts[-1] + tl._lines_of(tl.rows[-1])


async def test_a_300_character_word_still_wraps_hard(tmp_path: Path) -> None:
    db = await declared(tmp_path)
    word = "".join(chr(ord("a") + i % 26) for i in range(300))
    async with running(db, size=(80, 24)) as pilot:
        screen = await submit(pilot, f"see {word}")
        tl = screen.timeline
        await until(pilot, lambda: "abcdefghij" in "".join(all_lines(tl)))
        lines = row_lines(tl, "see ")
        text_w = tl._layout.text_w
        assert len(lines) == MAX_LINES
        texts = [body(tl, line).rstrip() for line in lines]
        assert texts[0] == "see", "the long word starts on a line of its own"
        assert all(len(t) == text_w for t in texts[1:]), "then fills whole lines"
        assert texts[-1].endswith("…")
        assert "".join(texts[1:])[:-1] == word[: len("".join(texts[1:])) - 1]


async def test_cjk_wraps_by_cell_width(tmp_path: Path) -> None:
    db = await declared(tmp_path)
    cjk = "障害対応中のため決済サービスを停止しました" * 4  # 84 characters, 168 cells
    async with running(db, size=(80, 24)) as pilot:
        screen = await submit(pilot, cjk)
        tl = screen.timeline
        await until(pilot, lambda: "障害対応中" in "".join(all_lines(tl)))
        lines = row_lines(tl, "障害対応中")
        text_w = tl._layout.text_w
        texts = [body(tl, line).rstrip() for line in lines]
        assert "".join(texts) == cjk
        assert all(cell_len(line) <= 80 for line in lines)
        assert all(text_w - 1 <= cell_len(t) <= text_w for t in texts[:-1])
        assert len(lines) == -(-168 // (text_w - text_w % 2))


# ------------------------------------------------------- the wrap itself


def test_wrap_keeps_words_and_measures_cells() -> None:
    wrap = tl_mod._wrap
    assert list(wrap("exfil trated data", 8)) == ["exfil", "trated", "data"]
    assert list(wrap("exfiltrated", 5)) == ["exfil", "trate", "d"]
    assert list(wrap("a 🔥🔥🔥 b", 5)) == ["a", "🔥🔥", "🔥 b"]
    assert list(wrap("👩‍💻👩‍💻👩‍💻", 5)) == ["👩‍💻👩‍💻", "👩‍💻"], "graphemes are never split"
    assert list(wrap("word   ", 4)) == ["word"]
    assert list(wrap("", 8)) == []


@pytest.mark.parametrize("seed", range(3))
def test_ascii_and_cell_wrapping_agree(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(3000):
        text = "".join(rng.choice("ab  cdefgh   ij") for _ in range(rng.randint(0, 80)))
        width = rng.randint(1, 24)
        fast = list(tl_mod._wrap_ascii(text, width))
        assert fast == list(tl_mod._wrap_cells(text, width)), (text, width)
        assert all(len(line) <= width for line in fast)
        assert "".join(fast).replace(" ", "") == text.replace(" ", "")
        assert tl_mod._count_lines(text, max(8, width)) == len(
            tl_mod._body_lines(text, "", max(8, width))
        )
