"""Reports from a loaded incident: Markdown for people, JSON and CSV for tools. Pure."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from . import display, rules
from .models import REVIEW_LABELS, Event, Head, IncidentState, Severity
from .rules import Metrics

# An entry written this long after the moment it records is marked as back-dated.
BACKDATED = timedelta(minutes=1)


def incident_json(
    state: IncidentState,
    events: Sequence[Event],
    now: datetime,
    escalation: Mapping[Severity, list[str]],
    *,
    head: Head | None = None,
) -> dict[str, Any]:
    """Everything `show --json` and `report --format json` say about one incident,
    with the whole database's chain head read with it (null if not given), which
    `ircmd verify` and the anchor log can be held against later.

    User text is exact, byte for byte: this is data for tools. json.dumps escapes
    C0 controls (ESC, BEL, CR) as \\u001b and the like, and json.loads gives the
    stored text back."""
    summary = incident_json_head(state, rules.metrics(events), now, escalation, head=head)
    return summary | {"events": [e.model_dump(mode="json") for e in events]}


def incident_json_head(
    state: IncidentState,
    metrics: Metrics,
    now: datetime,
    escalation: Mapping[Severity, list[str]],
    *,
    head: Head | None = None,
) -> dict[str, Any]:
    """`incident_json` without its events, which a large incident streams
    (`json_open`)."""
    due = rules.next_update_due(state)
    required = escalation.get(state.incident.severity, [])
    return {
        "incident": state.incident.model_dump(mode="json") | {"key": state.incident.key},
        "roles": [a.model_dump(mode="json") for a in state.roles],
        "missing_roles": [r.value for r in rules.missing_roles(state)],
        "checklist": [i.model_dump(mode="json") for i in state.checklist],
        "updates": [u.model_dump(mode="json") for u in state.updates],
        "next_update_due": due.isoformat() if due else None,
        "update_overdue": bool(due and now > due),
        "escalation": {
            "required": required,
            "pending": rules.pending_notifications(required, state),
            "notified": [n.model_dump(mode="json") for n in state.notifications],
        },
        "evidence": [e.model_dump(mode="json") | {"key": e.key} for e in state.evidence],
        "review": state.review.model_dump(mode="json"),
        "actions": [a.model_dump(mode="json") | {"key": a.key} for a in state.actions],
        "playbooks": [p.model_dump(mode="json") for p in state.playbooks],
        "closure_gaps": rules.closure_gaps(state, state.incident.resolved_at),
        "metrics": metrics_json(metrics),
        "head": head.model_dump(mode="json") if head else None,
    }


def metrics_json(m: Metrics) -> dict[str, Any]:
    """The durations, and which of them the record's times make impossible."""
    return m.model_dump() | ({"out_of_order": list(m.out_of_order)} if m.out_of_order else {})


def json_open(head_text: str) -> str:
    """`display.json_text(incident_json(...))` is written piece by piece for a large
    incident: this opening (the text of `incident_json_head` with an "events" list
    begun), then `json_events` for each chunk of events in id order, then
    `JSON_CLOSE`. The pieces are laid out exactly as json.dumps(indent=2) lays out
    the whole, so 100,000 events never sit in memory as one structure or string."""
    return head_text.removesuffix("\n}") + ',\n  "events": ['


def json_events(events: Sequence[Event], first: bool) -> str:
    """A chunk of the "events" list; `first` when nothing of the list precedes it."""
    items = [display.json_text(e.model_dump(mode="json")).replace("\n", "\n    ") for e in events]
    return ("\n    " if first else ",\n    ") + ",\n    ".join(items)


# The end of the streamed JSON; the list is never empty: an incident has its declaration.
JSON_CLOSE = "\n  ]\n}"


def incident_markdown(
    state: IncidentState, events: Sequence[Event], now: datetime, *, head: Head | None = None
) -> str:
    """A postmortem-shaped summary, readable in a terminal or pasted into a wiki; ends
    with the database's chain head when given."""
    timeline = sorted(events, key=lambda e: (e.occurred_at, e.id))
    tail = [markdown_record(head)] if head is not None else []
    return "\n".join(
        [markdown_head(state, rules.metrics(events), now), *map(markdown_event, timeline), *tail]
    )


def markdown_record(head: Head) -> str:
    """The report's last section: the chain's head when it was read, which an anchor
    or a later `ircmd verify` can be compared with."""
    return "\n".join(
        ["", "## Record", _markdown_line(f"- chain head when read: {head.label} (whole database)")]
    )


