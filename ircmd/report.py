"""Reports from the record: Markdown for people, JSON and CSV for tools.

A report is a list of parts: text known from the incident's state and the few
events read first (`FIRST_READ`), and `Streamed` sections read from the record a
chunk at a time (decisions, hand-offs, the timeline), so an incident of 100,000
entries never sits in memory whole. `stream` writes the parts as the caller reads
each section; `whole` gives the same text from events in memory. Pure: the caller
does the reading."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from . import display, rules
from .jsondump import jsonable
from .models import (
    REVIEW_LABELS,
    ChecklistItem,
    Event,
    Head,
    IncidentState,
    Kind,
    Metrics,
    Severity,
)
from .rules import Span

# An entry written this long after the moment it records is marked as back-dated.
BACKDATED = timedelta(minutes=1)


DECISION_KINDS = frozenset({Kind.DECISION})
HANDOFF_KINDS = frozenset({Kind.ASSIGN, Kind.UNASSIGN})
RETITLE_KINDS = frozenset({Kind.RETITLE})
# Structured changes that name (`corrects`) the event whose value they replace
# (`unassign` too, but it shows among the hand-offs: an incident may have thousands).
CORRECTION_KINDS = frozenset(
    {
        Kind.UNNOTIFY,
        Kind.ITEM_EDIT,
        Kind.ITEM_OWN,
        Kind.ACTION_RETYPE,
        Kind.RETITLE,
        Kind.SUMMARY,
        Kind.IMPACT,
        Kind.MARK,
    }
)


# Read before anything is written: the metrics' moments, every correction, so that
# each shows under the entry it corrects, and the deliveries' outcomes with the
# notifications they delivered, so that each update and notify says where it
# reached. Few events of any incident.
FIRST_READ = rules.METRIC_KINDS | {Kind.AMEND, Kind.DELIVERY, Kind.NOTIFY} | CORRECTION_KINDS


@dataclass(frozen=True)
class Streamed:
    """A section read from the record a chunk at a time: the events of `kinds`
    (all when None) in id order, or `by_time` in the order things happened. `text`
    gives a chunk's text (told whether it is the first chunk), `end` the section's
    closing (told whether any event came)."""

    kinds: frozenset[Kind] | None
    by_time: bool
    text: Callable[[Sequence[Event], bool], str]
    end: Callable[[bool], str]

    def select(self, events: Sequence[Event]) -> list[Event]:
        """This section's events among `events`, in the order the store's
        `event_chunks(kinds=..., by_time=...)` reads them."""
        chosen = [e for e in events if self.kinds is None or e.kind in self.kinds]
        if self.by_time:
            return sorted(chosen, key=lambda e: (e.occurred_at, e.id))
        return sorted(chosen, key=lambda e: e.id)


Part = str | Streamed


def whole(parts: Iterable[Part], events: Sequence[Event]) -> str:
    """A report at once, from events in memory: the text `stream` writes."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        chosen = part.select(events)
        if chosen:
            out.append(part.text(chosen, True))
        out.append(part.end(bool(chosen)))
    return "".join(out)


async def stream(
    parts: Iterable[Part],
    read: Callable[[Streamed], AsyncGenerator[list[Event], None]],
    write: Callable[[str], Any],
) -> None:
    """Write a report as it is read: `read` gives a streamed section's events a
    chunk at a time (never an empty chunk). Each read is closed (`aclosing`) before
    the next begins or the caller goes on, even when a write fails (the reader of
    the output gone away), so the store is never closed under an open cursor."""
    for part in parts:
        if isinstance(part, str):
            write(part)
            continue
        first = True
        async with aclosing(read(part)) as chunks:
            async for chunk in chunks:
                write(part.text(chunk, first))
                first = False
        write(part.end(not first))


def corrections(first_read: Iterable[Event]) -> dict[int, list[Event]]:
    """The corrections of each entry, by the corrected entry's id: `amend` of free
    text, and every structured change that names what it `corrects`."""
    found: dict[int, list[Event]] = {}
    for e in first_read:
        target = e.data.get("amends") if e.kind is Kind.AMEND else e.data.get("corrects")
        if target is not None:
            found.setdefault(int(target), []).append(e)
    return found


