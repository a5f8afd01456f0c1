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
from collections.abc import Callable
from datetime import datetime, timedelta

from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.css.query import NoMatches

from .config import Config
from .models import ACTIVE_STATUSES, IrcmdError
from .screens.command import CommandScreen
from .screens.palette import IrcmdCommands
from .store import Store
from .store.feed import ChangeFeed
from .store.store import utc_now
from .widgets.header import IncidentHeader

HEARTBEAT = 10.0  # seconds between presence heartbeats
PRESENCE_TIMEOUT = timedelta(seconds=35)  # a session missing 3 heartbeats is gone
RETRY_FIRST, RETRY_LAST = 0.1, 2.0  # seconds between feed retries after a failed read


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
        after = await self._store.last_event_id()
        if self._poll is None:
            self._feed = ChangeFeed(self._store, after_id=after)
        else:  # tests shorten the fallback poll
            self._feed = ChangeFeed(self._store, after_id=after, poll_interval=self._poll)
        await self.push_screen(self.command_screen)
        await self.command_screen.start(await self._first_incident())
        self._watch_feed()
        self.set_interval(self._heartbeat, self.beat)

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
        run_app(replace(cfg, db=db, read_only=False), open_incident=1)
