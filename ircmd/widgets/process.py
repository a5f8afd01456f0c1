"""Panels of the response process: comms and escalation, evidence, review, actions.

Each renders one IncidentState as Content (user text through display.printable,
never as markup) and is refreshed whole: they are short, unlike the timeline.
Colours are theme variables ($text-error, $text-muted, ...), resolved by Textual
against the current theme, so the panels read in dark and light themes alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from .. import display, rules, view
from ..escalation import pending_contacts
from ..hooks.outbox import RETRYABLE, DeliveryRow
from ..models import REVIEW_LABELS, ActionStatus, IncidentState, Metrics, Severity, Status
from ..store.verbs.deliveries import DELIVERY_PREFIX
from .header import coarse

# The pieces a panel is assembled from: plain text, Content, or (text, style).
Parts = list[str | Content | tuple[str, str]]

MUTED = "$text-muted"
ERROR = "$text-error"
WARNING = "$text-warning"
SUCCESS = "$text-success"
ACCENT = "$text-accent"


def _user(text: str) -> str:
    return display.printable(text)


class ProcessPanel(Static, can_focus=True):
    """Base: `show(state, now)` redraws; subclasses write `build`.

    A redraw reaches the terminal only when the text changed, and `tick(now)`
    (called every second for the visible panel) rebuilds only when the panel's
    `clock_key` moved: the comms countdown changes once a minute, overdue
    actions once a day, so an idle screen sends next to nothing.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state: IncidentState | None = None
        self._shown: tuple[str, tuple[object, ...]] | None = None
        self._clock_key: object = None
        self.stale = False  # the state changed while this panel's tab was hidden

    def show(self, state: IncidentState | None, now: datetime) -> None:
        self.state = state
        self.stale = False
        self._clock_key = None if state is None else self.clock_key(state, now)
        text = (
            Content.styled("No incident open.", MUTED) if state is None else self.build(state, now)
        )
        key = (text.plain, tuple(text.spans))
        if key != self._shown:
            self._shown = key
            self.update(text)

    def tick(self, now: datetime) -> None:
        if self.state is not None and self.clock_key(self.state, now) != self._clock_key:
            self.show(self.state, now)

    def clock_key(self, state: IncidentState, now: datetime) -> object:
        """What of `now` the text depends on; None: it does not."""
        return None

    def build(self, state: IncidentState, now: datetime) -> Content:
        raise NotImplementedError


# The panes' one-letter keys are priority bindings: they act on the key as it
# arrives, before a following key can move the focus (typing redirects to the bar).


