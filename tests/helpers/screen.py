"""The command screen under Pilot: a frozen clock, seeded databases, the app on a
database (`running`, the one place a test builds and starts it), and the waits and
keystrokes the screen tests share."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from textual.events import Key
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Checkbox, Input, Select, TextArea

from ircmd.app import IrcmdApp
from ircmd.config import Config
from ircmd.demo import build_demo
from ircmd.models import Event, IncidentState, Severity
from ircmd.screens.command import CommandScreen
from ircmd.screens.forms import FormScreen
from ircmd.store import Store
from ircmd.store.postgres import POSTGRESQL, is_url
from ircmd.widgets.entry_bar import EntryBar

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

S = TypeVar("S", bound=Screen[Any])


def frozen() -> datetime:
    return NOW


CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(Config))


def make_app(db: Path | str, user: str = "alice", **kw: Any) -> IrcmdApp:
    """The app on `db` as `user` with the clock frozen at NOW (`clock=` for another).
    Keywords naming a Config field (read_only, timeout, anchor, force_time, ...) go
    to Config; the rest (open_incident, poll_interval, ...) to IrcmdApp."""
    clock = kw.pop("clock", frozen)
    cfg = Config(db=db, user=user, **{k: kw.pop(k) for k in list(kw) if k in CONFIG_FIELDS})
    return IrcmdApp(cfg, clock=clock, **kw)


@asynccontextmanager
async def running(
    db: Path | str, user: str = "alice", *, size: tuple[int, int] = (100, 30), **kw: Any
) -> AsyncIterator[Pilot[None]]:
    """`make_app(db, user, **kw)` running headless at `size`; its pilot (`pilot.app`
    is the app). The one place a screen test builds and starts the app."""
    app = make_app(db, user, **kw)
    async with app.run_test(size=size) as pilot:
        yield pilot


def record_at(where: Path | str) -> Path | str:
    """A test's database: `db_ref` as it is (a PostgreSQL URL, or a SQLite file that
    does not exist yet), or ircmd.db in the directory `where`."""
    if isinstance(where, str) or where.suffix == ".db":
        return where
    return where / "ircmd.db"


async def seeded(where: Path | str, user: str = "alice") -> Any:
    """The demo record (three incidents, `user` commands INC-1) at the frozen time, at
    `record_at(where)`; returned as the database to open."""
    db = record_at(where)
    await build_demo(db, user, now=NOW)
    return db


def fast_path_only(db: Path | str) -> float:
    """A screen's poll interval for a live test on `db`: short on SQLite, as the
    screen tests have it; on PostgreSQL an hour, so that NOTIFY alone delivers."""
    return 0.05 if isinstance(db, Path) else 3600.0


async def declared(where: Path | str, title: str = "Checkout down") -> Any:
    """One fresh SEV2 incident declared by alice, nobody assigned (`record_at(where)`)."""
    db = record_at(where)
    async with await Store.open(db, clock=frozen) as store:
        await store.declare(
            title,
            actor="alice",
            severity=Severity.SEV2,
            at=NOW - timedelta(minutes=5),
            commander="",
        )
    return db


async def until(pilot: Pilot[None], cond: Callable[[], bool], timeout: float = 30.0) -> None:
    """Let the app run until `cond()` holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.02)


@asynccontextmanager
async def write_lock_held(db: Path | str) -> AsyncIterator[None]:
    """Another writer's lock on `db`, taken and held on a thread of its own: the event
    loop never blocks on it, so the app's own transactions (the start-up heartbeat)
    finish or wait as they would against another process. Released on exit."""
    held, release = threading.Event(), threading.Event()
    failed: list[BaseException] = []

    def hold() -> None:
        conn: Any
        if is_url(db):  # the advisory lock every PostgreSQL write transaction takes
            import psycopg

            conn = psycopg.connect(str(db), autocommit=True)
            begin = POSTGRESQL.begin_write
        else:
            conn = sqlite3.connect(db, isolation_level=None, timeout=60, check_same_thread=False)
            begin = "BEGIN IMMEDIATE"
        try:
            conn.execute(begin)
            held.set()
            release.wait(120)
            conn.execute("COMMIT")
        except BaseException as e:  # surfaced on the test's side
            failed.append(e)
        finally:
            held.set()
            conn.close()

    thread = threading.Thread(target=hold, name="write-lock", daemon=True)
    thread.start()
    assert await asyncio.to_thread(held.wait, 60), "the write lock was never taken"
    assert not failed, failed
    try:
        yield
    finally:
        release.set()
        await asyncio.to_thread(thread.join, 60)
    assert not failed, failed


