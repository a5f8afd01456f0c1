"""Panels of the response process: comms and escalation, evidence, review, actions.

Each renders one IncidentState as rich Text (user text through display.printable,
never as markup) and is refreshed whole: they are short, unlike the timeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Static

from .. import display, rules, view
from ..escalation import pending_contacts
from ..models import REVIEW_LABELS, ActionStatus, IncidentState, Severity, Status
from .header import coarse


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
        text = Text("No incident open.", style="dim") if state is None else self.build(state, now)
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

    def build(self, state: IncidentState, now: datetime) -> Text:
        raise NotImplementedError


# The panes' one-letter keys are priority bindings: they act on the key as it
# arrives, before a following key can move the focus (typing redirects to the bar).


class CommsPanel(ProcessPanel):
    """Next update due, updates sent, and who must still be told."""

    BINDINGS = [
        Binding("u", "screen.draft_update", "Draft update", priority=True),
        Binding("n", "screen.notify_pending", "Notify next", priority=True),
    ]

    def __init__(self, escalation: Mapping[Severity, list[str]], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._escalation = escalation

    def clock_key(self, state: IncidentState, now: datetime) -> object:
        due = rules.next_update_due(state)
        return None if due is None else _countdown(due, now)

    def build(self, state: IncidentState, now: datetime) -> Text:
        t = Text()
        due = rules.next_update_due(state)
        if due is None:
            t.append("No update cadence now", style="dim")
            if (
                not rules.final_update_sent(state, state.incident.resolved_at)
                and state.incident.resolved_at
            ):
                t.append(" - final update not yet sent", style="bold red")
        elif now > due:
            t.append(f"Update OVERDUE by {_countdown(due, now)}", style="bold red")
        else:
            t.append(f"Next update in {_countdown(due, now)} (by {display.hhmm(due)} UTC)")
        t.append("\n")
        required = self._escalation.get(state.incident.severity, [])
        pending = pending_contacts(self._escalation, state)
        t.append(f"Escalation ({state.incident.severity}): ", style="bold")
        t.append(f"{len(required) - len(pending)}/{len(required)} told")
        t.append("\n")
        # Who must still be told first: that is what the comms lead acts on.
        for who in pending:
            t.append(f" [ ] {_user(who)}", style="yellow")
            t.append("  pending\n", style="dim")
        listed = {w.casefold() for w in required}
        for n in state.notifications:
            t.append(f" [x] {_user(n.who)}", style="green")
            t.append(f"  {display.hhmm(n.notified_at)} by {_user(n.notified_by)}", style="dim")
            t.append("\n" if n.who.casefold() in listed else "  (extra)\n", style="dim")
        t.append("Updates sent", style="bold")
        t.append("  /update AUDIENCE TEXT\n", style="dim")
        for u in reversed(state.updates[-6:]):
            kind = f"{u.audience}{' FINAL' if u.final else ''}"
            t.append(f" {display.hhmm(u.sent_at)} {kind}", style="cyan")
            t.append(f" {_user(u.sent_by)}: {_user(u.text)[:200]}\n")
        if not state.updates:
            t.append(" none yet\n", style="dim")
        return t


class EvidencePanel(ProcessPanel):
    """Each item with its custody chain, newest transfer last."""

    BINDINGS = [
        Binding("e", "screen.add_evidence", "Register", priority=True),
        Binding("t", "screen.transfer_evidence", "Transfer", priority=True),
    ]

    def build(self, state: IncidentState, now: datetime) -> Text:
        t = Text()
        if not state.evidence:
            return Text("No evidence registered.\n[e] register  /evidence DESC", style="dim")
        for e in state.evidence:
            t.append(f"{e.key} ", style="bold")
            t.append(_user(e.description) + "\n")
            t.append(
                f"   collected {display.stamp(e.collected_at)} by {_user(e.collected_by)}",
                style="dim",
            )
            if e.location:
                t.append(f" at {_user(e.location)}", style="dim")
            t.append("\n")
            if e.sha256:
                t.append(f"   sha256 {e.sha256}\n", style="dim")
            for tr in e.transfers:
                t.append(
                    f"   {display.stamp(tr.at)} {_user(tr.from_person)} -> "
                    f"{_user(tr.to_person)}: {_user(tr.reason)}\n"
                )
            for a in e.amendments:
                t.append(f"   amended: {_user(a)}\n", style="italic")
            t.append("   held by ", style="dim")
            t.append(_user(e.custodian) + "\n", style="bold")
        t.append("[e] register  [t] transfer  /transfer EV-n TO REASON", style="dim")
        return t


class ReviewPanel(ProcessPanel):
    """Response metrics, the post-incident review as saved, and what closing still needs."""

    BINDINGS = [Binding("r", "screen.edit_review", "Edit review", priority=True)]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.metrics: rules.Metrics | None = None

    def build(self, state: IncidentState, now: datetime) -> Text:
        r = state.review
        t = Text()
        if self.metrics is not None:
            t.append_text(metrics_line(self.metrics))
            t.append("\n\n")
        gaps = rules.closure_gaps(state, state.incident.resolved_at)
        t.append("To close: ", style="bold")
        if state.incident.status is Status.CLOSED:
            t.append("closed\n", style="green")
        elif gaps:
            t.append("\n")
            for g in gaps:
                t.append(f" - {_user(view.gap_on_screen(g))}\n", style="yellow")
        else:
            t.append("nothing missing\n", style="green")
        t.append("\n")
        for key, label in REVIEW_LABELS.items():
            if key == "whys":  # one line each, below
                continue
            value = getattr(r, key)
            t.append(f"{label}: ", style="bold")
            t.append(_user(value) + "\n" if value else "-\n", style="" if value else "dim")
        for i, why in enumerate(r.whys, 1):
            t.append(f"Why {i}: ", style="bold")
            t.append(_user(why) + "\n")
        t.append("[r] edit review  /review   /close [OVERRIDE REASON]", style="dim")
        return t


class ActionsPanel(ProcessPanel):
    """Follow-up actions with owner, due date and state; overdue ones in red."""

    BINDINGS = [Binding("a", "screen.add_action", "Add action", priority=True)]

    def clock_key(self, state: IncidentState, now: datetime) -> object:
        return now.date() if state.actions else None

    def build(self, state: IncidentState, now: datetime) -> Text:
        if not state.actions:
            return Text("No follow-up actions.\n[a] add (form)  /action TITLE", style="dim")
        t = Text()
        colours = {
            ActionStatus.VERIFIED: "green",
            ActionStatus.DONE: "cyan",
            ActionStatus.WONT_DO: "dim",
            ActionStatus.IN_PROGRESS: "yellow",
        }
        for a in state.actions:
            late = rules.action_overdue(a, now)
            t.append(f"{a.key} ", style="bold")
            t.append(_user(a.title) + "\n")
            t.append(f"   {a.status:<11} ", style="bold red" if late else colours.get(a.status, ""))
            t.append(
                f"{_user(a.owner or 'no owner')}, due {a.due or '-'}{' OVERDUE' if late else ''}",
                style="red" if late or not (a.owner and a.due) else "dim",
            )
            t.append(f"  {a.type}\n", style="dim")
            if a.verification:
                t.append(f"   verified: {_user(a.verification)}\n", style="green")
            if a.reason:
                t.append(f"   won't do: {_user(a.reason)}\n", style="dim")
        t.append("[a] add (form)  /act ACT-n STATUS [NOTE]", style="dim")
        return t


METRIC_LABELS = (
    ("time_to_detect", "detect"),
    ("time_to_report", "report"),
    ("time_to_acknowledge", "ack"),
    ("time_to_contain", "contain"),
    ("time_to_resolve", "resolve"),
)


def metrics_line(m: rules.Metrics) -> Text:
    """`Time to detect - report 2m 00s ack 1m 00s contain 40m 00s resolve -`."""
    t = Text("Time to ", style="bold")
    for i, (key, label) in enumerate(METRIC_LABELS):
        value = getattr(m, key)
        t.append(("  " if i else "") + label + " ", style="dim")
        shown = rules.format_duration(value)
        if key in m.out_of_order:  # unknown because the record's times run backwards
            shown += " (out of order)"
        t.append(shown, style="bold" if value is not None else "dim")
    return t


def _countdown(due: datetime, now: datetime) -> str:
    """Minutes while more than two are left, seconds below: changes once a minute."""
    return coarse(abs((due - now).total_seconds()), exact_below=120)
