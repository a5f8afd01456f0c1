"""What the screen shows about an incident, computed without Textual.

The widgets only render: the latest decision and the running metrics gathered from
the events seen so far, the closure gaps in the screen's words, and the words the
entry bar completes to. Each is a pure function of the incident's state (and what the
caller passes), so it is unit-tested without a Pilot. (Who is still to be told is
`escalation.pending_contacts`, which the command line shares.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from . import display, rules
from .escalation import pending_contacts
from .hooks import outbox
from .hooks.outbox import DeliveryRow
from .models import (
    Event,
    Gap,
    GapKind,
    IncidentState,
    Kind,
    Metrics,
    Role,
    Severity,
    incident_key,
)

if TYPE_CHECKING:  # the command registry is not part of the first frame
    from .entry import Arg

# How the screen marks an update final: a tick in the draft, not the CLI's `--final`.
MARK_FINAL = "tick Final in the update draft: u"


def gap_on_screen(gap: Gap) -> str:
    """A closure gap in the screen's terms."""
    if gap.kind is GapKind.FINAL_UPDATE:
        return rules.final_update_missing(MARK_FINAL)
    return str(gap)


def known_words(
    state: IncidentState | None,
    incidents: Iterable[int],
    escalation: Mapping[Severity, list[str]],
    playbooks: Iterable[str] = (),
) -> dict[Arg, list[str]]:
    """What the entry bar completes arguments to for the open incident: its steps (open
    ones for /check, done ones for /uncheck), the people on it, the contacts still to
    tell, its evidence and actions, the incidents on the board and the playbooks."""
    from .entry import Arg

    known: dict[Arg, list[str]] = {
        Arg.INCIDENT: [incident_key(n) for n in incidents],
        Arg.PLAYBOOK: sorted(playbooks),
    }
    if state is None:
        return known
    people = sorted({p for r in Role for p in state.people(r)}, key=str.casefold)
    known[Arg.STEP] = [str(i.n) for i in state.checklist if not i.done]
    known[Arg.DONE_STEP] = [str(i.n) for i in state.checklist if i.done]
    known[Arg.PERSON] = people
    known[Arg.CONTACT] = pending_contacts(escalation, state)
    known[Arg.NOTIFIED] = [f'"{n.who}"' if " " in n.who else n.who for n in state.notifications]
    known[Arg.EVIDENCE] = [e.key for e in state.evidence]
    known[Arg.ACTION] = [a.key for a in state.actions]
    return known


class Running:
    """What the screen gathers from the events of the open incident as they arrive
    (the tail first, older history later, live batches after): the latest decision,
    for the update draft, and the response metrics, without keeping every event."""

    def __init__(self) -> None:
        self.latest_decision: str | None = None
        self._latest_decision_id = 0
        self._metric_events: dict[int, Event] = {}
        self.metrics: Metrics | None = None

    @staticmethod
    def wanted(ev: Event) -> bool:
        """Whether `note` needs this event: history readers keep only these."""
        return ev.kind in rules.METRIC_KINDS or ev.kind is Kind.DECISION

    def note(self, events: Iterable[Event]) -> bool:
        """Take in newly seen events, in any order; True when the metrics changed."""
        changed = False
        for ev in events:
            if ev.kind is Kind.DECISION and (
                self.latest_decision is None or ev.id > self._latest_decision_id
            ):
                self.latest_decision, self._latest_decision_id = ev.text, ev.id
            elif ev.kind in rules.METRIC_KINDS and (
                ev.kind is not Kind.ASSIGN or ev.data.get("role") == Role.COMMANDER.value
            ):
                self._metric_events[ev.id] = ev
                changed = True
        if changed:
            self.metrics = rules.metrics(
                [self._metric_events[k] for k in sorted(self._metric_events)]
            )
        return changed


# ------------------------------------------------------------------ deliveries

#: How a delivery's latest state reads beside its hook's name, and its tone (the
#: colour the screen gives it): sent, failing (refused, given up, or retrying after
#: a failure) or waiting (queued, being sent).
SENT, FAILING, WAITING = "sent", "failing", "waiting"
#: A reason on the timeline's line is cut to this many characters (the Comms tab and
#: `ircmd deliveries` show it whole).
SHORT_REASON = 48


def delivery_mark(d: DeliveryRow, *, reason_chars: int = SHORT_REASON) -> tuple[str, str]:
    """One hook's delivery of one event as the screen shows it, and its tone:
    `ops ✓`, `email ✗ 550 mailbox unavailable`, `email ✗ gave up timeout`,
    `pager … retrying 503`, `pager … queued`. User text (the hook's name, the far
    end's reason) is made printable; it is never read as markup."""
    hook = display.printable(d.hook)
    said = " ".join(x for x in (d.last_status, _cut(d.last_reason, reason_chars)) if x)
    said = display.printable(said)
    match d.shown_state:
        case outbox.SENT:
            return f"{hook} ✓", SENT
        case outbox.FAILED:
            return f"{hook} ✗ {said or 'failed'}", FAILING
        case outbox.GAVE_UP:
            return f"{hook} ✗ gave up{' ' + said if said else ''}", FAILING
        case "retrying":
            return f"{hook} … retrying{' ' + said if said else ''}", FAILING
        case state:
            return f"{hook} … {state}", WAITING


def _cut(text: str, chars: int) -> str:
    text = " ".join(text.split())  # one line, whatever the far end sent
    return text if len(text) <= chars else text[: chars - 1] + "…"


def deliveries_by_event(rows: Iterable[DeliveryRow]) -> dict[int, tuple[tuple[str, str], ...]]:
    """Event id -> its deliveries' marks (`delivery_mark`), one per hook in the order
    the hooks were queued: what the timeline shows under the line delivered."""
    found: dict[int, list[tuple[str, str]]] = {}
    for d in rows:
        found.setdefault(d.event_id, []).append(delivery_mark(d))
    return {k: tuple(v) for k, v in found.items()}


def failing(rows: Iterable[DeliveryRow]) -> list[DeliveryRow]:
    """Refused, given up, or retrying after a failure: what someone should look at."""
    return [d for d in rows if d.failing]


def waiting(rows: Iterable[DeliveryRow]) -> list[DeliveryRow]:
    """Still to be sent (queued, retrying, being sent)."""
    return [d for d in rows if d.state in outbox.PENDING]


def delivery_warning(failing: int, waiting: int, deliverer: bool | None) -> str:
    """The header's words on the open incident's deliveries, "" when all is well: how
    many are failing, and how many wait while no deliverer is running (`deliverer`
    None: not known yet, and not said: a screen just opened has not read presence).
    Both at once in fewer words, so that the line still holds the countdown at 80
    columns."""
    stuck = waiting if deliverer is False else 0
    if failing and stuck:
        return f"deliveries: {failing} failing, {stuck} waiting, no deliverer"
    if failing:
        return f"deliveries failing: {failing}"
    if stuck:
        return f"{stuck} deliver{'ies' if stuck != 1 else 'y'} waiting, no deliverer running"
    return ""