async def dialog(
    pilot: Pilot[None],
    kind: type[S],
    *,
    focused: str | None = None,
    after: Screen[Any] | None = None,
) -> S:
    """The app's screen once it is a `kind` that has composed and mounted, not merely
    been pushed (a `kind` on the stack is not yet one to read or type into); not
    `after`, the screen it replaces when that is a `kind` too; and, with `focused`
    (a selector: "#declare-title", "CommandInput"), once the widget its mount
    focuses has the focus, so that keys pressed next reach that field."""
    app = pilot.app

    def up() -> bool:
        screen = app.screen
        if not isinstance(screen, kind) or screen is after or not screen.is_mounted:
            return False
        return focused is None or any(w is screen.focused for w in screen.query(focused))

    await until(pilot, up)
    assert isinstance(app.screen, kind)
    return app.screen


async def ready(pilot: Pilot[None]) -> CommandScreen:
    app = pilot.app
    assert isinstance(app, IrcmdApp)
    await until(pilot, lambda: app.command_screen is not None and app.command_screen.is_mounted)
    return app.command_screen


async def submit(pilot: Pilot[None], line: str) -> CommandScreen:
    """Put `line` in the entry bar and press Enter; wait until the line has run: it
    went into the history (done, or a dialog took over), came back refused, or
    another screen is up. Not "the message changed": editing the bar after a
    refusal clears the message before the new line has run."""
    screen = await ready(pilot)
    bar = screen.query_one(EntryBar)
    bar.focus()
    bar.value = line
    await pilot.pause()  # the edit's own reaction (a stale refusal cleared) comes first
    history = len(bar.history)
    screen._refused_line = None  # the same line refused twice must be seen twice
    await pilot.press("enter")
    await until(
        pilot,
        lambda: (
            len(bar.history) > history
            or screen._refused_line == line
            or pilot.app.screen is not screen
        ),
    )
    await pilot.pause()
    return screen


def timeline_text(screen: CommandScreen) -> str:
    tl = screen.timeline
    return "\n".join(tl.line_text(i) for i in range(tl.total_lines))


def lines_of(screen: CommandScreen, event_id: int) -> list[str]:
    """The timeline's lines of one entry: its first line and those under it."""
    tl = screen.timeline
    index = next(i for i, r in enumerate(tl.rows) if r.id == event_id)
    start = tl._starts[index]
    return [tl.line_text(i) for i in range(start, start + tl._lines_of(tl.rows[index]))]


def message_text(screen: CommandScreen) -> str:
    return str(screen.query_one("#message").render())


async def state(db: Path | str, ref: int = 1) -> IncidentState:
    async with await Store.open(db, clock=frozen) as store:
        return await store.state(ref)


async def events(db: Path | str, ref: int = 1) -> list[Event]:
    async with await Store.open(db, clock=frozen) as store:
        return await store.events(ref)


def type_fast(app: IrcmdApp, keys: str, *, enter: bool = False) -> None:
    """Keys arriving together, as from a paste, fast typing or a slow link: all in
    the app's queue before the first is handled (Pilot's `press` waits in between)."""
    for ch in keys:
        app.post_message(Key(ch, ch))
    if enter:
        app.post_message(Key("enter", "\r"))


def shown(screen: CommandScreen, wid: str) -> str:
    return str(screen.query_one(f"#{wid}").render())


async def form_of(pilot: Pilot[None]) -> FormScreen:
    """The form on screen, composed, its first field focused (its mount does that at
    once)."""
    return await dialog(pilot, FormScreen)


def fill(form: FormScreen, **values: Any) -> None:
    """Set form fields directly (typing is covered by test_process_screens)."""
    for key, value in values.items():
        widget = form.query_one(f"#field-{key}")
        if isinstance(widget, TextArea):
            widget.text = value
        elif isinstance(widget, Checkbox):
            widget.value = bool(value)
        elif isinstance(widget, Select):
            widget.value = value
        else:
            assert isinstance(widget, Input)
            widget.value = value


async def save(pilot: Pilot[None], form: FormScreen) -> None:
    """Ctrl+S; wait until the form closed."""
    await pilot.press("ctrl+s")
    await until(pilot, lambda: pilot.app.screen is not form)
    await pilot.pause()
