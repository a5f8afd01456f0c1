"""The command screen: the one screen an incident is run from.

It maps entry-bar commands onto Store verbs, shows every refusal inline (the
typed text stays in the bar), and applies the change feed's batches
incrementally: the header, roles and checklist are redrawn from a fresh
IncidentState (cheap), the board replaces one line, the timeline appends.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import Provider
from textual.containers import Container, Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static

from .. import display, rules, view
from ..escalation import contact, load_escalation, pending_contacts
from ..hooks.outbox import HOOKED_KINDS, DeliveryRow
from ..models import (
    ClosureRefused,
    DatabaseReplaced,
    Event,
    IncidentState,
    IrcmdError,
    Kind,
    NotFound,
    RuleViolation,
    Severity,
    Status,
    incident_key,
    read_only_refusal,
)
from ..playbooks import find_playbook, load_playbooks
from ..session import Session, latest_active
from ..widgets.board import Board
from ..widgets.entry_bar import EntryBar
from ..widgets.header import IncidentHeader
from ..widgets.panels import Checklist, FullView, RolesPanel
from ..widgets.process import (
    ActionsPanel,
    CommsPanel,
    CommsScroll,
    EvidencePanel,
    ProcessPanel,
    ReviewPanel,
)
from ..widgets.style import user
from ..widgets.tabstrip import ProcessTabs
from ..widgets.timeline import Row, Timeline
from .tabs import TABS

if TYPE_CHECKING:  # the command registry, forms and dialogs are imported on first use
    from .. import entry
    from ..models import Playbook
    from ..store import Store
    from . import forms
    from .modals import DeclareRequest

T = TypeVar("T")

# The newest events read before an incident's first paint: a screenful (an entry takes
# a line at least, so they fill the timeline), at most TAIL. The rest follow once it
# has painted.
TAIL = 500
CHUNK = 2000  # older events per background read, small enough to keep keys snappy
WIDE = 120  # from this width the panes sit beside the timeline
COMPACT = 100  # under this width the side column is slimmer and the entry bar one line

HEARTBEAT = 10.0  # seconds between presence heartbeats
RETRY_FIRST, RETRY_LAST = 0.1, 2.0  # seconds between feed retries after a failed read
NEWS_SECONDS = 30.0  # how long the toast for another incident's declaration stays
# A second Ctrl+Q within this many seconds quits despite unsent text in the bar.
QUIT_AGAIN = 5.0
# Events that may open an incident from alerts or mark it triaged (the board's mark).
TRIAGE_KINDS = frozenset({Kind.ALERT, Kind.STATUS, Kind.ASSIGN})
# How long the message line keeps a confirmation, or an error (by the session's clock,
# checked on the once-a-second tick, so a frozen clock in tests never fades it).
SAY_DONE, SAY_ERROR = timedelta(seconds=10), timedelta(seconds=30)
# A write still waiting after this many seconds says so: the bar was emptied on Enter,
# and without a word a note held up by another writer looks lost.
SAVING_AFTER = 0.5
SAVING = "saving… (another writer holds the record; the entry waits its turn)"


def _palette() -> type[Provider]:
    """The palette's provider, imported when Ctrl+P first opens it, not at start-up."""
    from .palette import IrcmdCommands

    return IrcmdCommands


