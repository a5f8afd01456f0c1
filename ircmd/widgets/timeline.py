"""The timeline: every event of the current incident, newest at the bottom.

A line-API widget (ScrollView + render_line) because an incident can hold
100,000 events: rows are small slotted objects built from events, and strips
are rendered only for the lines on screen (and cached). Long entries wrap at
spaces (a word wider than the text column is broken hard), measured in terminal
cells, to at most MAX_LINES lines and end in an ellipsis; Enter shows the whole
entry. An amendment is shown in its place in time and also under the entry it
corrects, which carries a marker, so nobody reads a corrected entry without its fix.

Deliveries are folded onto what they delivered: a `delivery` event gets no line of
its own; the delivered entry gets one muted line under its text, `→ ops ✓  email ✗
550 mailbox unavailable`, each hook's latest state (`set_deliveries`, from the
outbox, read once per feed batch by the screen, never per line). A line of its own
rather than words appended to the entry's text: the text is wrapped and cut to
MAX_LINES with an ellipsis, which would cut the outcomes off a long update (most
are), and a row's line count stays its text's plus one, so an outcome arriving
re-renders one row and never re-wraps it.

Times are UTC. A row whose day differs from the row above (the first row: from
the injected clock's today) shows its date too, `11-22 23:59:00`, with the year
when that differs as well; the time column is as wide as the widest stamp it
holds, so the columns stay aligned. Which rows show a date is worked out when
rows are added or laid out, never per line drawn.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from operator import attrgetter

from rich.cells import cell_len, chop_cells, split_graphemes
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from .. import display, view
from ..models import Event, Kind

MAX_LINES = 6
ELLIPSIS = "…"
KIND_LABELS = {
    Kind.ITEM_ADD.value: "step",
    Kind.ACTION_ADD.value: "action",
    Kind.ACTION_SET.value: "action",
    Kind.ACTION_LINK.value: "action",
    Kind.EVIDENCE_ADD.value: "evidence",
    Kind.EVIDENCE_TRANSFER.value: "custody",
    Kind.EVIDENCE_AMEND.value: "evidence",
}
# Kinds whose text stands out, and the component class it takes.
_BODY_STYLES = {
    Kind.DECISION.value: "decision",
    Kind.AMEND.value: "amendment",
    Kind.ALERT.value: "alert",
}
AMENDED = "✎ "
DELIVERED = "→ "  # before a delivered entry's outcomes
# After the time of an entry recorded more than LATE after it happened.
LATE, LATE_MARK = timedelta(minutes=2), "↶"
# What a row shows of its time stamp (Row.dated), and the cells that takes.
TIME, DAY, YEAR = 0, 1, 2
STAMP_FORMATS = ("%H:%M:%S", "%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S")
STAMP_WIDTHS = (8, 14, 19)


class Row:
    """One event as the timeline needs it; the Event itself is not kept (memory)."""

    __slots__ = (
        "actor",
        "amendments",
        "amends",
        "at",
        "cells",
        "dated",
        "delivered",
        "id",
        "kind",
        "late",
        "recorded",
        "text",
        "wrap_n",
        "wrap_w",
    )

    def __init__(self, ev: Event) -> None:
        self.id = ev.id
        self.at: datetime = ev.occurred_at.astimezone(UTC)
        self.recorded: datetime = ev.recorded_at.astimezone(UTC)
        # Back-dated: written well after it happened (`/at`, `--at`, a pasted log).
        self.late = self.recorded - self.at > LATE
        self.amends: int | None = ev.data.get("amends") if ev.kind is Kind.AMEND else None
        self.actor = ev.actor
        self.kind = ev.kind.value
        self.text = display.describe(ev)
        self.cells = _shown_cells(self.text)  # as displayed (printable), in cells
        self.dated = TIME  # set by the layout: TIME, DAY or YEAR
        self.amendments: list[Row] = []
        #: Each hook's delivery of this entry, as (text, tone) (`view.delivery_mark`).
        self.delivered: tuple[tuple[str, str], ...] = ()
        self.wrap_w = 0  # the text width wrap_n was counted for (0: not counted)
        self.wrap_n = 1  # lines of text (amendments not included) at wrap_w


@dataclass(frozen=True)
class Layout:
    """Column widths for one text width: narrow screens get shorter columns."""

    width: int
    id_w: int
    actor_w: int
    kind_w: int
    time_w: int = STAMP_WIDTHS[TIME]

    @property
    def prefix(self) -> int:
        return self.id_w + 1 + self.time_w + 1 + self.actor_w + 1 + self.kind_w + 1

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
        "timeline--late",
        "timeline--actor",
        "timeline--kind",
        "timeline--decision",
        "timeline--alert",
        "timeline--amended",
        "timeline--amendment",
        "timeline--delivery",
        "timeline--delivery-sent",
        "timeline--delivery-failing",
        "timeline--cursor",
        "timeline--empty",
    }

    class EntryChosen(Message):
        """Enter on a row: the screen shows the entry in full."""

        def __init__(self, event_id: int, text: str, heading: str = "") -> None:
            super().__init__()
            self.event_id = event_id
            self.text = text
            self.heading = heading  # when, who, what kind: the title of the full view

    def __init__(
        self, *, clock: Callable[[], datetime] | None = None, id: str | None = None
    ) -> None:
        """`clock` gives "today" for the first row's date; none: every first row is dated."""
        super().__init__(id=id)
        self.rows: list[Row] = []
        self._by_id: dict[int, Row] = {}
        self._orphans: dict[int, list[Row]] = {}  # amendments of rows not loaded yet
        self._delivered: dict[int, tuple[tuple[str, str], ...]] = {}  # by event id
        self._starts: list[int] = []  # first virtual line of each row
        self._total = 0
        self._clock = clock
        self._dated = TIME  # the widest stamp any row shows
        self._layout = Layout(80, 5, 8, 8)
        self._cache: LRUCache[tuple[int, int, int, bool], list[Strip]] = LRUCache(1024)
        self.cursor: int | None = None  # row index
        self.empty_text = "No incident open. /declare SEV2 title, or /open INC-n."

    # ------------------------------------------------------------- content

    def clear(self) -> None:
        self.rows = []
        self._by_id = {}
        self._orphans = {}
        self._delivered = {}
        self.cursor = None
        self._relayout(force=True)
        self.anchor()

    def append(self, events: Iterable[Event]) -> None:
        """New events at the bottom; keeps following only if the view was at the bottom."""
        touched = False
        fresh: list[Row] = []
        for ev in events:
            if ev.id in self._by_id or ev.kind is Kind.DELIVERY:  # folded: set_deliveries
                continue
            row = Row(ev)
            fresh.append(row)
            touched |= self._link(row)
        if not fresh:
            return
        top = self._top()
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
        elif top is not None:
            self._restore(top)  # rows above may have grown (a marker, a wider column)
        self.refresh()

    def insert_older(self, rows: list[Row]) -> None:
        """Older rows loaded late, above what is shown; the view keeps its place.
        Deliveries fold, as in `append`."""
        fresh = [r for r in rows if r.id not in self._by_id and r.kind != Kind.DELIVERY]
        if not fresh:
            return
        before = self._total
        top = self._top()
        for row in fresh:
            self._link(row)
        self.rows[:0] = fresh
        if self.cursor is not None:
            self.cursor += len(fresh)
        self._relayout(force=True)  # also decides the date of the row below the junction
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        elif top is None or not self._restore(top):
            self.scroll_to(y=self.scroll_y + self._total - before, animate=False, immediate=True)

    @property
    def following(self) -> bool:
        """Anchored to the bottom: true until the user scrolls back, again at the end."""
        return not self._anchor_released

    def on_mount(self) -> None:
        self.anchor()

    def _top(self) -> tuple[int, int] | None:
        """The row at the top of a scrolled-back view and the line of it shown there."""
        if self.following or not self.rows or not self._starts:
            return None
        line = int(self.scroll_y)
        index = self._row_at(line)
        return self.rows[index].id, line - self._starts[index]

    def _restore(self, top: tuple[int, int]) -> bool:
        """Scroll so that the row `_top` gave is at the top again; False if it is gone."""
        row_id, part = top
        index = bisect_left(self.rows, row_id, key=attrgetter("id"))
        if index >= len(self.rows) or self.rows[index].id != row_id:
            return False
        y = self._starts[index] + min(part, self._lines_of(self.rows[index]) - 1)
        if y != self.scroll_y:
            self.scroll_to(y=y, animate=False, immediate=True)
        return True

    def _link(self, row: Row) -> bool:
        """Index the row and attach amendments both ways; True if an earlier row changed."""
        self._by_id[row.id] = row
        row.delivered = self._delivered.get(row.id, ())
        row.amendments.extend(self._orphans.pop(row.id, ()))
        target = row.amends
        if target is None:
            return False
        if target in self._by_id:
            self._by_id[target].amendments.append(row)
            self._by_id[target].wrap_w = 0  # it gains a marker: count its lines again
            self._cache.clear()
            return True
        self._orphans.setdefault(target, []).append(row)
        return False

    # -------------------------------------------------------------- layout

    def _layout_for(self, width: int) -> Layout:
        last = self.rows[-1].id if self.rows else 1
        id_w = len(str(last)) + 1
        wide = width >= 120
        return Layout(width, id_w, 12 if wide else 8, 8, STAMP_WIDTHS[self._dated])

    def _today(self) -> date | None:
        """The clock's UTC date, else None (no clock given)."""
        if self._clock is None:
            return None
        return self._clock().astimezone(UTC).date()

    def _lines_of(self, row: Row) -> int:
        """The row's lines: its text, its amendments, its delivery line. One call per
        row on a relayout of 100,000 rows: kept flat."""
        text_w = self._layout.text_w
        delivered = 1 if row.delivered else 0
        if not row.amendments:
            if row.cells <= text_w:
                return 1 + delivered
            if row.wrap_w != text_w:
                row.wrap_w, row.wrap_n = text_w, _count_lines(row.text, text_w)
            return row.wrap_n + delivered
        if row.wrap_w != text_w:
            row.wrap_w = text_w
            if row.cells + len(AMENDED) <= text_w:
                row.wrap_n = 1
            else:
                row.wrap_n = len(_body_lines(row.text, AMENDED, text_w))
        return row.wrap_n + len(row.amendments) + delivered

    def _relayout(self, *, force: bool = False) -> None:
        width = self.scrollable_content_region.width or self.size.width or 80
        if force:
            today = self._today()
            self._dated = _mark_dates(self.rows, today, today)
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
        today = self._today()
        above = self.rows[-len(fresh) - 1].at.date() if len(self.rows) > len(fresh) else today
        self._dated = max(self._dated, _mark_dates(fresh, above, today))
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
        key = (row.id, self._layout.width, row.dated, cursor)
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
        component = _BODY_STYLES.get(row.kind)
        body_style = style(component) if component else base
        chunks = _body_lines(row.text, marker, lay.text_w)
        stamp = row.at.strftime(STAMP_FORMATS[row.dated]).rjust(lay.time_w)
        pad = Segment(" " * lay.prefix, base)
        strips: list[Strip] = []
        for i, chunk in enumerate(chunks):
            if i == 0:
                segs = [
                    Segment(f"#{row.id}".rjust(lay.id_w) + " ", style("id")),
                    Segment(stamp, style("late" if row.late else "time")),
                    Segment(LATE_MARK if row.late else " ", style("late" if row.late else "time")),
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
        if row.delivered:
            strips.append(self._delivery_strip(row, pad, style))
        return strips

    def _delivery_strip(self, row: Row, pad: Segment, style: Callable[[str], Style]) -> Strip:
        """`→ ops ✓  email ✗ 550 ...` in the text column. Marks too long together are
        each cut to a fair share, so a long reason of the first hook never hides how
        the others fared; what still overflows is cut with an ellipsis."""
        width = self._layout.width
        tones = {view.SENT: style("delivery-sent"), view.FAILING: style("delivery-failing")}
        muted = style("delivery")
        segs = [pad, Segment(DELIVERED, muted)]
        room = width - pad.cell_length - len(DELIVERED) - 2 * (len(row.delivered) - 1)
        marks = [text for text, _ in row.delivered]
        for i, (text, (_, tone)) in enumerate(
            zip(_shared(marks, room), row.delivered, strict=True)
        ):
            if i:
                segs.append(Segment("  ", muted))
            segs.append(Segment(text, tones.get(tone, muted)))
        strip = Strip(segs)
        if strip.cell_length > width:
            strip = Strip([*strip.crop(0, width - 1), Segment(ELLIPSIS, muted)])
        return strip.crop_extend(0, width, pad.style)

    def set_deliveries(self, delivered: dict[int, tuple[tuple[str, str], ...]]) -> None:
        """Each delivered entry's deliveries (`view.deliveries_by_event`), as they stand
        now: the rows whose marks changed are drawn again, and the lines below a row
        that gained or lost its delivery line move; nothing else is touched."""
        old, self._delivered = self._delivered, delivered
        changed = [k for k in old.keys() | delivered.keys() if old.get(k) != delivered.get(k)]
        if not changed:
            return
        first: int | None = None  # the first row whose line count changed
        for event_id in changed:
            row = self._by_id.get(event_id)
            if row is None:
                continue
            had = bool(row.delivered)
            row.delivered = delivered.get(event_id, ())
            if had != bool(row.delivered):
                index = bisect_left(self.rows, event_id, key=attrgetter("id"))
                first = index if first is None else min(first, index)
        self._cache.clear()
        if first is not None and len(self._starts) == len(self.rows):
            top = self._top()
            total = self._starts[first]
            for i in range(first, len(self.rows)):
                self._starts[i] = total
                total += self._lines_of(self.rows[i])
            self._total = total
            self.virtual_size = Size(self.virtual_size.width, total)
            if self.following:
                self.scroll_end(animate=False, immediate=True, x_axis=False)
            elif top is not None:
                self._restore(top)
        self.refresh()

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
        heading = f"#{row.id} {display.stamp(row.at)} UTC  {row.actor}  {row.kind}"
        if row.late:
            heading += f"  (recorded {display.stamp(row.recorded)} UTC)"
        text = row.text
        if row.delivered:
            text += "\n\ndelivered:\n" + "\n".join(f"{DELIVERED}{t}" for t, _ in row.delivered)
        self.post_message(self.EntryChosen(row.id, text, heading))

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


def _mark_dates(rows: Iterable[Row], above: date | None, today: date | None) -> int:
    """Set each row's `dated`: TIME on the day of the row above (`above` for the
    first), else DAY, or YEAR when the year differs from that row's or today's
    (always with no day to compare, so a lone first row with no clock shows it).
    Returns the widest stamp set."""
    widest = TIME
    year = today.year if today is not None else None
    for row in rows:
        day = row.at.date()
        if day == above:
            dated = TIME
        elif above is None or day.year != above.year or (year is not None and day.year != year):
            dated = YEAR
        else:
            dated = DAY
        row.dated = dated
        if dated > widest:
            widest = dated
        above = day
    return widest


def _shown_cells(text: str) -> int:
    """Cells `text` takes once made printable (cheap for plain ASCII)."""
    if text.isascii() and text.isprintable():
        return len(text)
    return cell_len(display.printable(text))


def _body_lines(text: str, marker: str, width: int) -> list[str]:
    """An entry's text as shown: `marker` + text wrapped to `width` cells, at most
    MAX_LINES lines, the last ending in an ellipsis when there was more.

    Rendering and line counting both use this, so a row always gets the lines it
    was counted for. Only the head of a long text is looked at (what MAX_LINES
    lines can show), so a 10,000-character line costs no more than a short one."""
    limit = (MAX_LINES + 2) * width
    cut = len(text) > limit
    if cut:
        text = text[:limit]
    if not (text.isascii() and text.isprintable()):
        text = display.printable(text)
    lines = list(islice(_wrap(marker + text, width), MAX_LINES + 1))
    if not lines:
        return [""]
    if len(lines) > MAX_LINES or cut:
        lines = lines[:MAX_LINES]
        last = lines[-1]
        if cell_len(last) > width - 1:
            last = chop_cells(last, width - 1)[0]
        lines[-1] = last + ELLIPSIS
    return lines


def _head(text: str, cells: int) -> str:
    """At most about `cells` cells of text, cheaply: a 10,000-character line is cut first."""
    return text if len(text) <= cells else text[: cells + 1]


def _count_lines(text: str, width: int) -> int:
    """len(_body_lines(text, "", width)), without building the lines for plain ASCII."""
    limit = (MAX_LINES + 2) * width
    if len(text) > limit:
        text = text[:limit]
    if not (text.isascii() and text.isprintable()):
        return len(_body_lines(text, "", width))
    end_of_text = len(text)
    start = 0
    content = _after_spaces(text, 0)
    lines = 0
    while start < end_of_text and lines < MAX_LINES:  # as _wrap_ascii, counting only
        lines += 1
        end = start + width
        if end >= end_of_text:
            break
        if text[end] == " ":
            start = end
        else:
            space = text.rfind(" ", content, end)
            start = space + 1 if space > content else end
        start = content = _after_spaces(text, start)
    return max(1, lines)


_SPACES = re.compile(" *")


def _after_spaces(text: str, index: int) -> int:
    """The index of the first non-space at or after `index` (or the end)."""
    match = _SPACES.match(text, index)
    return match.end() if match else index


def _wrap(text: str, width: int) -> Iterator[str]:
    """Lines of at most `width` cells, broken at spaces (the spaces at a break are
    dropped); a word wider than `width` is broken hard. Lazy: the caller takes as
    many lines as it shows. Wide (CJK, emoji) characters count two cells and a
    grapheme (👩‍💻, e + combining accent) is never split."""
    if text.isascii():
        yield from _wrap_ascii(text, width)
    else:
        yield from _wrap_cells(text, width)


def _wrap_ascii(text: str, width: int) -> Iterator[str]:
    """`_wrap` for printable ASCII, one cell per character: str.rfind does the work."""
    end_of_text = len(text)
    start = 0
    content = _after_spaces(text, 0)  # leading spaces of the first line are kept
    while start < end_of_text:
        end = start + width
        if end >= end_of_text:
            yield text[start:].rstrip(" ")
            return
        if text[end] == " ":  # the line is full up to a space
            yield text[start:end].rstrip(" ")
            start = end
        else:
            space = text.rfind(" ", content, end)
            if space > content:
                yield text[start:space].rstrip(" ")
                start = space + 1
            else:  # one word wider than the line
                yield text[start:end]
                start = end
        start = content = _after_spaces(text, start)


def _wrap_cells(text: str, width: int) -> Iterator[str]:
    """`_wrap` for any text, by grapheme and cell width."""
    spans, _ = split_graphemes(text)
    start: int | None = 0  # where the current line starts; None: skipping spaces
    used = 0  # cells on the current line
    seen = False  # the current line has something other than spaces
    space = -1  # the last space after something on the current line: a break point
    after = 0  # cells since that space
    for begin, end, cells in spans:
        is_space = end - begin == 1 and text[begin] == " "
        if start is None:
            if is_space:
                continue
            start, used, seen, space = begin, 0, False, -1
        if is_space:
            if used + 1 > width:  # the line is full up to this space
                yield text[start:begin].rstrip(" ")
                start = None
                continue
            if seen:
                space, after = begin, 0
            used += 1
            continue
        if used + cells > width:
            if space >= 0:
                yield text[start:space].rstrip(" ")
                start, used, space = space + 1, after, -1
            if used + cells > width:  # one word wider than the line
                yield text[start:begin]
                start, used, space = begin, 0, -1
        used += cells
        after += cells
        seen = True
    if start is not None and start < len(text):
        yield text[start:].rstrip(" ")


def _shared(texts: list[str], room: int) -> list[str]:
    """`texts` cut (`_fit`) so that together they take at most `room` cells: short
    ones whole, the room left split evenly among the longer ones."""
    fits = list(texts)
    left = len(texts)
    for i in sorted(range(len(texts)), key=lambda i: cell_len(texts[i])):
        share = max(1, room // left)
        fits[i] = _fit(texts[i], share)
        room -= cell_len(fits[i])
        left -= 1
    return fits


def _fit(text: str, width: int) -> str:
    """Cut text to `width` cells, with an ellipsis when it was longer."""
    if cell_len(text) <= width:
        return text
    return chop_cells(text, max(1, width - 1))[0] + ELLIPSIS


def _cell_pad(text: str, width: int) -> str:
    text = _fit(text, width)
    return text + " " * (width - cell_len(text))