def deliveries(first_read: Iterable[Event]) -> dict[int, list[Event]]:
    """The final outcome of each delivery, by the id of the event it delivered: the
    latest `delivery` event of each hook, in the order the hooks first answered.
    From the record, as every other section: the outbox's queue is not the record,
    so a delivery queued and never tried has no outcome to report."""
    latest: dict[int, dict[str, Event]] = {}
    for e in sorted(first_read, key=lambda e: e.id):
        if e.kind is Kind.DELIVERY:
            latest.setdefault(int(e.data["of"]), {})[str(e.data["hook"])] = e
    return {of: list(hooks.values()) for of, hooks in latest.items()}


def notify_events(first_read: Iterable[Event]) -> dict[str, list[int]]:
    """The ids of the notify events of each contact (casefolded, as the escalation
    list matches names): the notifications section finds their deliveries by them."""
    found: dict[str, list[int]] = {}
    for e in first_read:
        if e.kind is Kind.NOTIFY:
            found.setdefault(str(e.data["who"]).casefold(), []).append(e.id)
    return found


def outcome_text(ev: Event) -> str:
    """One delivery's final outcome for people: `ops: sent (200)`, `email: failed
    (550 mailbox unavailable) after 3 attempts`, `ops: queued again by bob`."""
    d = ev.data
    said = " ".join(str(d[k]) for k in ("status", "reason") if d.get(k))
    match d["outcome"]:
        case "requeued":
            return f"{d['hook']}: queued again by {ev.actor}"
        case "failed" if d.get("retry_at"):
            what = "failing, to be retried"
        case "gave_up":
            what = "gave up"
        case outcome:
            what = str(outcome)
    tries = int(d.get("attempt") or 1)
    after = f" after {tries} attempts" if tries > 1 else ""
    return f"{d['hook']}: {what}" + (f" ({said})" if said else "") + after


def outcome_json(ev: Event) -> dict[str, Any]:
    """One delivery's final outcome as data: the hook, the outcome (sent, failed,
    gave_up, requeued), the far end's status and reason, and which event said so."""
    d = ev.data
    return {
        "hook": d["hook"],
        "outcome": d["outcome"],
        "status": d.get("status", ""),
        "reason": d.get("reason", ""),
        "attempt": d.get("attempt"),
        "retry_at": d.get("retry_at"),
        "delivery": d.get("delivery"),
        "event": ev.id,
        "at": ev.occurred_at.isoformat(),
    }


def backdated(ev: Event) -> bool:
    """Written well after the moment it records (`--at`, `/at`, or typed late)."""
    return ev.recorded_at - ev.occurred_at > BACKDATED


def structured_impact(state: IncidentState) -> dict[str, Any] | None:
    """What `/impact` set (customers, services, how many, the data-loss window), only
    the fields given; None while it has none."""
    impact = state.impact
    shown = {
        "customer impact": impact.customer_impact,
        "services": ", ".join(impact.services),
        "users affected": impact.users_affected,
        "records affected": impact.records_affected,
        "data lost from": impact.data_loss_from and f"{display.stamp(impact.data_loss_from)} UTC",
        "data lost to": impact.data_loss_to and f"{display.stamp(impact.data_loss_to)} UTC",
    }
    found = {k: v for k, v in shown.items() if v not in ("", None)}
    return found or None


def skip_reason(item: ChecklistItem) -> str | None:
    """Why a checklist step was marked not applicable, None if it was not."""
    return item.skip_reason or "no reason given" if item.skipped else None


# ------------------------------------------------------------------------- JSON


def incident_json(
    state: IncidentState,
    events: Sequence[Event],
    now: datetime,
    escalation: Mapping[Severity, list[str]],
    *,
    head: Head | None = None,
) -> dict[str, Any]:
    """What `show --json` and `report --format json` write (`json_parts`), from
    the incident's events in memory, as data."""
    first = [e for e in events if e.kind in FIRST_READ]
    data: dict[str, Any] = json.loads(
        whole(json_parts(state, first, now, escalation, head=head), events)
    )
    return data