class CommandScreen(Screen[None]):
    """Header, board, roles, checklist, timeline, entry bar and footer, on one Session.

    The screen runs its own live data: the change feed, presence heartbeats and the
    automatic anchoring are its workers, and it needs nothing from the app."""

    COMMANDS = {_palette}

    class Unreadable(Message):
        """The record could not be read for the first frame (a corrupt page, a lost
        server): the app ends with this one line, as for a record it cannot open."""

        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    _resumed = False  # has the screen been resumed (shown) once? see post_message

    # The bar takes the focus when the screen is composed, as on_mount asks anyway:
    # focusing the first focusable widget first would restyle the screen twice.
    AUTO_FOCUS = "#bar"

    # The function keys are priority bindings: they run before the next key is
    # routed, so `a` typed right after F8 reaches the Actions tab, not the bar.
    BINDINGS = [
        Binding("f1", "help", "Help", priority=True),
        Binding("f2", "declare", "Declare", priority=True),
        Binding("f3", "assign", "Assign", priority=True),
        Binding("f4", "tab('checklist')", "Tabs", key_display="F4-8", priority=True),
        *(
            Binding(key, f"tab('{name}')", title, show=False, priority=True)
            for name, title, key in TABS
            if key != "f4"
        ),
        Binding("escape", "toggle_focus", "Panes/bar"),
        Binding("ctrl+p", "app.command_palette", "Palette", show=True),
    ]

    def __init__(
        self, session: Session, *, open_incident: int | None = None, heartbeat: float = HEARTBEAT
    ) -> None:
        super().__init__()
        self.session = session
        self._open_first = open_incident
        self._heartbeat = heartbeat
        self.state: IncidentState | None = None
        self.current: int | None = None
        # Filled once the first frame has painted (see _load_escalation); the Comms
        # panel holds this very dict.
        self.escalation: dict[Severity, list[str]] = {}
        self._playbooks: list[str] | None = None
        self._known: dict[entry.Arg, list[str]] | None = None  # see known_words
        self.running = view.Running()
        self.deliveries: list[DeliveryRow] = []  # the open incident's, as last read
        self._quit_armed_at: float | None = None
        self._message_until: datetime | None = None  # when the message line fades
        self._refused_line: str | None = None  # the bar's line the message refused
        self._lines: asyncio.Queue[str] = asyncio.Queue()
        # Work that waits for a painted frame, held until the screen is current.
        self._after_paint: list[Callable[[], object]] | None = []
        # The process panels, by tab name: held here, for the hidden ones are mounted
        # only after the first frame (ProcessTabs) and a query would not find them.
        self.comms = CommsPanel(self.escalation, id="comms")
        self.review = ReviewPanel(id="review")
        self.process: dict[str, ProcessPanel] = {
            "comms": self.comms,
            "evidence": EvidencePanel(id="evidence"),
            "review": self.review,
            "actions": ActionsPanel(id="actions"),
        }

    def compose(self) -> ComposeResult:
        # Before the widgets mount, so that their first styling has the width classes:
        # set by the first Resize instead, they would restyle the whole screen again.
        self._fit_classes(self.app.size.width)
        cfg = self.session.cfg
        yield IncidentHeader(
            self.session.clock,
            me=cfg.user,
            locked=cfg.user_locked,
            read_only=cfg.read_only,
            id="header",
        )
        with Container(id="body"):
            with Container(id="side"):
                with Vertical(id="left"):
                    yield Board(id="board")
                    yield RolesPanel(id="roles")
                yield ProcessTabs(
                    {
                        "checklist": Checklist(id="checklist"),
                        "comms": CommsScroll(self.comms, id="comms-scroll"),
                        "evidence": self.process["evidence"],
                        "review": self.review,
                        "actions": self.process["actions"],
                    },
                    titles=[(name, title) for name, title, _ in TABS],
                    active="checklist",
                    spaced=self.has_class("-wide"),
                    id="tabs",
                )
            yield Timeline(clock=self.session.clock, id="timeline")
        with Vertical(id="entry"):
            yield Static("", id="message")
            yield EntryBar(read_only=self.session.cfg.read_only, id="bar")
        yield Footer()

    @property
    def board(self) -> Board:
        return self.query_one(Board)

    @property
    def timeline(self) -> Timeline:
        return self.query_one(Timeline)

    @property
    def bar(self) -> EntryBar:
        return self.query_one(EntryBar)

    @property
    def tabs(self) -> ProcessTabs:
        return self.query_one(ProcessTabs)

    def panels(self) -> list[ProcessPanel]:
        """The process panels, mounted or not yet (see ProcessTabs)."""
        return list(self.process.values())

    def panel(self, name: str) -> ProcessPanel:
        return self.process[name]

    async def on_mount(self) -> None:
        self.query_one("#roles").border_title = "Roles"
        self.query_one("#checklist").border_title = "Checklist"
        self.timeline.border_title = "Timeline"
        # Focus now, not via call_later: a key pressed during start-up must reach the
        # bar in order, or an early Enter lands after the text typed behind it.
        self.set_focus(self.bar)
        self.bar.slash.known = self.known_words
        self._run_lines()
        self.set_interval(1, self._tick)
        self.query_one(IncidentHeader).warn(self.session.warning)
        self.session.feed.on_reconnecting = self._reconnecting
        try:
            await self.start(self._open_first)
        except IrcmdError as e:
            self.post_message(self.Unreadable(str(e)))
            return
        # After the first frame: the feed's file watcher (watchfiles, anyio) is no part
        # of it, and the feed reads from where the session opened, so nothing is missed.
        self.after_paint(self._watch_feed)
        self.after_paint(self._load_escalation)
        self.after_paint(self.tabs.mount_hidden)
        self.set_interval(self._heartbeat, self.beat)
        if self.session.anchoring is not None:  # the minutes are the clock's; this only looks
            self.set_interval(self._heartbeat, self.anchor_if_due)

    def _load_escalation(self) -> None:
        """The escalation lists (shipped, then the user's escalation.toml): only the
        Comms tab and completion use them, so the first frame does not wait for the
        TOML. A broken user file must not keep the screen from opening: the defaults
        stand and the message line says why."""
        try:
            table = load_escalation(self.session.cfg.config_dir)
        except IrcmdError as e:
            table = load_escalation(None)
            self.say(f"escalation list not loaded, using the defaults: {e}", error=True)
        self.escalation.update(table)
        self._known = None
        self._redraw(self.comms)

    def post_message(self, message: Message) -> bool:
        """As Textual's, but the screen's first resume does not restyle it: each widget
        was styled as it mounted, a moment before, and no CSS has changed since, so
        that restyle of the whole screen would only delay the first frame."""
        if isinstance(message, events.ScreenResume) and not self._resumed:
            self._resumed = True
            message.refresh_styles = False
        return super().post_message(message)

    def after_paint(self, callback: Callable[[], object]) -> None:
        """Run `callback` once the screen has painted what it shows now.

        `call_after_refresh` alone is not that while the screen is being pushed:
        until it is current, Textual runs such callbacks at the next idle, before
        any frame, and the first paint would wait for work meant to follow it."""
        if self._after_paint is None:
            self.call_after_refresh(callback)
        else:
            self._after_paint.append(callback)

    def on_screen_resume(self) -> None:
        if self._after_paint is not None:
            waiting, self._after_paint = self._after_paint, None
            for callback in waiting:
                self.call_after_refresh(callback)

    def _refresh_panels(self) -> None:
        """Redraw the visible process panel now; the hidden ones when their tab is shown
        (a burst of changes then costs one panel, not five)."""
        for panel in self.panels():
            self._redraw(panel)

    def _redraw(self, panel: ProcessPanel) -> None:
        """`panel` again: now if its tab is shown, else when it is (`_tab_shown`)."""
        if panel.id == self.tabs.active:
            panel.show(self.state, self.session.clock())
        else:
            panel.stale = True

    def _tick(self) -> None:
        """Once a second: fade the message line when its time is up; the visible process
        panel, if its text depends on the clock (it redraws only when that text changes,
        about once a minute)."""
        if self._message_until is not None and self.session.clock() >= self._message_until:
            self.say("")
        active = self.tabs.active
        if active != "checklist":
            self.panel(active).tick(self.session.clock())

    @on(ProcessTabs.Shown)
    def _tab_shown(self, message: ProcessTabs.Shown) -> None:
        name = message.name
        if name != "checklist":
            panel = self.panel(name)
            if panel.stale:
                panel.show(self.state, self.session.clock())
            else:
                panel.tick(self.session.clock())

    def _fit_classes(self, width: int) -> None:
        self.set_class(width >= WIDE, "-wide")
        self.set_class(width < COMPACT, "-compact")

    def on_resize(self) -> None:
        self._fit_classes(self.size.width)
        self.tabs.strip.spaced = self.has_class("-wide")
        # Under 100 columns the key hints are tighter and the palette's goes (F1 and the
        # help name Ctrl+P): a tab's own keys then still fit beside F1..F8 and Escape.
        footer = self.query_one(Footer)
        footer.compact = self.size.width < COMPACT
        palette = self.size.width >= COMPACT
        if footer.show_command_palette != palette:
            footer.show_command_palette = palette
            footer.refresh(recompose=True)  # the reactive alone redraws nothing

    # ---------------------------------------------------------- loading

    async def start(self, asked: int | None) -> None:
        """First load: the board, then the incident asked for, else the active one with
        the latest activity (if any)."""
        store = self.session.store
        incidents = await store.list_incidents()
        incidents_current = asked if asked is not None else latest_active(incidents)
        # The lines the board can show before the first paint, the rest after it.
        first = self.board.most_lines() or self.app.size.height
        self.board.load(incidents, incidents_current, await store.untriaged(), first=first)
        self.after_paint(self.board.fill)
        if incidents_current is not None:
            await self.open_incident(incidents_current)
        else:
            self._show(None)

    async def open_incident(self, number: int) -> None:
        """Make an incident current: its state at once, its last entries, then its history."""
        store = self.session.store
        state = await store.state(number)
        if number != self.current:
            self._show_deliveries([])  # not the last incident's while this one's are read
        self.current = number
        self._show(state)
        self.board.set_current(number)
        timeline = self.timeline
        timeline.clear()
        timeline.border_title = f"Timeline {state.incident.key}"
        newest = min(TAIL, self.app.size.height)
        tail = await store.events(number, after_id=max(0, state.incident.last_event_id - newest))
        timeline.append(tail)
        await self._load_deliveries(number)
        self.running = view.Running()
        self._note_events(tail)
        if tail and timeline.rows and timeline.rows[0].id > 1:
            # After the frame that shows the tail: the first paint waits for nothing older.
            self.after_paint(functools.partial(self._load_history, number, timeline.rows[0].id))
        self.after_paint(self.beat)  # a write: others see the watcher a frame later

    @work(exclusive=True, group="history")
    async def _load_history(self, number: int, before: int) -> None:
        """Older events in chunks, as light rows, inserted above the tail in one go."""
        store = self.session.store
        rows: list[Row] = []
        kept: list[Event] = []
        after = 0
        while True:
            chunk = await store.events(number, after_id=after, limit=CHUNK)
            chunk = [ev for ev in chunk if ev.id < before]
            if not chunk:
                break
            rows.extend(Row(ev) for ev in chunk)
            kept.extend(ev for ev in chunk if view.Running.wanted(ev))
            after = chunk[-1].id
        # A quit while the history was read has taken the widgets down meanwhile.
        with contextlib.suppress(NoMatches):
            if self.current == number:
                self.timeline.insert_older(rows)
                self._note_events(kept)

    async def _load_deliveries(self, number: int) -> None:
        """The incident's deliveries, in one query, onto the timeline, the Comms tab and
        the header. Read when the incident opens and after a batch that may have
        queued one (a hooked kind) or settled one (a `delivery` event): the outbox's
        rows know what no event says yet, that a delivery is queued."""
        try:
            rows = await self.session.store.deliveries(number)
        except IrcmdError:  # a busy record: the next batch reads them again
            return
        if self.current == number:
            self._show_deliveries(rows)

    def _show_deliveries(self, rows: list[DeliveryRow]) -> None:
        self.deliveries = rows
        self.timeline.set_deliveries(view.deliveries_by_event(rows))
        self.query_one(IncidentHeader).show_deliveries(rows)
        self.comms.deliveries = rows
        self._redraw(self.comms)

    def _note_events(self, events: list[Event]) -> None:
        """Keep what the metrics and the update draft need from newly seen events."""
        if self.running.note(events):
            self.review.metrics = self.running.metrics
            self._redraw(self.review)

    def known_words(self) -> dict[entry.Arg, list[str]]:
        """What the bar completes to, for the incident shown and the board: worked out
        when a completion is first wanted after a change, not on every change (nor for
        the first frame: the command registry and the playbooks are read then)."""
        if self._known is None:
            self._known = view.known_words(
                self.state, self.board.incidents, self.escalation, self._playbook_names()
            )
        return self._known

    def _playbook_names(self) -> list[str]:
        """For completion: read once, when a completion first wants them; a broken
        playbook file is F2's to report, not completion's."""
        if self._playbooks is None:
            try:
                self._playbooks = list(load_playbooks(self.session.cfg.playbook_dirs)[0])
            except IrcmdError:
                self._playbooks = []
        return self._playbooks

    def _show(self, state: IncidentState | None) -> None:
        self.state = state
        self._known = None
        self.query_one(IncidentHeader).show(state)
        self.query_one(RolesPanel).show(state)
        self.query_one(Checklist).show(state)
        if state is None:
            self.review.metrics = None
        self._refresh_panels()
        if state is None:
            self.timeline.clear()
            self.timeline.border_title = "Timeline"

    async def apply(self, batch: list[Event]) -> None:
        """New events from any process: patch what they touch, nothing else."""
        store = self.session.store
        self._known = None  # the board may change too
        # The timeline first: it needs no query, and the next frame then carries
        # the new rows instead of waiting for the reads below.
        mine = [ev for ev in batch if ev.incident_id == self.current]
        if mine:
            self.timeline.append(mine)
            self._note_events(mine)
            if self.current is not None and any(
                ev.kind is Kind.DELIVERY or ev.kind in HOOKED_KINDS for ev in mine
            ):
                await self._load_deliveries(self.current)
        touched = sorted({ev.incident_id for ev in batch if ev.incident_id is not None})
        if any(ev.kind in TRIAGE_KINDS for ev in batch):
            self.board.untriaged = await store.untriaged()
        for number in touched:
            self.board.upsert(await store.incident(number))
        if mine and self.current is not None:
            self._show(await store.state(self.current))
        declared = [ev for ev in batch if ev.kind is Kind.DECLARE and ev.incident_id]
        if not declared or declared[-1].incident_id == self.current:
            return
        ev = declared[-1]
        assert ev.incident_id is not None
        key = incident_key(ev.incident_id)
        if self.current is None:
            # Someone declared while this screen had nothing open: follow it, as
            # anyone joining the call would (the board still lists the rest).
            await self.open_incident(ev.incident_id)
            self.say(f"{key} declared by {ev.actor}: now open")
        elif ev.actor != self.session.cfg.user:
            # A second incident while this one runs: a toast, not only a board row,
            # and not over the message line (it may hold an error being fixed).
            severity = ev.data.get("severity", "")
            self.notify(
                display.one_line(f"{ev.text} (by {ev.actor}; /open {key})"),
                title=f"{key} {severity} declared",
                markup=False,
                timeout=NEWS_SECONDS,
            )

    @work(exclusive=True, group="feed")
    async def _watch_feed(self) -> None:
        """Every process's new events, applied incrementally to the screen.

        A failed read (the file locked through another process's recovery, a full
        disk, a vanished mount) pauses live updates, says so once, and retries with
        backoff; the feed keeps its place, so nothing committed meanwhile is missed.
        On PostgreSQL a lost connection is the feed's own to retry: the header says
        so meanwhile (`_reconnecting`)."""
        feed = self.session.feed
        pause = RETRY_FIRST
        failing = False
        while not feed.stopped:
            try:
                async for batch in feed:
                    if failing:
                        failing, pause = False, RETRY_FIRST
                        self.notify("live updates resumed", markup=False)
                    await self.apply(batch)
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

    def _reconnecting(self, reconnecting: bool) -> None:
        """The feed lost the database connection (PostgreSQL), or has it back: the
        header says so until then; the feed catches up on what was missed."""
        with contextlib.suppress(NoMatches):
            self.query_one(IncidentHeader).show_reconnecting(reconnecting)

    @work(exclusive=True, group="presence")
    async def beat(self) -> None:
        """Say which incident this session shows; read who else is watching."""
        try:
            watchers = await self.session.heartbeat(self.current)
        except DatabaseReplaced as e:
            # Restored or replaced under this screen: what it shows is the old file's.
            with contextlib.suppress(NoMatches):
                self.query_one(IncidentHeader).warn(str(e))
            return
        except IrcmdError:
            return  # presence is a courtesy; a busy database must not break the screen
        with contextlib.suppress(NoMatches):  # the screen may be closing meanwhile
            self.query_one(IncidentHeader).show_watchers(watchers, self.session.user)

    @work(exclusive=False, group="anchor")
    async def anchor_if_due(self, newest_id: int | None = None) -> None:
        """Anchor the record every N events (after a feed batch) and every M minutes of
        the clock (looked at every heartbeat period). When the record no longer matches its
        newest anchor, nothing is anchored and the header says so in red."""
        anchoring = self.session.anchoring
        if anchoring is None:
            return
        try:
            await anchoring.tick(newest_id)
        except IrcmdError as e:
            with contextlib.suppress(NoMatches):
                self.query_one(IncidentHeader).warn(str(e))

    # ------------------------------------------------------------ input

    def say(self, message: str, *, error: bool = False) -> None:
        """One line above the bar: the outcome of the last entry. It goes away on
        its own (an old "INC-1 is closed" must not outlive a re-open), and an
        error about the bar's line goes as soon as that line is edited."""
        style = "bold $text-error" if error else "$text-success"
        self.query_one("#message", Static).update(user(message, style) if message else "")
        self.query_one("#message").set_class(bool(message), "-shown")
        self._refused_line = None
        self._message_until = None
        if message:
            self._message_until = self.session.clock() + (SAY_ERROR if error else SAY_DONE)

    @on(EntryBar.Changed, "#bar")
    def _bar_edited(self, message: EntryBar.Changed) -> None:
        if self._refused_line is not None and message.value != self._refused_line:
            self.say("")

    @on(EntryBar.Line)
    def _line(self, message: EntryBar.Line) -> None:
        """Queue the line; never wait here. Keys bound above the bar (Escape, the
        panes' keys) reach their bindings by way of this screen, and a screen
        busy writing would hold them back behind the write."""
        self._lines.put_nowait(message.line)

    @work(exclusive=True, group="lines")
    async def _run_lines(self) -> None:
        """The bar's lines, one at a time, in the order they were entered."""
        with contextlib.suppress(NoMatches):  # the screen is being torn down: exiting
            while True:
                await self.run_line(await self._lines.get(), from_bar=True)

    async def run_line(self, line: str, *, from_bar: bool = False) -> bool:
        """Parse and run one line. The bar gave it up on Enter; a refused line is
        put back to fix, any other is remembered (Up recalls it), also when it only
        opened a form: a cancelled form leaves nothing for the next line to glue onto."""
        from .. import entry

        try:
            command = entry.parse(line, now=self.session.clock())
            done = await self.execute(command)
        except IrcmdError as e:
            self.say(str(e), error=True)
            if from_bar:
                self.bar.restore(line)
                self._refused_line = line
            return False
        if from_bar:
            self.bar.remember(line)
        if done:
            self.say(done)
        return done is not None

    def _ref(self) -> int:
        if self.current is None:
            raise NotFound("no incident is open: /declare SEV2 title, or /open INC-n")
        return self.current

    async def _write(self, verb: Callable[[], Awaitable[Any]]) -> Any:
        """Run a Store write, then poke the feed so this screen sees it at once."""
        if self.session.cfg.read_only:
            raise read_only_refusal()
        said: list[bool] = []

        def saving() -> None:
            self.say(SAVING)
            said.append(True)

        waiting = self.set_timer(SAVING_AFTER, saving)
        try:
            result = await verb()
        finally:
            waiting.stop()
            if said:
                self.say("")  # the outcome, said next, replaces it; a dialog's too
        self.session.feed.poke()
        return result

    async def execute(self, command: entry.Command) -> str | None:
        """One command, run on this screen. Returns the confirmation, or None when a
        dialog took over (the bar keeps its text until the dialog is done)."""
        return await command.run(ScreenContext(self))

    async def _set_status(
        self, status: Status, reason: str, at: datetime | None = None
    ) -> str | None:
        state = await self.session.store.state(self._ref())
        current = state.incident.status
        if status is Status.CLOSED and current is not Status.CLOSED:
            return await self._close("", reason, at)
        if status.rank < current.rank and not reason:
            if self.session.cfg.read_only:
                raise read_only_refusal()
            self._confirm_reopen(state, status, at)
            return None
        await self._write(
            lambda: self.session.store.set_status(
                self._ref(), status, actor=self.session.cfg.user, reason=reason, at=at
            )
        )
        return f"status {status}"

    async def _close(self, override: str, reason: str = "", at: datetime | None = None) -> str:
        """The closure gate: refused with the list of what is missing (shown in the
        Review tab too), or overridden with a reason that goes on the record."""
        me = self.session.cfg.user
        store = self.session.store
        try:
            ev = await self._write(
                lambda: store.set_status(
                    self._ref(), Status.CLOSED, actor=me, reason=reason, override=override, at=at
                )
            )
        except ClosureRefused as e:
            await self.tabs.show("review")
            raise RuleViolation(
                e.phrased(view.gap_on_screen) + " (/close REASON, commander or deputy)"
            ) from None
        gaps = ev.data.get("gaps") or []
        if gaps:
            return f"closed with an override of {len(gaps)} missing item(s): {override}"
        return "status closed"

    @work
    async def _confirm_reopen(
        self, state: IncidentState, status: Status, at: datetime | None
    ) -> None:
        from .. import entry
        from .modals import ReopenScreen

        reason = await self.app.push_screen_wait(
            ReopenScreen(state.incident.key, state.incident.status, status)
        )
        if isinstance(reason, str):
            command: entry.Command = entry.SetStatus(status, reason)
            await self._after_dialog(entry.Backdated(at, command) if at else command)

    async def _after_dialog(self, command: entry.Command) -> None:
        """Run what a dialog returned; a refusal is said on the message line. A quit
        meanwhile takes the widgets down under it: the write stands, the showing goes."""
        with contextlib.suppress(NoMatches):
            try:
                done = await self.execute(command)
            except IrcmdError as e:
                self.say(str(e), error=True)
                return
            self.say(done or "")

    # ----------------------------------------------------------- actions

    def prefill(self, text: str) -> None:
        """Put a command into the bar for the rest to be typed (palette templates)."""
        bar = self.bar
        bar.value = text
        bar.cursor_position = len(text)
        bar.focus()

    def type_in_bar(self, key: events.Key) -> None:
        """A key typed in a view that does not take text: it goes on in the bar."""
        if key.character:
            self.set_focus(self.bar)
            self.bar.insert_text_at_cursor(key.character)

    def action_focus_entry(self) -> None:
        self.bar.focus()

    def action_focus_timeline(self) -> None:
        self.timeline.focus()

    def route_typing(self, key: events.Key) -> None:
        """Called by the app for each key as it arrives, before it is routed: a
        printable key that the focused pane does not use moves the focus to the
        entry bar first, so it and every key behind it (a paste, fast typing, keys
        queued over a slow link) land in the bar in order. Deciding later, when
        the key reaches the pane, is too late: the keys behind it are already
        routed to the pane, where `n` or `u` would act."""
        if (
            key.is_printable
            and key.character
            and self.app.screen is self
            and not self.bar.has_focus
            and key.key not in self.active_bindings
        ):
            self.set_focus(self.bar)

    def action_toggle_focus(self) -> None:
        """Escape: from the bar to the timeline, from anywhere else back to the bar."""
        if self.bar.has_focus:
            self.timeline.focus()
        else:
            self.bar.focus()

    async def action_quit(self) -> None:
        """Ctrl+Q. With unsent work (text in the bar, a form or dialog open) the
        first press only says so and a second one quits: a note or a draft typed
        during the call is not lost to a reflex."""
        from .modals import TextScreen

        app = self.app
        open_form = app.screen is not self and not isinstance(app.screen, TextScreen)
        unsent = bool(self.bar.value.strip()) or open_form
        now = time.monotonic()
        armed = self._quit_armed_at is not None and now - self._quit_armed_at < QUIT_AGAIN
        if unsent and not armed:
            self._quit_armed_at = now
            if open_form:
                app.notify("a form is open: Ctrl+S saves it, Ctrl+Q again quits", markup=False)
            else:
                self.say(
                    "unsent text in the entry bar: Enter sends it, Ctrl+Q again quits", error=True
                )
            return
        await app.action_quit()

    def action_show_in_full(self) -> None:
        """Enter on the roles or checklist pane: all of it, wrapped, in a dialog."""
        from .modals import TextScreen

        pane = self.focused
        if isinstance(pane, FullView):
            title = str(pane.border_title or "")
            self.app.push_screen(
                TextScreen(title, Content("\n").join(pane.lines), self.type_in_bar)
            )

    @on(Checklist.Toggled)
    async def _step_toggled(self, message: Checklist.Toggled) -> None:
        """Space or x on a checklist step: run as `/check N` is, so a read-only
        session or a refusal is said on the message line and nothing is written."""
        from .. import entry

        await self._after_dialog(entry.Check(message.n, done=message.done))

    def action_help(self) -> None:
        from .modals import HelpScreen

        self.app.push_screen(HelpScreen(self.type_in_bar))

    def _refused_read_only(self) -> bool:
        """In a read-only session, say so before a dialog is filled in, not after."""
        if self.session.cfg.read_only:
            self.say(str(read_only_refusal("nothing can be written")), error=True)
        return self.session.cfg.read_only

    @work
    async def action_declare(self) -> None:
        from .modals import DeclareRequest, DeclareScreen

        if self._refused_read_only():
            return
        books, _ = load_playbooks(self.session.cfg.playbook_dirs)
        request = await self.app.push_screen_wait(DeclareScreen(books, now=self.session.clock()))
        if not isinstance(request, DeclareRequest):
            return
        try:
            await self._declare(request)
        except IrcmdError as e:
            self.say(str(e), error=True)

    async def _declare(self, request: DeclareRequest) -> None:
        cfg = self.session.cfg
        book = find_playbook(request.playbook, cfg.playbook_dirs) if request.playbook else None
        inc = await self._write(
            lambda: self.session.store.declare(
                request.title,
                actor=cfg.user,
                severity=request.severity,
                type=request.type,
                impact=request.impact,
                urgency=request.urgency,
                summary=request.summary,
                playbook=book,
                detected_at=request.detected_at,
                started_at=request.started_at,
            )
        )
        with contextlib.suppress(NoMatches):  # as in `_after_dialog`
            await self.open_incident(inc.id)
            applied = f", playbook {book.name} applied" if book else ""
            self.say(f"{inc.key} declared ({inc.severity}){applied}")

    @work
    async def action_assign(self) -> None:
        from .modals import AssignScreen

        if self.current is None:
            self.say("no incident is open: /declare SEV2 title, or /open INC-n", error=True)
            return
        if self._refused_read_only():
            return
        missing = rules.missing_roles(self.state) if self.state is not None else []
        from .. import entry

        result = await self.app.push_screen_wait(AssignScreen(incident_key(self.current), missing))
        if isinstance(result, entry.Assign):
            await self._after_dialog(result)

    # --------------------------------------------------- process tabs, forms

    async def action_tab(self, name: str) -> None:
        """F4..F8: show a process tab and move into it (Escape goes back to the bar)."""
        await self.tabs.show(name)
        self.set_focus(self.query_one(f"#{name}"))  # at once: see BINDINGS

    def _writable_ref(self) -> int:
        ref = self._ref()
        if self.session.cfg.read_only:
            raise read_only_refusal()
        return ref

    def _form_done(self, message: str) -> Callable[[], None]:
        """After a form's write: poke the feed and confirm."""

        def after() -> None:
            self.session.feed.poke()
            self.say(message)

        return after

    async def _open_form(
        self,
        build: Callable[[int, str], forms.FormScreen | None],
        closed: Callable[[bool | None], None] | None = None,
    ) -> None:
        """Open a form on the current incident, or say why not (keys and palette);
        `closed` is told whether it was saved."""
        try:
            ref = self._writable_ref()
            form = build(ref, self.session.cfg.user)
        except IrcmdError as e:
            self.say(str(e), error=True)
            return
        if form is not None:
            await self.app.push_screen(form, closed)

    @on(EntryBar.Pasted)
    async def _pasted(self, message: EntryBar.Pasted) -> None:
        """Several lines pasted. A chat log (`23:41 name: text` on every line) is
        offered as one entry per line at its own time; Escape, or any other paste,
        makes one note, checked in a form (the bar is one line)."""
        from .. import entry

        chat = entry.chat_lines(message.text, self.session.clock())
        if chat is None or self.current is None or self.session.cfg.read_only:
            await self._note_form(message.text, message.typed)
            return
        from .modals import ConfirmScreen

        self.bar.value = ""  # what it held is in the question now
        first, last = display.stamp(chat.lines[0][0]), display.stamp(chat.lines[-1][0])
        question = (
            f"Record {len(chat.lines)} entries on {incident_key(self.current)}, each at its"
            f" own time ({first} to {last} UTC)?"
        )

        def typing(key: events.Key) -> None:
            if key.is_printable and key.character:
                self.bar.insert_text_at_cursor(key.character)

        async def answered(yes: object) -> None:
            if yes is True:
                await self._after_dialog(chat)
            else:
                await self._note_form(message.text, message.typed)

        self.app.push_screen(ConfirmScreen(question, typing, no="one note instead"), answered)

    async def _note_form(self, text: str, typed: str) -> None:
        """The pasted `text` (after what was `typed` in the bar) in a form, to check
        before it becomes one note; cancelled, the bar gets back what was typed."""

        def build(ref: int, me: str) -> forms.FormScreen:
            from . import forms

            done = self._form_done("note added")
            self.bar.value = ""  # what it held is in the form now
            return forms.note_form(text, forms.submit_note(self.session.store, ref, me, done))

        def closed(saved: bool | None) -> None:
            if not saved and typed:
                self.bar.restore(typed)

        await self._open_form(build, closed)

    async def action_draft_update(self) -> None:
        """The comms lead's draft, pre-filled from the incident, edited, then sent."""
        state = self.state

        def build(ref: int, me: str) -> forms.FormScreen:
            from . import forms

            assert state is not None
            submit = forms.submit_update(
                self.session.store, ref, me, self._form_done("update sent")
            )
            return forms.update_form(
                state, self.session.clock(), submit, self.running.latest_decision
            )

        await self._open_form(build)

    async def action_add_evidence(self) -> None:
        def build(ref: int, me: str) -> forms.FormScreen:
            from . import forms

            done = self._form_done(f"evidence registered, held by {me}")
            submit = forms.submit_evidence(self.session.store, ref, me, done)
            return forms.evidence_form(submit, host_files=not self.session.cfg.user_locked)

        await self._open_form(build)

    async def action_transfer_evidence(self) -> None:
        state = self.state

        def build(ref: int, me: str) -> forms.FormScreen:
            from . import forms

            assert state is not None
            if not state.evidence:
                raise NotFound("no evidence to transfer: /evidence DESCRIPTION registers some")
            done = self._form_done("custody transferred")
            return forms.transfer_form(
                state, forms.submit_transfer(self.session.store, ref, me, done)
            )

        await self._open_form(build)

    async def action_edit_review(self) -> None:
        state = self.state

        def build(ref: int, me: str) -> forms.FormScreen:
            from . import forms

            assert state is not None
            done = self._form_done("review saved")
            submit = forms.submit_review(
                self.session.store, ref, me, done, state.review, state.impact.customer_impact
            )
            return forms.review_form(state, submit)

        await self._open_form(build)

    async def action_add_action(self) -> None:
        def build(ref: int, me: str) -> forms.FormScreen:
            from . import forms

            done = self._form_done("follow-up action added")
            return forms.action_form(forms.submit_action(self.session.store, ref, me, done))

        await self._open_form(build)

    def action_notify_pending(self) -> None:
        """`n` in the Comms tab: check off the first escalation contact not yet told,
        once Enter confirms. The dialog is pushed here, inside the key's own
        (priority) binding, so the keys typed after `n` already reach it."""
        state = self.state
        if state is None:
            self.say("no incident is open: /declare SEV2 title, or /open INC-n", error=True)
            return
        pending = pending_contacts(self.escalation, state)
        if not pending:
            self.say(f"everyone on the {state.incident.severity} escalation list is told")
            return
        if self._refused_read_only():
            return
        from .. import entry

        who = pending[0]
        self.ask(
            f"Record that {who} has been told about {state.incident.key}?",
            entry.Notify(who),
            f"not recorded: {who} is still to be told",
            typed="n",
        )

    def ask(self, question: str, command: entry.Command, declined: str, *, typed: str = "") -> None:
        """Enter runs `command`; anything else says `declined` and records nothing.
        Keys typed meanwhile go to the bar (`typed` is the key that opened the
        dialog, handed on if typing follows), so a stray letter writes no entry."""
        from .modals import ConfirmScreen

        untyped = [typed] if typed else []

        def typing(key: events.Key) -> None:
            if key.is_printable and key.character:
                self.set_focus(self.bar)
                self.bar.insert_text_at_cursor("".join(untyped) + key.character)
                untyped.clear()
            elif key.key == "enter" and not untyped:
                self.bar.submit()

        async def answered(yes: object) -> None:
            if yes is True:
                await self._after_dialog(command)
            else:
                self.say(declined)

        self.app.push_screen(ConfirmScreen(question, typing), answered)

    @on(OptionList.OptionSelected, "#board")
    async def _board_choice(self, message: OptionList.OptionSelected) -> None:
        """Enter on another incident opens it; on the open one, shows it whole (the
        header cuts a long title to fit)."""
        if message.option.id is None:
            return
        state = self.state
        if state is not None and message.option.id == str(state.incident.id):
            from .modals import TextScreen

            self.app.push_screen(
                TextScreen(state.incident.key, incident_body(state), self.type_in_bar)
            )
            return
        await self.run_line(f"/open INC-{message.option.id}")

    @on(Timeline.EntryChosen)
    def _entry_chosen(self, message: Timeline.EntryChosen) -> None:
        from .modals import TextScreen

        body = Content("\n").join(user(line) for line in message.text.split("\n"))
        heading = message.heading or f"Entry #{message.event_id}"
        self.app.push_screen(TextScreen(heading, body, self.type_in_bar))


