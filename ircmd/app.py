"""IrcmdApp: opens the Session and shows CommandScreen on it, as its default screen.

The arrows point one way: the app builds the Session (a Textual-free bundle of
config, Store, clock, feed, presence identity and anchoring) and hands it to the
screen, which runs its own live data from there. The screen never calls back
into the app; the app only routes early keys to it and asks it to quit.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from . import collector
from .config import AnchorSettings, Config
from .models import IrcmdError
from .screens.command import HEARTBEAT, CommandScreen
from .session import Session
from .store.store import utc_now

# Textual's palette commands that write no file, the only ones a locked or read-only
# session offers: Textual's screenshot (and any writer it adds later) stays off.
FILELESS_SYSTEM_COMMANDS = frozenset({"Theme", "Quit", "Keys", "Maximize", "Minimize"})


class IrcmdApp(App[None]):
    """The command screen on one database, as one user."""

    CSS_PATH = "ircmd.tcss"
    # Textual's own Ctrl+Q quits at once; the command screen first guards unsent text.
    BINDINGS = [Binding("ctrl+q", "request_quit", "Quit", priority=True, show=False)]
    TITLE = "ircmd"

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
        self.error: str | None = None
        self.session: Session | None = None
        self.command_screen: CommandScreen | None = None

    async def on_load(self) -> None:
        """Open the session before Textual builds the first screen: the command screen
        is then the app's default screen, composed once and painted first, with no
        blank frame before it and no push."""
        try:
            self.session = await Session.open(self.cfg, self.clock, poll_interval=self._poll)
        except IrcmdError as e:
            self.error = str(e)
            self.exit(return_code=1)

    def get_default_screen(self) -> Screen[Any]:
        if self.session is None:  # the open failed and the app is ending
            return super().get_default_screen()
        self.command_screen = CommandScreen(
            self.session, open_incident=self._open_first, heartbeat=self._heartbeat
        )
        return self.command_screen

    def on_command_screen_unreadable(self, message: CommandScreen.Unreadable) -> None:
        self.error = message.error
        self.exit(return_code=1)

    def post_display_hook(self) -> None:
        if self.command_screen is not None and self.screen is self.command_screen:
            collector.resume()  # start-up is over: the command screen has painted

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
        screen = self.command_screen
        if isinstance(event, events.Key) and not event.is_forwarded and screen is not None:
            screen.route_typing(event)
        await super().on_event(event)

    async def action_request_quit(self) -> None:
        if self.command_screen is None:  # not started (or failed to open the database)
            await self.action_quit()
        else:
            await self.command_screen.action_quit()

    async def on_unmount(self) -> None:
        """Leave presence and close the database: an open aiosqlite thread keeps us alive."""
        if self.session is not None:
            await self.session.close()
            self.session = None


def run_app(cfg: Config, *, open_incident: int | None = None) -> None:
    from .terminal import install

    install()  # a paste with ESCs in it stays a paste (see terminal.py)
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
        # A throwaway record: its anchors would only clutter the real log; a SQLite
        # file, so the client names its people whatever config.toml says of identity.
        demo = replace(cfg, db=db, read_only=False, anchor=AnchorSettings(), identity="client")
        run_app(demo, open_incident=1)