def json_parts(
    state: IncidentState,
    first_read: Sequence[Event],
    now: datetime,
    escalation: Mapping[Severity, list[str]],
    *,
    head: Head | None = None,
) -> list[Part]:
    """The JSON report, laid out exactly as `display.json_text` lays out the whole:
    the sections `json_head` knows, then the streamed lists (key decisions,
    role hand-offs, title changes: `json_entry` each) and last "events", the
    incident's record in id order, exact, as `ircmd verify` reads it."""
    fixes = corrections(first_read)

    def entry(ev: Event) -> dict[str, Any]:
        return json_entry(ev, fixes)

    lists: list[tuple[str, frozenset[Kind] | None, Callable[[Event], dict[str, Any]]]] = [
        ("decisions", DECISION_KINDS, entry),
        ("handoffs", HANDOFF_KINDS, entry),
        ("title_history", RETITLE_KINDS, entry),
        ("events", None, jsonable),
    ]
    head_text = display.json_text(json_head(state, first_read, now, escalation, head=head))
    parts: list[Part] = [head_text.removesuffix("\n}")]
    for key, kinds, item in lists:
        parts += [f',\n  "{key}": [', _json_list(kinds, item)]
    return [*parts, "\n}"]


def _json_list(kinds: frozenset[Kind] | None, item: Callable[[Event], Any]) -> Streamed:
    """A streamed list, its items indented as json.dumps(indent=2) puts them at the
    second level; `[]` when empty."""

    def text(events: Sequence[Event], first: bool) -> str:
        items = [display.json_text(item(e)).replace("\n", "\n    ") for e in events]
        return ("\n    " if first else ",\n    ") + ",\n    ".join(items)

    return Streamed(kinds, False, text, lambda any_: "\n  ]" if any_ else "]")


def json_head(
    state: IncidentState,
    first_read: Sequence[Event],
    now: datetime,
    escalation: Mapping[Severity, list[str]],
    *,
    head: Head | None = None,
) -> dict[str, Any]:
    """The JSON report's sections known before the record is streamed, in the
    Markdown's order, with the whole database's chain head read with it (null if
    not given), which `ircmd verify` and the anchor log can be held against later.

    User text is exact, byte for byte: this is data for tools. json.dumps escapes
    C0 controls (ESC, BEL, CR) as \\u001b and the like, and json.loads gives the
    stored text back."""
    inc = state.incident
    due = rules.next_update_due(state)
    required = escalation.get(inc.severity, [])
    m = rules.metrics(first_read)
    incident = jsonable(inc)
    delivered = deliveries(first_read)
    notifies = notify_events(first_read)

    def outcomes(*event_ids: int) -> list[dict[str, Any]]:
        return [outcome_json(e) for i in event_ids for e in delivered.get(i, [])]

    return {
        "incident": incident | {"key": inc.key},
        "summary": {
            name: {
                "seconds": getattr(m, name),
                "out_of_order": name in m.out_of_order,
                "from": _moment_json(a),
                "to": _moment_json(b),
            }
            for name, (a, b) in rules.metric_spans(first_read).items()
        },
        "metrics": metrics_json(m),
        "impact": {
            "impact": inc.impact,
            "urgency": inc.urgency,
            "type": inc.type,
            "summary": inc.summary,
            "started_at": incident["started_at"],
            "detected_at": incident["detected_at"],
            "details": structured_impact(state),
        },
        "updates": [jsonable(u) | {"deliveries": outcomes(u.event_id)} for u in state.updates],
        "next_update_due": _iso(due),
        "update_overdue": bool(due and now > due),
        "escalation": {
            "required": required,
            "pending": rules.pending_notifications(required, state),
            "notified": [
                jsonable(n) | {"deliveries": outcomes(*notifies.get(n.who.casefold(), []))}
                for n in state.notifications
            ],
        },
        "roles": [jsonable(a) for a in state.roles],
        "missing_roles": [r.value for r in rules.missing_roles(state)],
        "checklist": [jsonable(i) | {"skipped": skip_reason(i)} for i in state.checklist],
        "evidence": [jsonable(e) | {"key": e.key} for e in state.evidence],
        "actions": [jsonable(a) | {"key": a.key} for a in state.actions],
        "review": jsonable(state.review),
        "playbooks": [jsonable(p) for p in state.playbooks],
        "closure_gaps": rules.closure_gaps(state, inc.resolved_at),
        "head": jsonable(head) if head else None,
    }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _moment_json(m: Span) -> dict[str, Any]:
    return {"what": m.what, "at": _iso(m.at)}


def json_entry(ev: Event, fixes: Mapping[int, list[Event]]) -> dict[str, Any]:
    """One entry of a streamed section: when it happened and when it was written,
    who, what it says, and the ids of the entries that correct it."""
    fields = {"id", "kind", "occurred_at", "recorded_at", "actor", "text", "data"}
    return jsonable(ev, include=fields) | {
        "backdated": backdated(ev),
        "description": display.describe(ev),
        "corrected_by": [c.id for c in fixes.get(ev.id, [])],
    }


