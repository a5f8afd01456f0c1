"""Reports from a loaded incident: Markdown for people, JSON and CSV for tools. Pure."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from . import display, rules
from .models import Event, Head, IncidentState, Severity

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
        "metrics": rules.metrics(events).model_dump(),
        "events": [e.model_dump(mode="json") for e in events],
        "head": head.model_dump(mode="json") if head else None,
    }


def incident_markdown(
    state: IncidentState, events: Sequence[Event], now: datetime, *, head: Head | None = None
) -> str:
    """A postmortem-shaped summary, readable in a terminal or pasted into a wiki; ends
    with the database's chain head when given."""
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
        for field in (
            "summary",
            "root_cause",
            "contributing_factors",
            "went_well",
            "went_poorly",
            "lessons",
        ):
            value = getattr(r, field)
            if value:
                lines.append(f"- {field.replace('_', ' ')}: {value}")
        lines += [f"- why {i}: {w}" for i, w in enumerate(r.whys, 1)]
    if state.actions:
        lines += ["", "## Follow-up actions"]
        lines += [
            f"- {a.key} [{a.status}] {a.title} ({a.type}; {a.owner or 'no owner'}; "
            f"due {a.due or '-'})"
            for a in state.actions
        ]
    m = rules.metrics(events)
    lines += ["", "## Metrics"]
    lines += [
        f"- {k.replace('_', ' ')}: {rules.format_duration(v)}" for k, v in m.model_dump().items()
    ]
    # A postmortem reads in the order things happened: back-dated entries (`--at`,
    # `/at`) take their place, and say when they were written.
    lines += ["", "## Timeline (UTC, in the order things happened)"]
    for ev in sorted(events, key=lambda e: (e.occurred_at, e.id)):
        backdated = ev.recorded_at - ev.occurred_at > BACKDATED
        written = f" (written {display.stamp(ev.recorded_at)})" if backdated else ""
        lines.append(
            f"- {display.stamp(ev.occurred_at)} #{ev.id} {ev.actor}: {display.describe(ev)}{written}"
        )
    if head is not None:
        lines += ["", "## Record", f"- chain head when read: {head.label} (whole database)"]
    return "\n".join(_markdown_line(line) for line in lines)


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


def incident_csv(events: Sequence[Event]) -> str:
    """The timeline as CSV. Like JSON, this is data for tools, so text is exact
    (control characters included): the export must match the record it is hashed
    from, and the csv module quotes any field holding a newline, CR or quote, so
    rows stay intact. It is not for reading in a terminal; that is the Markdown.
    A spreadsheet may evaluate a cell that begins with `=`, `+`, `-` or `@`;
    import it as text."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "occurred_at", "recorded_at", "actor", "kind", "text", "description", "hash"])
    for e in events:
        w.writerow(
            [
                e.id,
                e.occurred_at.isoformat(),
                e.recorded_at.isoformat(),
                e.actor,
                e.kind,
                e.text,
                display.describe(e),
                e.hash,
            ]
        )
    return buf.getvalue().rstrip("\n")