class CommsPanel(ProcessPanel):
    """Next update due, updates sent and where each reached, who must still be told,
    and the incident's deliveries that are waiting or failing."""

    BINDINGS = [
        Binding("u", "screen.draft_update", "Update", priority=True),
        Binding("n", "screen.notify_pending", "Notify", priority=True),
    ]

    def __init__(self, escalation: Mapping[Severity, list[str]], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._escalation = escalation
        #: The incident's deliveries, set by the screen as it reads them.
        self.deliveries: list[DeliveryRow] = []

    def clock_key(self, state: IncidentState, now: datetime) -> object:
        due = rules.next_update_due(state)
        return None if due is None else _countdown(due, now)

    def build(self, state: IncidentState, now: datetime) -> Content:
        t: Parts = []
        due = rules.next_update_due(state)
        if due is None:
            t.append(("No update cadence now", MUTED))
            if (
                not rules.final_update_sent(state, state.incident.resolved_at)
                and state.incident.resolved_at
            ):
                t.append((" - final update not yet sent", f"bold {ERROR}"))
        elif now > due:
            t.append((f"Update OVERDUE by {_countdown(due, now)}", f"bold {ERROR}"))
        else:
            t.append(f"Next update in {_countdown(due, now)} (by {display.hhmm(due)} UTC)")
        t.append("\n")
        required = self._escalation.get(state.incident.severity, [])
        pending = pending_contacts(self._escalation, state)
        t.append((f"Escalation ({state.incident.severity}): ", "bold"))
        t.append(f"{len(required) - len(pending)}/{len(required)} told")
        t.append("\n")
        # Who must still be told first: that is what the comms lead acts on.
        for who in pending:
            t.append((f" [ ] {_user(who)}", WARNING))
            t.append(("  pending\n", MUTED))
        listed = {w.casefold() for w in required}
        for n in state.notifications:
            t.append((f" [x] {_user(n.who)}", SUCCESS))
            t.append((f"  {display.hhmm(n.notified_at)} by {_user(n.notified_by)}", MUTED))
            t.append(("\n" if n.who.casefold() in listed else "  (extra)\n", MUTED))
        t.append(("Updates sent", "bold"))
        t.append(("  /update AUDIENCE TEXT\n", MUTED))
        marks = view.deliveries_by_event(self.deliveries)
        for u in reversed(state.updates[-6:]):
            kind = f"{u.audience}{' FINAL' if u.final else ''}"
            t.append((f" {display.hhmm(u.sent_at)} {kind}", ACCENT))
            t.append(f" {_user(u.sent_by)}: {_user(u.text)[:200]}\n")
            if u.event_id in marks:
                t += [*_marks(marks[u.event_id]), "\n"]
        if not state.updates:
            t.append((" none yet\n", MUTED))
        t += _outbox(self.deliveries, state.incident.key)
        return Content.assemble(*t)


#: The Comms tab lists at most this many waiting or failing deliveries (failing
#: first); `ircmd deliveries INC-n` lists them all.
OUTBOX_LINES = 8
_TONES = {view.SENT: SUCCESS, view.FAILING: ERROR}


def _marks(marks: tuple[tuple[str, str], ...]) -> Parts:
    """`   → ops ✓  email ✗ 550 mailbox unavailable` (marks are made printable)."""
    t: Parts = [("   → ", MUTED)]
    for i, (text, tone) in enumerate(marks):
        if i:
            t.append("  ")
        t.append((text, _TONES.get(tone, MUTED)))
    return t


def _outbox(rows: list[DeliveryRow], key: str) -> Parts:
    """The deliveries still to be sent or that failed, failing ones first, each with
    what it delivered; a failed one says how to queue it again."""
    failing = view.failing(rows)
    waiting = [d for d in view.waiting(rows) if not d.failing]
    if not failing and not waiting:
        return []
    t: Parts = [("Deliveries", "bold")]
    t.append((f"  {len(failing)} failing, {len(waiting)} waiting\n", MUTED))
    listed = [*failing, *waiting]
    for d in listed[:OUTBOX_LINES]:
        text, tone = view.delivery_mark(d, reason_chars=120)
        t.append((f" {DELIVERY_PREFIX}{d.id} #{d.event_id} {d.kind} ", MUTED))
        t.append((text, _TONES.get(tone, MUTED)))
        if d.state in RETRYABLE:
            t.append((f"  ircmd deliveries retry {DELIVERY_PREFIX}{d.id}", MUTED))
        t.append("\n")
    if len(listed) > OUTBOX_LINES:
        t.append((f" and {len(listed) - OUTBOX_LINES} more: ircmd deliveries {key}\n", MUTED))
    return t


class CommsScroll(VerticalScroll, can_focus=False):
    """Scrolls the Comms tab (at 80x24 its updates, contacts and deliveries run past
    the pane), by the keys of the panel inside it, which keeps the focus."""


class EvidencePanel(ProcessPanel):
    """Each item with its custody chain, newest transfer last."""

    BINDINGS = [
        Binding("e", "screen.add_evidence", "Register", priority=True),
        Binding("t", "screen.transfer_evidence", "Transfer", priority=True),
    ]

    def build(self, state: IncidentState, now: datetime) -> Content:
        t: Parts = []
        if not state.evidence:
            return Content.styled("No evidence registered.\n[e] register  /evidence DESC", MUTED)
        for e in state.evidence:
            t.append((f"{e.key} ", "bold"))
            t.append(_user(e.description) + "\n")
            t.append(
                (f"   collected {display.stamp(e.collected_at)} by {_user(e.collected_by)}", MUTED)
            )
            if e.location:
                t.append((f" at {_user(e.location)}", MUTED))
            t.append("\n")
            if e.sha256:
                t.append((f"   sha256 {e.sha256}\n", MUTED))
            for tr in e.transfers:
                t.append(
                    f"   {display.stamp(tr.at)} {_user(tr.from_person)} -> "
                    f"{_user(tr.to_person)}: {_user(tr.reason)}\n"
                )
            for a in e.amendments:
                t.append((f"   amended: {_user(a)}\n", "italic"))
            t.append(("   held by ", MUTED))
            t.append((_user(e.custodian) + "\n", "bold"))
        t.append(("[e] register  [t] transfer  /transfer EV-n TO REASON", MUTED))
        return Content.assemble(*t)


class ReviewPanel(ProcessPanel):
    """Response metrics, the post-incident review as saved, and what closing still needs."""

    BINDINGS = [Binding("r", "screen.edit_review", "Edit review", priority=True)]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.metrics: Metrics | None = None

    def build(self, state: IncidentState, now: datetime) -> Content:
        r = state.review
        t: Parts = []
        if self.metrics is not None:
            t.append(metrics_line(self.metrics))
            t.append("\n\n")
        gaps = rules.closure_gaps(state, state.incident.resolved_at)
        t.append(("To close: ", "bold"))
        if state.incident.status is Status.CLOSED:
            t.append(("closed\n", SUCCESS))
        elif gaps:
            t.append("\n")
            for g in gaps:
                t.append((f" - {_user(view.gap_on_screen(g))}\n", WARNING))
        else:
            t.append(("nothing missing\n", SUCCESS))
        t.append("\n")
        for key, label in REVIEW_LABELS.items():
            if key == "whys":  # one line each, below
                continue
            value = getattr(r, key)
            t.append((f"{label}: ", "bold"))
            t.append((_user(value) + "\n" if value else "-\n", "" if value else MUTED))
        for i, why in enumerate(r.whys, 1):
            t.append((f"Why {i}: ", "bold"))
            t.append(_user(why) + "\n")
        t.append(("[r] edit review  /review   /close [OVERRIDE REASON]", MUTED))
        return Content.assemble(*t)


class ActionsPanel(ProcessPanel):
    """Follow-up actions with owner, due date and state; overdue ones in red."""

    BINDINGS = [Binding("a", "screen.add_action", "Add action", priority=True)]

    def clock_key(self, state: IncidentState, now: datetime) -> object:
        return now.date() if state.actions else None

    def build(self, state: IncidentState, now: datetime) -> Content:
        if not state.actions:
            return Content.styled("No follow-up actions.\n[a] add (form)  /action TITLE", MUTED)
        t: Parts = []
        colours = {
            ActionStatus.VERIFIED: SUCCESS,
            ActionStatus.DONE: ACCENT,
            ActionStatus.WONT_DO: MUTED,
            ActionStatus.IN_PROGRESS: WARNING,
        }
        for a in state.actions:
            flag = rules.action_flag(a, now)
            late = flag == "OVERDUE"
            t.append((f"{a.key} ", "bold"))
            t.append(_user(a.title) + "\n")
            t.append(
                (f"   {a.status:<11} ", f"bold {ERROR}" if late else colours.get(a.status, ""))
            )
            t.append(
                (
                    f"{_user(a.owner or 'no owner')}, due {a.due or '-'}",
                    ERROR if late or not (a.owner and a.due) else MUTED,
                )
            )
            if flag:
                t.append((f" {flag}", f"bold {ERROR}" if late else ACCENT))
            t.append((f"  {a.type}\n", MUTED))
            if a.verification:
                t.append((f"   verified: {_user(a.verification)}\n", SUCCESS))
            if a.reason:
                t.append((f"   won't do: {_user(a.reason)}\n", MUTED))
            if a.link:
                t.append((f"   tracked at {_user(a.link)}\n", MUTED))
        t.append(("[a] add (form)  /act ACT-n STATUS [NOTE]", MUTED))
        return Content.assemble(*t)


METRIC_LABELS = (
    ("time_to_detect", "detect"),
    ("time_to_report", "report"),
    ("time_to_acknowledge", "ack"),
    ("time_to_contain", "contain"),
    ("time_to_resolve", "resolve"),
)


def metrics_line(m: Metrics) -> Content:
    """`Time to detect - report 2m 00s ack 1m 00s contain 40m 00s resolve -`."""
    t: Parts = [("Time to ", "bold")]
    for i, (key, label) in enumerate(METRIC_LABELS):
        value = getattr(m, key)
        t.append((("  " if i else "") + label + " ", MUTED))
        shown = rules.format_duration(value)
        if key in m.out_of_order:  # unknown because the record's times run backwards
            shown += " (out of order)"
        t.append((shown, "bold" if value is not None else MUTED))
    if m.origin is not None:  # what contain and resolve are measured from (/mark moves it)
        t.append(
            (f"\n  contain, resolve: from {m.origin.name} {display.stamp(m.origin.at)} UTC", MUTED)
        )
    return Content.assemble(*t)


def _countdown(due: datetime, now: datetime) -> str:
    """Minutes while more than two are left, seconds below: changes once a minute."""
    return coarse(abs((due - now).total_seconds()), exact_below=120)