def metrics_json(m: Metrics) -> dict[str, Any]:
    """The durations, and which of them the record's times make impossible."""
    return m.durations() | ({"out_of_order": list(m.out_of_order)} if m.out_of_order else {})


# --------------------------------------------------------------------- Markdown


def incident_markdown(
    state: IncidentState,
    events: Sequence[Event],
    now: datetime,
    escalation: Mapping[Severity, list[str]] | None = None,
    *,
    head: Head | None = None,
) -> str:
    """The Markdown report (`markdown_parts`) from the incident's events in memory."""
    first = [e for e in events if e.kind in FIRST_READ]
    return whole(markdown_parts(state, first, now, escalation or {}, head=head), events)


def markdown_parts(
    state: IncidentState,
    first_read: Sequence[Event],
    now: datetime,
    escalation: Mapping[Severity, list[str]],
    *,
    head: Head | None = None,
) -> list[Part]:
    """A postmortem, readable in a terminal or pasted into a wiki: first what its
    reader looks for (summary and metrics, impact, decisions, communications,
    escalation, roles, checklist, evidence, follow-up, review), then the timeline
    in the order things happened, the title's history, and last the database's
    chain head when given. Times are UTC throughout."""
    inc = state.incident
    day = inc.declared_at.astimezone(UTC).date()
    fixes = corrections(first_read)

    def entry(ev: Event) -> list[str]:
        line = f"- {display.stamp(ev.occurred_at)} #{ev.id} {ev.actor}: {display.describe(ev)}"
        return [line + _recorded(ev), *_corrections_of(ev, fixes)]

    def decision(ev: Event) -> list[str]:
        line = f"- {_clock(ev.occurred_at, day)} #{ev.id} {ev.actor}: {ev.text}"
        return [line + _recorded(ev), *_corrections_of(ev, fixes)]

    def handoff(ev: Event) -> list[str]:
        line = f"  - {_clock(ev.occurred_at, day)} #{ev.id} {ev.actor}: {display.describe(ev)}"
        return [line + _recorded(ev)]

    retitles: list[Part] = [
        _markdown_lines(["", "## Title history"]),
        _markdown_stream(RETITLE_KINDS, entry, "- never changed"),
    ]
    record = [f"- chain head when read: {head.label} (whole database)"] if head else []
    return [
        _markdown_line(f"# {inc.key}: {inc.title}"),
        _markdown_lines(summary_lines(state, first_read, day)),
        _markdown_lines(impact_lines(state, first_read)),
        _markdown_lines(["", "## Key decisions"]),
        _markdown_stream(DECISION_KINDS, decision, "- none recorded"),
        _markdown_lines(communication_lines(state, now, day, first_read)),
        _markdown_lines(escalation_lines(state, escalation, day, first_read)),
        _markdown_lines(role_lines(state, day)),
        _markdown_stream(HANDOFF_KINDS, handoff, "  - none"),
        _markdown_lines(checklist_lines(state, day)),
        _markdown_lines(evidence_lines(state)),
        _markdown_lines(action_lines(state)),
        _markdown_lines(review_lines(state)),
        # Back-dated entries (`--at`, `/at`) take their place, and say when they
        # were written.
        _markdown_lines(["", "## Timeline (in the order things happened)"]),
        _markdown_stream(None, entry, "- nothing recorded"),
        *retitles,
        *([_markdown_lines(["", "## Record", *record])] if record else []),
    ]


def _markdown_stream(
    kinds: frozenset[Kind] | None, lines: Callable[[Event], list[str]], none: str
) -> Streamed:
    """A streamed Markdown section's lines, in the order things happened; `none`
    when it has no event."""
    return Streamed(
        kinds,
        True,
        lambda chunk, _first: _markdown_lines(line for e in chunk for line in lines(e)),
        lambda any_: "" if any_ else _markdown_lines([none]),
    )


def _markdown_lines(lines: Iterable[str]) -> str:
    """Lines that follow what is already written, each made safe."""
    return "".join("\n" + _markdown_line(line) for line in lines)


def _clock(at: datetime, day: date) -> str:
    """`23:27 UTC` on the day the incident was declared, the date too on another."""
    if at.astimezone(UTC).date() == day:
        return f"{display.hhmm(at)} UTC"
    return f"{display.stamp(at)[:-3]} UTC"


def _recorded(ev: Event) -> str:
    return f" (recorded {display.stamp(ev.recorded_at)})" if backdated(ev) else ""


