"""IrcmdApp: owns the Store, the change feed worker and presence; shows CommandScreen.

The clock is injectable (tests freeze it): the Store stamps events with it and
the widgets read elapsed times and countdowns from it, never from datetime.now.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen

from .anchor import AutoAnchor, open_warning
from .config import AnchorSettings, Config
from .models import ACTIVE_STATUSES, IrcmdError
from .screens.command import CommandScreen
from .screens.palette import IrcmdCommands
from .store import Store
from .store.feed import ChangeFeed
from .store.store import PRESENCE_TIMEOUT, utc_now
from .widgets.header import IncidentHeader

HEARTBEAT = 10.0  # seconds between presence heartbeats
RETRY_FIRST, RETRY_LAST = 0.1, 2.0  # seconds between feed retries after a failed read
# Textual's palette commands that write no file, the only ones a locked or read-only
# session offers: Textual's screenshot (and any writer it adds later) stays off.
FILELESS_SYSTEM_COMMANDS = frozenset({"Theme", "Quit", "Keys", "Maximize", "Minimize"})


class IrcmdApp(App[None]):
    """The command screen on one database, as one user."""

    CSS_PATH = "ircmd.tcss"
    # Textual's own Ctrl+Q quits at once; the command screen first guards unsent text.
    BINDINGS = [Binding("ctrl+q", "request_quit", "Quit", priority=True, show=False)]
    TITLE = "ircmd"
    COMMANDS = App.COMMANDS | {IrcmdCommands}

    def __init__(
        self,
        cfg: Config,
        *,
        clock: Callable[[], datetime] = utc_now,
        open_incident: int | None = None,
        heartbeat: float = HEARTBEAT,
        poll_interval: float | None = None,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.clock = clock
        self._open_first = open_incident
        self._heartbeat = heartbeat
        self._poll = poll_interval
        self.session = uuid.uuid4().hex
        self.host = socket.gethostname()
        self.error: str | None = None
        self._store: Store | None = None
        self._feed: ChangeFeed | None = None
        self._anchoring: AutoAnchor | None = None
        self.command_screen = CommandScreen()

    @property
    def store(self) -> Store:
        assert self._store is not None, "the store opens on mount"
        return self._store

    @property
    def feed(self) -> ChangeFeed:
        assert self._feed is not None, "the feed starts on mount"
        return self._feed

    async def on_mount(self) -> None:
        try:
            self._store = await Store.open(
                self.cfg.db,
                read_only=self.cfg.read_only,
                clock=self.clock,
                timeout=self.cfg.timeout,
            )
        except IrcmdError as e:
            self.error = str(e)
            self.exit(return_code=1)
            return
        self._store.force_time = self.cfg.force_time
        self._store.max_text = self.cfg.max_text
        after = await self._store.last_event_id()
        try:
            warning = await open_warning(self._store, self.cfg.anchor)
        except IrcmdError as e:  # the check could not be made: that is worth a red line too
            warning = f"the newest anchor could not be checked: {e}"
        if not self.cfg.read_only and self.cfg.anchor.log is not None:
            self._anchoring = AutoAnchor(self._store, self.cfg.anchor, self.clock, last_id=after)
        if self._poll is None:
            self._feed = ChangeFeed(self._store, after_id=after)
        else:  # tests shorten the fallback poll
            self._feed = ChangeFeed(self._store, after_id=after, poll_interval=self._poll)
        await self.push_screen(self.command_screen)
        self.command_screen.query_one(IncidentHeader).warn(warning)
        await self.command_screen.start(await self._first_incident())
        self._watch_feed()
        self.set_interval(self._heartbeat, self.beat)
        if self._anchoring is not None:  # the minutes are the clock's; this only looks
            self.set_interval(self._heartbeat, self.anchor_if_due)

    async def _first_incident(self) -> int | None:
        """The incident asked for, else the active one with the latest activity."""
        if self._open_first is not None:
            return self._open_first
        active = [i for i in await self.store.list_incidents() if i.status in ACTIVE_STATUSES]
        latest = max(active, key=lambda i: (i.last_event_id, i.id), default=None)
        return latest.id if latest else None

    @work(exclusive=True, group="feed")
    async def _watch_feed(self) -> None:
        """Every process's new events, applied incrementally to the screen.

        A failed read (the file locked through another process's recovery, a full
        disk, a vanished mount) pauses live updates, says so once, and retries with
        backoff; the feed keeps its place, so nothing committed meanwhile is missed."""
        pause = RETRY_FIRST
        failing = False
        while not self.feed.stopped:
            try:
                async for batch in self.feed:
                    if failing:
                        failing, pause = False, RETRY_FIRST
                        self.notify("live updates resumed", markup=False)
                    await self.command_screen.apply(batch)
                    if batch:
                        self.anchor_if_due(batch[-1].id)
                return
            except NoMatches:
                return  # the screen was torn down while a batch was being read: exiting
            except IrcmdError as e:
                if not failing:
                    failing = True
                    title = "live updates paused, retrying"
                    self.notify(str(e), title=title, severity="error", markup=False)
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_LAST)

    @property
    def writes_files(self) -> bool:
        """A locked session (a stranger to the host account) and a read-only one
        write no file on the host: no screenshot, no download."""
        return not (self.cfg.user_locked or self.cfg.read_only)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if self.writes_files or command.title in FILELESS_SYSTEM_COMMANDS:
                yield command

    def _no_files(self) -> bool:
        """True (and says so) when this session may not write a file."""
        if not self.writes_files:
            self.notify("this session writes no files (screenshots are off)", markup=False)
        return not self.writes_files

    def save_screenshot(self, *args: Any, **kwargs: Any) -> str:
        return "" if self._no_files() else super().save_screenshot(*args, **kwargs)

    def deliver_text(self, *args: Any, **kwargs: Any) -> str | None:
        return None if self._no_files() else super().deliver_text(*args, **kwargs)

    def deliver_binary(self, *args: Any, **kwargs: Any) -> str | None:
        return None if self._no_files() else super().deliver_binary(*args, **kwargs)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded and self._feed is not None:
            self.command_screen.route_typing(event)
        await super().on_event(event)

    async def action_request_quit(self) -> None:
        if self._feed is None:  # not started (or failed to open the database)
            await self.action_quit()
        else:
            await self.command_screen.action_quit()

    @work(exclusive=True, group="presence")
    async def beat(self) -> None:
        """Say which incident this session shows; read who else is watching."""
        store = self._store
        if store is None:
            return
        screen = self.command_screen
        try:
            await store.heartbeat(self.session, screen.current, self.cfg.user, self.host)
            watchers = await store.watchers(PRESENCE_TIMEOUT)
        except IrcmdError:
            return  # presence is a courtesy; a busy database must not break the screen
        with contextlib.suppress(NoMatches):  # the app may be closing meanwhile
            screen.query_one(IncidentHeader).show_watchers(watchers, self.cfg.user)

    @work(exclusive=False, group="anchor")
    async def anchor_if_due(self, newest_id: int | None = None) -> None:
        """Anchor the record every N events (after a feed batch) and every M minutes of
        the clock (looked at every heartbeat period). When the record no longer matches its
        newest anchor, nothing is anchored and the header says so in red."""
        anchoring = self._anchoring
        if anchoring is None:
            return
        try:
            await anchoring.tick(newest_id)
        except IrcmdError as e:
            with contextlib.suppress(NoMatches):
                self.command_screen.query_one(IncidentHeader).warn(str(e))

    async def on_unmount(self) -> None:
        """Leave presence and close the database: an open aiosqlite thread keeps us alive."""
        if self._feed is not None:
            self._feed.stop()
        if self._store is not None:
            with contextlib.suppress(IrcmdError):
                await self._store.leave(self.session)
            await self._store.close()
            self._store = None


def run_app(cfg: Config, *, open_incident: int | None = None) -> None:
    app = IrcmdApp(cfg, open_incident=open_incident)
    app.run()
    if app.error:
        print(f"ircmd: error: {app.error}", file=sys.stderr)
        sys.exit(1)


def run_demo(cfg: Config) -> None:
    """The screen on a throwaway database holding a sample incident."""
    import asyncio
    import tempfile
    from dataclasses import replace
    from pathlib import Path

    from .demo import build_demo

    with tempfile.TemporaryDirectory(prefix="ircmd-demo-") as tmp:
        db = Path(tmp) / "demo.db"
        asyncio.run(build_demo(db, cfg.user, playbook_dirs=cfg.playbook_dirs))
        # A throwaway record: its anchors would only clutter the real log.
        run_app(replace(cfg, db=db, read_only=False, anchor=AnchorSettings()), open_incident=1)