class ScreenContext:
    """The screen as a command's `entry.Context`: the open incident, writes that poke
    the feed, the forms and dialogs."""

    def __init__(self, screen: CommandScreen) -> None:
        self.screen = screen

    @property
    def store(self) -> Store:
        return self.screen.session.store

    @property
    def actor(self) -> str:
        return self.screen.session.cfg.user

    def ref(self) -> int:
        return self.screen._ref()

    async def write(self, op: Callable[[], Awaitable[T]]) -> T:
        result: T = await self.screen._write(op)
        return result

    async def show(self, form: entry.Form) -> None:
        from .. import entry

        screen = self.screen
        match form:
            case entry.Form.DECLARE:
                screen.action_declare()
            case entry.Form.ASSIGN:
                screen.action_assign()
            case entry.Form.HELP:
                screen.action_help()
            case entry.Form.ACTION:
                await screen.action_add_action()
            case entry.Form.UPDATE:
                await screen.action_draft_update()
            case entry.Form.EVIDENCE:
                await screen.action_add_evidence()
            case entry.Form.TRANSFER:
                await screen.action_transfer_evidence()
            case entry.Form.REVIEW:
                await screen.action_edit_review()

    async def open(self, number: int) -> None:
        await self.screen.open_incident(number)

    async def contact(self, typed: str, confirmed: bool, at: datetime | None) -> str | None:
        """The list's spelling of a listed contact; a name it does not hold is asked
        about first (`/notify St` + a stray key must not record "St/notify ...")."""
        screen = self.screen
        state = screen.state
        if state is None:
            return rules.check_name(typed, "contact")
        listed = screen.escalation.get(state.incident.severity, [])
        who = contact(screen.escalation, state.incident.severity, typed)
        if confirmed or who in listed:
            return who
        if screen.session.cfg.read_only:
            raise read_only_refusal()
        from .. import entry

        again: entry.Command = entry.Notify(who, confirmed=True)
        screen.ask(
            f"{who} is not on the {state.incident.severity} escalation list. Record that"
            f" {who} has been told about {state.incident.key}?",
            entry.Backdated(at, again) if at else again,
            f"not recorded: {who} is not on the list",
        )
        return None

    async def status(self, status: Status, reason: str, at: datetime | None) -> str | None:
        return await self.screen._set_status(status, reason, at)

    async def confirm(self, question: str, again: entry.Command) -> bool:
        if self.screen.session.cfg.read_only:
            raise read_only_refusal()
        self.screen.ask(question, again, "not recorded")
        return False

    async def close(self, override: str, at: datetime | None) -> str:
        return await self.screen._close(override, "", at)

    def playbook(self, name: str) -> Playbook:
        return find_playbook(name, self.screen.session.cfg.playbook_dirs)


def incident_body(state: IncidentState) -> Content:
    """The open incident in full, for Enter on its board line: title, how bad, what."""
    inc = state.incident
    lines = [
        user(inc.title, "bold"),
        Content(""),
        Content.assemble(
            ("severity ", "$text-muted"),
            inc.severity.value,
            "  ",
            ("status ", "$text-muted"),
            inc.status.value,
        ),
        Content.assemble(
            ("declared ", "$text-muted"),
            display.stamp(inc.declared_at),
            " by ",
            user(inc.declared_by),
        ),
    ]
    if inc.type:
        lines.append(Content.assemble(("type ", "$text-muted"), user(inc.type)))
    if inc.summary:
        lines += [Content(""), user(inc.summary)]
    return Content("\n").join(lines)