def _corrections_of(ev: Event, fixes: Mapping[int, list[Event]]) -> list[str]:
    """The entries that correct `ev`, shown under it (the record keeps both)."""
    return [
        f"  - corrected by #{c.id} {c.actor} at {display.stamp(c.occurred_at)}: {c.text}"
        for c in fixes.get(ev.id, [])
    ]


def summary_lines(state: IncidentState, first_read: Sequence[Event], day: date) -> list[str]:
    inc = state.incident
    return [
        "",
        "## Summary",
        f"- severity: {inc.severity} ({inc.severity.label})",
        f"- status: {inc.status}",
        f"- declared: {display.stamp(inc.declared_at)} UTC by {inc.declared_by}",
        *[f"- {line}" for line in metric_lines(first_read, day)],
    ]


def metric_lines(first_read: Sequence[Event], day: date) -> list[str]:
    """`time to contain: 1h 00m (from impact start 08:40 UTC to contained 09:40
    UTC)`, one per metric; one whose times run backwards in the record (contained
    before impact began, say) shows as unknown and says why."""
    m = rules.metrics(first_read)
    return [
        f"{name.replace('_', ' ')}: {rules.format_duration(getattr(m, name))}{m.note(name)}"
        f" ({_span(a, b, day)})"
        for name, (a, b) in rules.metric_spans(first_read).items()
    ]


def _span(a: Span, b: Span, day: date) -> str:
    """The two moments a metric runs between, or the one the record lacks."""
    if a.at is None:
        return f"{a.what}: not recorded"
    start = f"from {a.what} {_clock(a.at, day)}"
    return f"{start} to {b.what} {_clock(b.at, day)}" if b.at else f"{start}; {b.what}: not yet"


def impact_lines(state: IncidentState, first_read: Sequence[Event]) -> list[str]:
    """Levels, summary, when impact began and when it was noticed (the latest `/mark`
    of each, said so, else what the declaration said) and the structured impact."""
    inc = state.incident
    lines = [
        "",
        "## Impact",
        f"- impact: {inc.impact or '-'}; urgency: {inc.urgency or '-'}; type: {inc.type or '-'}",
    ]
    if inc.summary:
        lines.append(f"- summary: {inc.summary}")
    m = rules.metrics(first_read)
    for label, moment in (("impact began", m.impact_start), ("detected", m.detected)):
        if moment is not None:
            remarked = (
                ""
                if moment.event_id == _declare_id(first_read)
                else f" (re-marked, #{moment.event_id})"
            )
            lines.append(f"- {label}: {display.stamp(moment.at)} UTC{remarked}")
    return lines + [f"- {k}: {v}" for k, v in (structured_impact(state) or {}).items()]


def _declare_id(events: Iterable[Event]) -> int | None:
    return next((e.id for e in events if e.kind is Kind.DECLARE), None)


def _delivered_line(outcomes: Sequence[Event]) -> list[str]:
    """`  - delivered: ops: sent (200); email: failed (550 ...)`, or nothing."""
    return ["  - delivered: " + "; ".join(outcome_text(e) for e in outcomes)] if outcomes else []


def communication_lines(
    state: IncidentState, now: datetime, day: date, first_read: Sequence[Event]
) -> list[str]:
    """Each update sent, with where it reached (each hook's final outcome)."""
    lines = ["", "## Communications sent"]
    delivered = deliveries(first_read)
    for u in state.updates:
        final = " FINAL" if u.final else ""
        via = f" via {u.channel}" if u.channel else ""
        lines.append(
            f"- {_clock(u.sent_at, day)} {u.audience}{final} update by {u.sent_by}{via}: {u.text}"
        )
        lines += _delivered_line(delivered.get(u.event_id, []))
    if not state.updates:
        lines.append("- none sent")
    due = rules.next_update_due(state)
    if due:
        late = " (OVERDUE)" if now > due else ""
        lines.append(f"- next update due: {display.stamp(due)} UTC{late}")
    return lines