def markdown_head(state: IncidentState, m: Metrics, now: datetime) -> str:
    """The Markdown report up to its timeline's heading; `markdown_event` gives each
    line that follows, so a long timeline is written as it is read."""
    inc = state.incident
    lines = [
        f"# {inc.key}: {inc.title}",
        "",
        f"- severity: {inc.severity} ({inc.severity.label})",
        f"- status: {inc.status}",
        f"- type: {inc.type or '-'}; impact {inc.impact or '-'}, urgency {inc.urgency or '-'}",
        f"- declared: {display.stamp(inc.declared_at)} UTC by {inc.declared_by}",
    ]
    if inc.summary:
        lines.append(f"- summary: {inc.summary}")
    due = rules.next_update_due(state)
    if due:
        late = " (OVERDUE)" if now > due else ""
        lines.append(f"- next update due: {display.stamp(due)} UTC{late}")
    lines += ["", "## Roles"]
    lines += [f"- {a.role}: {a.person}" for a in state.roles] or ["- none assigned"]
    lines += [f"- {r}: MISSING" for r in rules.missing_roles(state)]
    if state.checklist:
        lines += ["", "## Checklist"]
        for i in state.checklist:
            mark = "x" if i.done else " "
            by = f" ({i.done_by} {display.hhmm(i.done_at)})" if i.done and i.done_at else ""
            lines.append(f"- [{mark}] {i.n}. {i.phase}: {i.text}{by}")
    if state.evidence:
        lines += ["", "## Evidence"]
        for e in state.evidence:
            lines.append(f"- {e.key} {e.description} (held by {e.custodian})")
            lines += [
                f"  - {display.stamp(t.at)} {t.from_person} -> {t.to_person}: {t.reason}"
                for t in e.transfers
            ]
    r = state.review
    if r.updated_at:
        lines += ["", "## Review"]
        for field, label in REVIEW_LABELS.items():
            value = getattr(r, field)
            if value and field != "whys":  # the whys follow, one line each
                lines.append(f"- {label.lower()}: {value}")
        lines += [f"- why {i}: {w}" for i, w in enumerate(r.whys, 1)]
    if state.actions:
        lines += ["", "## Follow-up actions"]
        lines += [
            f"- {a.key} [{a.status}] {a.title} ({a.type}; {a.owner or 'no owner'}; "
            f"due {a.due or '-'})"
            for a in state.actions
        ]
    lines += ["", "## Metrics"]
    lines += [f"- {line}" for line in metric_lines(m)]
    # A postmortem reads in the order things happened: back-dated entries (`--at`,
    # `/at`) take their place, and say when they were written.
    lines += ["", "## Timeline (UTC, in the order things happened)"]
    return "\n".join(_markdown_line(line) for line in lines)


def markdown_event(ev: Event) -> str:
    """One timeline line of the Markdown report (events come in (occurred_at, id) order)."""
    backdated = ev.recorded_at - ev.occurred_at > BACKDATED
    written = f" (written {display.stamp(ev.recorded_at)})" if backdated else ""
    return _markdown_line(
        f"- {display.stamp(ev.occurred_at)} #{ev.id} {ev.actor}: {display.describe(ev)}{written}"
    )


def metric_lines(m: Metrics) -> list[str]:
    """`time to detect: 15m 00s`, one per metric; one whose times run backwards in
    the record (contained before impact began, say) shows as unknown and says why."""
    return [
        f"{k.replace('_', ' ')}: {rules.format_duration(v)}{m.note(k)}"
        for k, v in m.model_dump().items()
    ]


def _markdown_line(line: str) -> str:
    """One built line, its user text made safe (Markdown is read in terminals and
    editors): control, bidi and invisible characters shown as `display.printable`
    shows them. A heading stays one line (a newline in a title shows as ␊), and a
    list item's later lines are indented under it, so a multi-line note cannot
    start a heading or a new item, or end the list. Every line is built here to
    begin with our own text ("#", "-", indent or nothing), never with user text."""
    if line.startswith("#"):
        return display.printable(line)
    indent = " " * (len(line) - len(line.lstrip(" ")) + 2)
    return display.printable(line, keep_newlines=True).replace("\n", "\n" + indent)


CSV_HEADER = ["id", "occurred_at", "recorded_at", "actor", "kind", "text", "description", "hash"]

# OWASP's CSV-injection rule: a spreadsheet may run a cell that starts with one of these.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def incident_csv(events: Sequence[Event]) -> str:
    """The timeline as CSV, as one string (see `csv_rows`)."""
    return (csv_header() + csv_rows(events)).rstrip("\n")


def csv_header() -> str:
    return _csv_text([CSV_HEADER])


def csv_rows(events: Iterable[Event], *, for_terminal: bool = False) -> str:
    """CSV rows of the timeline, one per event; a long timeline is written a chunk
    at a time, after `csv_header`.

    Like JSON, this is data for tools, so text is exact (control characters
    included), and the csv module quotes any field holding a newline, CR or quote,
    so rows stay intact. Two exceptions. A cell that begins with `=`, `+`, `-`,
    `@`, tab or CR is prefixed with a single quote, so a spreadsheet shows it as
    text instead of evaluating it as a formula (OWASP's rule; the record itself is
    unchanged). And `for_terminal` (standard output is a terminal) shows control,
    bidi and invisible characters as `display.printable` does, like every other
    output."""

    def cell(value: str) -> str:
        if value.startswith(_FORMULA_START):
            value = "'" + value
        return display.printable(value, keep_newlines=True) if for_terminal else value

    return _csv_text(
        [
            e.id,
            e.occurred_at.isoformat(),
            e.recorded_at.isoformat(),
            cell(e.actor),
            e.kind,
            cell(e.text),
            cell(display.describe(e)),
            e.hash,
        ]
        for e in events
    )


def _csv_text(rows: Iterable[Sequence[object]]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue()
