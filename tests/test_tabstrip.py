"""The process tabs' strip on its own: the line it draws, clicks, scrolling to the
active title when the line is too wide, and the one pane shown."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Static

from ircmd.widgets.tabstrip import ProcessTabs, TabStrip

TITLES = [("one", "One"), ("two", "Two"), ("three", "Three")]


class Host(App[None]):
    CSS = "TabStrip { height: 1; } #tabs > .tab-pane { height: 1fr; }"

    def __init__(self, *, spaced: bool = False) -> None:
        super().__init__()
        self.spaced = spaced
        self.shown: list[str] = []

    def compose(self) -> ComposeResult:
        yield ProcessTabs(
            {name: Static(f"pane {name}", id=name) for name, _ in TITLES},
            titles=TITLES,
            active="one",
            spaced=self.spaced,
            id="tabs",
        )

    def on_process_tabs_shown(self, message: ProcessTabs.Shown) -> None:
        self.shown.append(message.name)


def line(app: Host) -> str:
    return str(app.query_one(TabStrip).render())


async def test_the_strip_draws_every_title_on_one_line_and_shows_one_pane() -> None:
    app = Host()
    async with app.run_test(size=(40, 6)) as pilot:
        await pilot.pause()
        assert line(app) == " One Two Three"
        panes = app.query_one(ProcessTabs).panes
        assert [name for name, pane in panes.items() if pane.display] == ["one"]
        assert all(pane.has_class("tab-pane") for pane in panes.values())
        # Only the shown pane is mounted with the strip; the hidden ones on request.
        assert [name for name, pane in panes.items() if pane.is_attached] == ["one"]
        await app.query_one(ProcessTabs).mount_hidden()
        assert all(pane.is_attached for pane in panes.values())
        assert [name for name, pane in panes.items() if pane.display] == ["one"]
        assert str(app.query_one("#three", Static).render()) == "pane three"


async def test_spaced_titles_take_a_space_after_each() -> None:
    app = Host(spaced=True)
    async with app.run_test(size=(40, 6)) as pilot:
        await pilot.pause()
        assert line(app) == " One  Two  Three "
        app.query_one(TabStrip).spaced = False
        await pilot.pause()
        assert line(app) == " One Two Three"


async def test_a_click_on_a_title_shows_its_pane_and_says_so_once() -> None:
    app = Host()
    async with app.run_test(size=(40, 6)) as pilot:
        await pilot.pause()
        tabs = app.query_one(ProcessTabs)
        assert await pilot.click(TabStrip, offset=(6, 0))  # " One Two": x=5..8 is " Two"
        await pilot.pause()
        assert tabs.active == "two" and app.shown == ["two"]
        assert [name for name, pane in tabs.panes.items() if pane.display] == ["two"]
        assert await pilot.click(TabStrip, offset=(6, 0))  # the shown tab again: no message
        assert await pilot.click(TabStrip, offset=(30, 0))  # past the last title: nothing
        await pilot.pause()
        assert app.shown == ["two"]
        await tabs.show("three")  # not mounted yet: show mounts it first
        await pilot.pause()
        assert tabs.active == "three" and app.shown == ["two", "three"]
        assert tabs.strip.active == "three"


async def test_a_narrow_strip_scrolls_to_keep_the_active_title_whole() -> None:
    app = Host()
    async with app.run_test(size=(10, 6)) as pilot:
        await pilot.pause()
        assert line(app) == " One Two Three"  # the active title fits: no scroll
        await app.query_one(ProcessTabs).show("three")
        await pilot.pause()
        shown = line(app)
        assert shown.endswith(" Three") and len(shown) <= 10
        assert await pilot.click(TabStrip, offset=(shown.index("Two"), 0))
        await pilot.pause()
        assert app.query_one(ProcessTabs).active == "two"