def escalation_lines(
    state: IncidentState,
    escalation: Mapping[Severity, list[str]],
    day: date,
    first_read: Sequence[Event],
) -> list[str]:
    """Who was told, with where each notify reached, and who still must be."""
    inc = state.incident
    required = escalation.get(inc.severity, [])
    delivered = deliveries(first_read)
    notifies = notify_events(first_read)
    lines = ["", "## Notifications and escalation"]
    for n in state.notifications:
        lines.append(f"- {_clock(n.notified_at, day)} {n.who} notified by {n.notified_by}")
        ids = notifies.get(n.who.casefold(), [])
        lines += _delivered_line([e for i in ids for e in delivered.get(i, [])])
    lines += [
        f"- {who}: NOT NOTIFIED (required for {inc.severity})"
        for who in rules.pending_notifications(required, state)
    ]
    return lines if len(lines) > 2 else [*lines, "- nobody notified, nobody required"]


def role_lines(state: IncidentState, day: date) -> list[str]:
    """The roles as they stand, then (streamed) every assignment and hand-off."""
    return [
        "",
        "## Roles and hand-offs",
        *[f"- {a.role}: {a.person} (since {_clock(a.assigned_at, day)})" for a in state.roles],
        *[f"- {r}: MISSING" for r in rules.missing_roles(state)],
        "- hand-offs, in the order they happened:",
    ]


def checklist_lines(state: IncidentState, day: date) -> list[str]:
    lines = ["", "## Checklist"]
    for i in state.checklist:
        skipped = skip_reason(i)
        if i.done and i.done_at:
            mark, note = "x", f" (checked by {i.done_by} at {_clock(i.done_at, day)})"
        elif skipped:
            mark, note = "-", f" (skipped: {skipped})"
        else:
            mark, note = " ", f" (@{i.assignee}, not done)" if i.assignee else " (not done)"
        lines.append(f"- [{mark}] {i.n}. {i.phase}: {i.text}{note}")
    return lines if state.checklist else [*lines, "- no steps"]


def evidence_lines(state: IncidentState) -> list[str]:
    """Each item with its whole chain of custody: collection, every transfer (and
    who made it, when not the holder), every amendment."""
    lines = ["", "## Evidence and chain of custody"]
    for e in state.evidence:
        where = f" at {e.location}" if e.location else ""
        sha = f" sha256:{e.sha256}" if e.sha256 else ""
        lines += [
            f"- {e.key} {e.description} (held by {e.custodian})",
            f"  - {display.stamp(e.collected_at)} collected by {e.collected_by}{where}{sha}",
        ]
        for t in e.transfers:
            by = f" (by {t.by})" if t.by != t.from_person else ""
            lines.append(
                f"  - {display.stamp(t.at)} {t.from_person} -> {t.to_person}{by}: {t.reason}"
            )
        lines += [f"  - amended: {a}" for a in e.amendments]
    return lines if state.evidence else [*lines, "- none collected"]


def action_lines(state: IncidentState) -> list[str]:
    lines = ["", "## Follow-up actions"]
    for a in state.actions:
        owner, due = a.owner or "no owner", a.due or "-"
        lines.append(f"- {a.key} [{a.status}] {a.title} ({a.type}; {owner}; due {due})")
        if a.link:
            lines.append(f"  - tracked at {a.link}")
    return lines if state.actions else [*lines, "- none"]


def review_lines(state: IncidentState) -> list[str]:
    r = state.review
    lines = ["", "## Review"]
    if not r.updated_at:
        return [*lines, "- not written yet"]
    for field, label in REVIEW_LABELS.items():
        value = getattr(r, field)
        if value and field != "whys":  # the whys follow, one line each
            lines.append(f"- {label.lower()}: {value}")
    return lines + [f"- why {i}: {w}" for i, w in enumerate(r.whys, 1)]


# `<` before a letter, `/`, `!` or `?`: where an HTML tag begins.
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def _markdown_line(line: str) -> str:
    """One built line, its user text made safe (Markdown is read in terminals and
    rendered in wikis): control, bidi and invisible characters shown as
    `display.printable` shows them, and `<` that would open an HTML tag escaped
    (`\\<`), so no `<h2>` renders as a section. A heading stays one line (a newline
    in a title shows as ␊). A list item's later lines are indented four columns
    past its text, where CommonMark starts no block (heading, item, quote, fence,
    rule, table or HTML), so a multi-line note cannot start a section or end the
    list. Every line is built here to begin with our own text ("#", "-", indent or
    nothing), never with user text."""
    if line.startswith("#"):
        return _TAG_START.sub(r"\\<", display.printable(line))
    indent = " " * (len(line) - len(line.lstrip(" ")) + 6)
    safe = _TAG_START.sub(r"\\<", display.printable(line, keep_newlines=True))
    return safe.replace("\n", "\n" + indent)


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
