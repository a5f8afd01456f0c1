"""The process tabs: a one-line strip of titles over panes of which one shows.

Textual's TabbedContent gives each title a widget and wraps them in five more (a
scroll, a bar, an underline, a switcher, a pane per tab): fifteen widgets for what
the screen draws as one line and one pane. Mounting and styling those took a sixth
of the screen's time to its first frame. Here the strip is one widget that draws
its line itself, and the panes are the tabs' own children, shown one at a time; the
hidden ones are mounted after the first frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget


class TabStrip(Widget):
    """The titles on one line, the active one marked; a click shows a title's tab.

    When the line is wider than the strip it scrolls to keep the active title in view."""

    COMPONENT_CLASSES = {"tab-strip--tab", "tab-strip--active"}

    active: reactive[str] = reactive("", layout=False)
    spaced: reactive[bool] = reactive(False, layout=False)  # a space after each title too

    class Clicked(Message):
        """A title was clicked."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(
        self, titles: Sequence[tuple[str, str]], *, active: str, spaced: bool = False
    ) -> None:
        super().__init__()
        self.titles = tuple(titles)  # (name, title)
        self.set_reactive(TabStrip.active, active)
        self.set_reactive(TabStrip.spaced, spaced)
        self._cells: list[tuple[int, int, str]] = []  # (start, end, name) as last drawn

    def render(self) -> Content:
        tab = self.get_visual_style("tab-strip--tab")
        marked = self.get_visual_style("tab-strip--active")
        after = " " if self.spaced else ""
        parts: list[tuple[str, object]] = []
        cells: list[tuple[int, int, str]] = []
        x = 0
        for name, title in self.titles:
            text = f" {title}{after}"
            parts.append((text, marked if name == self.active else tab))
            cells.append((x, x + len(text), name))
            x += len(text)
        line = Content.assemble(*parts)  # type: ignore[arg-type]
        shift = self._shift(cells, self.size.width)
        self._cells = [(start - shift, end - shift, name) for start, end, name in cells]
        return line[shift:] if shift else line

    def _shift(self, cells: list[tuple[int, int, str]], width: int) -> int:
        """How many cells to scroll the line by so that the active title shows whole."""
        for start, end, name in cells:
            if name == self.active and width > 0 and end > width:
                return min(start, end - width)
        return 0

    def on_click(self, event: events.Click) -> None:
        for start, end, name in self._cells:
            if start <= event.x < end:
                self.post_message(self.Clicked(name))
                return


class ProcessTabs(Vertical):
    """The strip and the panes, keyed by name; `show(name)` switches and says so.

    Only the active pane is mounted with the strip: the others, hidden until their
    tab is shown, are mounted by `mount_hidden` once the screen has painted (or by
    `show`, if it comes first)."""

    class Shown(Message):
        """A tab was shown (by a key, a click or a command)."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(
        self,
        panes: Mapping[str, Widget],
        *,
        titles: Sequence[tuple[str, str]],
        active: str,
        spaced: bool = False,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.panes = dict(panes)
        self.strip = TabStrip(titles, active=active, spaced=spaced)
        self._active = active
        for name, pane in self.panes.items():
            pane.add_class("tab-pane")
            pane.display = name == active

    def compose(self) -> ComposeResult:
        yield self.strip
        yield self.panes[self._active]

    @property
    def active(self) -> str:
        """The name of the tab shown."""
        return self._active

    async def mount_hidden(self) -> None:
        """Mount the panes not mounted yet (hidden: no layout, no paint)."""
        waiting = [pane for pane in self.panes.values() if not pane.is_attached]
        if waiting:
            await self.mount_all(waiting)

    async def show(self, name: str) -> None:
        """Show tab `name` (an unknown name is a KeyError: names come from code);
        its pane is mounted when this returns."""
        pane = self.panes[name]
        if name == self._active:
            return
        if not pane.is_attached:
            await self.mount(pane)
        self.panes[self._active].display = False
        pane.display = True
        self._active = name
        self.strip.active = name
        self.post_message(self.Shown(name))

    async def on_tab_strip_clicked(self, message: TabStrip.Clicked) -> None:
        message.stop()
        await self.show(message.name)
