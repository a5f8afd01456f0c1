"""The timeline: every event of the current incident, newest at the bottom.

A line-API widget (ScrollView + render_line) because an incident can hold
100,000 events: rows are small slotted objects built from events, and strips
are rendered only for the lines on screen (and cached). Long entries wrap to at
most MAX_LINES lines and end in an ellipsis; Enter shows the whole entry. An
amendment is shown in its place in time and also under the entry it corrects,
which carries a marker, so nobody reads a corrected entry without its fix.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.cells import cell_len, chop_cells
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from .. import display
from ..models import Event, Kind

MAX_LINES = 6
ELLIPSIS = "…"
KIND_LABELS = {
    Kind.ITEM_ADD.value: "step",
    Kind.ACTION_ADD.value: "action",
    Kind.ACTION_SET.value: "action",
    Kind.EVIDENCE_ADD.value: "evidence",
    Kind.EVIDENCE_TRANSFER.value: "custody",
    Kind.EVIDENCE_AMEND.value: "evidence",
}
AMENDED = "✎ "


class Row:
    """One event as the timeline needs it; the Event itself is not kept (memory)."""

    __slots__ = ("actor", "amendments", "amends", "at", "cells", "id", "kind", "text")

    def __init__(self, ev: Event) -> None:
        self.id = ev.id
        self.at: datetime = ev.occurred_at.astimezone(UTC)
        self.amends: int | None = ev.data.get("amends") if ev.kind is Kind.AMEND else None
        self.actor = ev.actor
        self.kind = ev.kind.value
        self.text = display.describe(ev)
        self.cells = cell_len(self.text)
        self.amendments: list[Row] = []


@dataclass(frozen=True)
class Layout:
    """Column widths for one text width: narrow screens get shorter columns."""

    width: int
    id_w: int
    actor_w: int
    kind_w: int

    @property
    def prefix(self) -> int:
        return self.id_w + 1 + 8 + 1 + self.actor_w + 1 + self.kind_w + 1

    @property
    def text_w(self) -> int:
        return max(8, self.width - self.prefix)


class Timeline(ScrollView, can_focus=True):
    """Events in id order; follows the bottom unless the user scrolled back."""

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(0)", "Oldest", show=False),
        Binding("end", "edge(1)", "Newest", show=False),
        Binding("enter", "open_entry", "Full entry"),
    ]

    COMPONENT_CLASSES = {
        "timeline--id",
        "timeline--time",
        "timeline--actor",
        "timeline--kind",
        "timeline--decision",
        "timeline--amended",
        "timeline--amendment",
        "timeline--cursor",
        "timeline--empty",
    }

    class EntryChosen(Message):
        """Enter on a row: the screen shows the entry in full."""

        def __init__(self, event_id: int, text: str) -> None:
            super().__init__()
            self.event_id = event_id
            self.text = text

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[Row] = []
        self._by_id: dict[int, Row] = {}
        self._orphans: dict[int, list[Row]] = {}  # amendments of rows not loaded yet
        self._starts: list[int] = []  # first virtual line of each row
        self._total = 0
        self._layout = Layout(80, 5, 8, 8)
        self._cache: LRUCache[tuple[int, int, bool], list[Strip]] = LRUCache(1024)
        self.cursor: int | None = None  # row index
        self.empty_text = "No incident open. /declare SEV2 title, or /open INC-n."

    # ------------------------------------------------------------- content

    def clear(self) -> None:
        self.rows = []
        self._by_id = {}
        self._orphans = {}
        self.cursor = None
        self._relayout(force=True)
        self.anchor()

    def append(self, events: Iterable[Event]) -> None:
        """New events at the bottom; keeps following only if the view was at the bottom."""
        touched = False
        fresh: list[Row] = []
        for ev in events:
            if ev.id in self._by_id:
                continue
            row = Row(ev)
            fresh.append(row)
            touched |= self._link(row)
        if not fresh:
            return
        if self.rows and fresh[0].id < self.rows[-1].id:
            # A feed batch raced an incident load: keep id order, whatever arrived first.
            touched = True
            self.rows = sorted(self.rows + fresh, key=lambda r: r.id)
        else:
            self.rows.extend(fresh)
        if touched:
            self._relayout(force=True)
        else:
            self._extend_layout(fresh)
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    def insert_older(self, rows: list[Row]) -> None:
        """Older rows loaded late, above what is shown; the view keeps its place."""
        fresh = [row for row in rows if row.id not in self._by_id]
        if not fresh:
            return
        before = self._total
        for row in fresh:
            self._link(row)
        self.rows[:0] = fresh
        if self.cursor is not None:
            self.cursor += len(fresh)
        self._relayout(force=True)
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        else:
            self.scroll_to(y=self.scroll_y + self._total - before, animate=False, immediate=True)

    @property
    def following(self) -> bool:
        """Anchored to the bottom: true until the user scrolls back, again at the end."""
        return not self._anchor_released

    def on_mount(self) -> None:
        self.anchor()

    def _link(self, row: Row) -> bool:
        """Index the row and attach amendments both ways; True if an earlier row changed."""
        self._by_id[row.id] = row
        row.amendments.extend(self._orphans.pop(row.id, ()))
        target = row.amends
        if target is None:
            return False
        if target in self._by_id:
            self._by_id[target].amendments.append(row)
            self._cache.clear()
            return True
        self._orphans.setdefault(target, []).append(row)
        return False

    # -------------------------------------------------------------- layout

    def _layout_for(self, width: int) -> Layout:
        last = self.rows[-1].id if self.rows else 1
        id_w = len(str(last)) + 1
        wide = width >= 120
        return Layout(width, id_w, 12 if wide else 8, 8)

    def _lines_of(self, row: Row) -> int:
        text_w = self._layout.text_w
        cells = row.cells + (len(AMENDED) if row.amendments else 0)
        body = min(MAX_LINES, max(1, math.ceil(cells / text_w)))
        return body + len(row.amendments)

    def _relayout(self, *, force: bool = False) -> None:
        width = self.scrollable_content_region.width or self.size.width or 80
        layout = self._layout_for(width)
        if not force and layout == self._layout:
            return
        self._layout = layout
        self._cache.clear()
        starts: list[int] = []
        total = 0
        lines_of = self._lines_of
        for row in self.rows:
            starts.append(total)
            total += lines_of(row)
        self._starts = starts
        self._total = total
        self.virtual_size = Size(width, total)
        self.refresh()

    def _extend_layout(self, fresh: list[Row]) -> None:
        width = self.scrollable_content_region.width or self.size.width or 80
        if self._layout_for(width) != self._layout:
            self._relayout(force=True)
            return
        for row in fresh:
            self._starts.append(self._total)
            self._total += self._lines_of(row)
        self.virtual_size = Size(width, self._total)

    def on_resize(self) -> None:
        self._relayout()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    # ----------------------------------------------------------- rendering

    def _row_at(self, line: int) -> int:
        return bisect_right(self._starts, line) - 1

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        line = self.scroll_offset.y + y
        if not self.rows:
            if y == 0:
                style = base + self.get_component_rich_style("timeline--empty")
                return Strip([Segment(self.empty_text, style)]).crop_extend(0, width, base)
            return Strip.blank(width, base)
        if line >= self._total:
            return Strip.blank(width, base)
        index = self._row_at(line)
        strips = self._strips(index)
        part = line - self._starts[index]
        strip = strips[part] if part < len(strips) else Strip.blank(width, base)
        return strip.crop_extend(0, width, base)

    def _strips(self, index: int) -> list[Strip]:
        row = self.rows[index]
        cursor = index == self.cursor and self.has_focus
        key = (row.id, self._layout.width, cursor)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        strips = self._render_row(row, cursor)
        self._cache[key] = strips
        return strips

    def _render_row(self, row: Row, cursor: bool) -> list[Strip]:
        lay = self._layout
        base = self.rich_style
        if cursor:
            base = base + self.get_component_rich_style("timeline--cursor")

        def style(name: str) -> Style:
            return base + self.get_component_rich_style(f"timeline--{name}")

        marker = AMENDED if row.amendments else ""
        body_style = style("decision") if row.kind == Kind.DECISION.value else base
        if row.kind == Kind.AMEND.value:
            body_style = style("amendment")
        text = marker + display.printable(_head(row.text, MAX_LINES * lay.text_w))
        lines_body = self._lines_of(row) - len(row.amendments)
        chunks = _word_wrap(text, lay.text_w)
        if len(chunks) > lines_body:
            chunks = chop_cells(text, lay.text_w)  # words did not fit the counted lines
        if len(chunks) > lines_body:
            chunks = chunks[:lines_body]
            chunks[-1] = _fit(chunks[-1], lay.text_w - 1) + ELLIPSIS
        chunks += [""] * (lines_body - len(chunks))
        pad = Segment(" " * lay.prefix, base)
        strips: list[Strip] = []
        for i, chunk in enumerate(chunks):
            if i == 0:
                segs = [
                    Segment(f"#{row.id}".rjust(lay.id_w) + " ", style("id")),
                    Segment(display.printable(row.at.strftime("%H:%M:%S")) + " ", style("time")),
                    Segment(
                        _cell_pad(display.printable(row.actor), lay.actor_w) + " ", style("actor")
                    ),
                    Segment(
                        _cell_pad(KIND_LABELS.get(row.kind, row.kind), lay.kind_w) + " ",
                        style("kind"),
                    ),
                ]
            else:
                segs = [pad]
            if i == 0 and marker:
                segs.append(Segment(marker, style("amended")))
                chunk = chunk[len(marker) :]
            segs.append(Segment(chunk, body_style))
            strips.append(Strip(segs).crop_extend(0, lay.width, base))
        for amendment in row.amendments:
            note = f"↳ #{amendment.id} {display.printable(amendment.actor)}: "
            body = display.printable(_head(amendment.text.split(": ", 1)[-1], lay.text_w * 2))
            line = _fit(note + body, lay.text_w)
            segs = [pad, Segment(line, style("amendment"))]
            strips.append(Strip(segs).crop_extend(0, lay.width, base))
        return strips

    # --------------------------------------------------------------- keys

    def action_cursor(self, step: int) -> None:
        if not self.rows:
            return
        if self.cursor is None:
            self.cursor = self._row_at(self.scroll_offset.y + self.size.height - 1)
        self.cursor = max(0, min(len(self.rows) - 1, self.cursor + step))
        self._show_cursor()

    def action_page(self, direction: int) -> None:
        height = max(1, self.scrollable_content_region.height - 1)
        self.scroll_to(y=self.scroll_y + direction * height, animate=False, immediate=True)
        if self.rows:
            top = self._row_at(int(self.scroll_y))
            bottom = self._row_at(int(self.scroll_y) + height)
            self.cursor = top if direction < 0 else bottom
        self._cache.clear()
        self.refresh()

    def action_edge(self, end: int) -> None:
        if not self.rows:
            return
        self.cursor = len(self.rows) - 1 if end else 0
        self._show_cursor()
        if end:
            self.anchor()  # End means "follow new entries again"

    def _show_cursor(self) -> None:
        assert self.cursor is not None
        start = self._starts[self.cursor]
        size = self._lines_of(self.rows[self.cursor])
        height = self.scrollable_content_region.height
        if start < self.scroll_y:
            self.scroll_to(y=start, animate=False, immediate=True)
        elif start + size > self.scroll_y + height:
            self.scroll_to(y=start + size - height, animate=False, immediate=True)
        self._cache.clear()
        self.refresh()

    def action_open_entry(self) -> None:
        if self.cursor is None or not self.rows:
            return
        row = self.rows[self.cursor]
        self.post_message(self.EntryChosen(row.id, row.text))

    def on_focus(self) -> None:
        self._cache.clear()
        self.refresh()

    def on_blur(self) -> None:
        self._cache.clear()
        self.refresh()

    # -------------------------------------------------------------- tests

    def line_text(self, line: int) -> str:
        """Plain text of virtual line `line` (for tests and the benchmark)."""
        if not self.rows or line >= self._total:
            return ""
        index = self._row_at(line)
        strips = self._strips(index)
        part = line - self._starts[index]
        return strips[part].text if part < len(strips) else ""

    @property
    def total_lines(self) -> int:
        return self._total


def _word_wrap(text: str, width: int) -> list[str]:
    """Break at the last space of each line when it is not too far back."""
    lines: list[str] = []
    while cell_len(text) > width:
        head = chop_cells(text, width)[0]
        cut = head.rfind(" ")
        if cut > width // 2:
            head = head[: cut + 1]
        lines.append(head.rstrip(" "))
        text = text[len(head) :]
    return [*lines, text]


def _head(text: str, cells: int) -> str:
    """At most about `cells` cells of text, cheaply: a 10,000-character line is cut first."""
    return text if len(text) <= cells else text[: cells + 1]


def _fit(text: str, width: int) -> str:
    """Cut text to `width` cells, with an ellipsis when it was longer."""
    if cell_len(text) <= width:
        return text
    return chop_cells(text, max(1, width - 1))[0] + ELLIPSIS


def _cell_pad(text: str, width: int) -> str:
    text = _fit(text, width)
    return text + " " * (width - cell_len(text))
