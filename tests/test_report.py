"""Postmortem reports: Markdown, JSON and CSV from a loaded incident, and `ircmd report`."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from helpers.cli import clean_env, ircmd
from helpers.db import Ref

from bench import seed
from ircmd import display, report
from ircmd.escalation import load_escalation
from ircmd.models import (
    Audience,
    Kind,
    Level,
    Phase,
    Role,
    Severity,
    Status,
)
from ircmd.store import Store

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def build(path: Ref) -> Store:
    now = [T0]
    store = await Store.open(path, clock=lambda: now[0])
    inc = await store.declare(
        "Payments [red] down",
        actor="alice",
        severity=Severity.SEV1,
        type="outage",
        started_at=T0 - timedelta(minutes=20),
        detected_at=T0 - timedelta(minutes=5),
    )
    await store.assign(inc.id, Role.COMMANDER, "ian", actor="alice")
    await store.add_item(inc.id, "Roll back", actor="ian")
    await store.check(inc.id, 1, actor="rex")
    await store.add_evidence(inc.id, "api logs", actor="rex", sha256="f" * 64)
    await store.transfer_evidence(inc.id, 1, "fran", reason="analysis", actor="rex")
    now[0] = T0 + timedelta(minutes=40)
    await store.set_status(inc.id, Status.CONTAINED, actor="ian")
    await store.send_update(inc.id, Audience.EXTERNAL, "Fixed", actor="cara", final=True)
    await store.save_review(
        inc.id,
        actor="ian",
        summary="bad deploy",
        root_cause="no canary",
        lessons="canary",
        whys=["w1", "w2"],
    )
    await store.add_action(inc.id, "Add canary", actor="ian", owner="dave", due=date(2026, 4, 1))
    return store


async def test_markdown_json_csv_from_the_record(tmp_path: Path, db_ref: Ref) -> None:
    store = await build(db_ref)
    try:
        state, events = await store.state(1), await store.events(1)
    finally:
        await store.close()
    now = T0 + timedelta(hours=1)
    md = report.incident_markdown(state, events, now)
    assert md.startswith("# INC-1: Payments [red] down\n")  # user text left as typed
    for needle in (
        "- severity: SEV1 (critical)",
        "- commander: ian",
        "- scribe: MISSING",
        "- comms: MISSING",
        "- [x] 1. containment: Roll back (checked by rex at 09:00 UTC)",
        "- EV-1 api logs (held by fran)",
        "rex -> fran: analysis",
        "- root cause: no canary",
        "- why 2: w2",
        "- ACT-1 [open] Add canary (corrective; dave; due 2026-04-01)",
        "- time to detect: 15m 00s",
        "- time to contain: 1h 00m (from impact start 08:40 UTC to contained 09:40 UTC)",
        "## Timeline (in the order things happened)",
        "- 09:40 UTC external FINAL update by cara: Fixed",
    ):
        assert needle in md, needle
    assert "- next update due: 2026-03-01 10:10:00 UTC\n" in md  # SEV1: 30 min after 09:40
    assert "(OVERDUE)" in report.incident_markdown(state, events, now + timedelta(minutes=11))
    data = report.incident_json(state, events, now, load_escalation(None))
    # Plain JSON values only (no datetime left to a `default=`): it round-trips exactly.
    assert json.loads(json.dumps(data)) == data
    assert data["incident"]["key"] == "INC-1"
    assert data["missing_roles"] == ["scribe", "comms"]
    assert data["next_update_due"].startswith("2026-03-01T10:10:00")
    assert data["update_overdue"] is False
    assert data["escalation"]["required"][:2] == ["Head of engineering", "CTO"]
    assert data["closure_gaps"] == []
    assert data["metrics"]["time_to_acknowledge"] == 0.0
    assert [e["key"] for e in data["evidence"]] == ["EV-1"]
    assert [(e["id"], e["actor"], e["kind"], e["text"]) for e in data["events"]] == [
        (e.id, e.actor, e.kind.value, e.text) for e in events
    ]
    late = report.incident_json(state, events, now + timedelta(minutes=31), {})
    assert late["update_overdue"] is True
    assert late["escalation"] == {"required": [], "pending": [], "notified": []}

    rows = list(csv.reader(io.StringIO(report.incident_csv(events))))
    assert rows[0] == [
        "id",
        "occurred_at",
        "recorded_at",
        "actor",
        "kind",
        "text",
        "description",
        "hash",
    ]
    assert len(rows) == len(events) + 1
    assert rows[1][4] == "declare" and rows[1][5] == "Payments [red] down"
    assert [r[0] for r in rows[1:]] == [str(e.id) for e in events]


def cli(tmp_path: Path, db: Ref, *args: str) -> subprocess.CompletedProcess[str]:
    return ircmd(*args, db=db, home=tmp_path)


async def test_cli_report_formats_and_output_file(tmp_path: Path, db_ref: Ref) -> None:
    await (await build(db_ref)).close()
    md = cli(tmp_path, db_ref, "report", "INC-1")
    assert md.returncode == 0 and md.stdout.startswith("# INC-1: Payments [red] down")
    js = cli(tmp_path, db_ref, "report", "INC-1", "--format", "json")
    assert json.loads(js.stdout)["review"]["root_cause"] == "no canary"
    out = tmp_path / "pm.csv"
    r = cli(tmp_path, db_ref, "report", "INC-1", "--format", "csv", "-o", str(out))
    assert r.returncode == 0 and r.stdout == ""
    assert out.read_text(encoding="utf-8").startswith("id,occurred_at,")
    for args, says in (
        (("report", "INC-2"), "no incident INC-2"),
        (("report", "INC-1", "--format", "pdf"), "invalid value for '--format'"),
        (("report", "INC-1", "-o", str(tmp_path / "no" / "such" / "dir.md")), "cannot write"),
    ):
        r = cli(tmp_path, db_ref, *args)
        assert r.returncode != 0
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("ircmd: error: ")
        assert says.lower() in lines[0].lower()


HOSTILE = "\x07bell\rcr \x1b[31mred\x1b[0m \u202eevil"


async def test_markdown_shows_controls_safely_and_json_keeps_them_exact(
    tmp_path: Path, db_ref: Ref
) -> None:
    store = await Store.open(db_ref, clock=lambda: T0)
    try:
        title = f"# {HOSTILE}\n# injected heading"
        note = f"first line {HOSTILE}\n# not a heading\n\n- not an item"
        inc = await store.declare(title, actor="alice", severity=Severity.SEV2)
        await store.log(inc.id, note, actor="alice")
        await store.add_evidence(inc.id, f"disk {HOSTILE}", actor="alice")
        await store.save_review(inc.id, actor="alice", root_cause=HOSTILE)
        state, events = await store.state(inc.id), await store.events(inc.id)
    finally:
        await store.close()

    md = report.incident_markdown(state, events, T0)
    for raw in ("\x07", "\r", "\x1b", "\u202e"):
        assert raw not in md, repr(raw)
    shown = "\u2407bell\u240dcr \u241b[31mred\u241b[0m \\u202eevil"
    # The title heading stays one line; a newline in it is shown, not followed.
    assert md.startswith(f"# INC-1: # {shown}\u240a# injected heading\n")
    # A multi-line note keeps its lines, indented past where Markdown starts a block.
    assert f": first line {shown}\n      # not a heading\n      \n      - not an item\n" in md
    assert f"- EV-1 disk {shown} (held by alice)" in md
    assert f"- root cause: {shown}" in md
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert len(headings) == 1 + md.count("\n## ")
    lines = md.splitlines()
    assert all(not line or line.startswith(("#", "- ", "  ")) for line in lines), lines
    # User text on a later line sits four columns past its item's text, where no
    # heading, item or HTML block can begin.
    later = [line for line in lines if line.startswith(" ") and not line.startswith("  - ")]
    assert later and all(line.startswith("      ") for line in later), later

    data = json.loads(json.dumps(report.incident_json(state, events, T0, {}), ensure_ascii=False))
    assert data["incident"]["title"] == title
    assert data["evidence"][0]["description"] == f"disk {HOSTILE}"
    assert data["review"]["root_cause"] == HOSTILE
    assert [e["text"] for e in data["events"]][:2] == [title, note]

    rows = list(csv.reader(io.StringIO(report.incident_csv(events), newline="")))
    assert [r[5] for r in rows[1:3]] == [title, note]  # CSV is data: exact text


async def test_the_markdown_timeline_is_in_the_order_things_happened(
    tmp_path: Path, db_ref: Ref
) -> None:
    async with await Store.open(db_ref, clock=lambda: T0) as store:
        await store.declare(
            "Checkout down", actor="alice", severity=Severity.SEV2, at=T0 - timedelta(hours=2)
        )
        await store.log(1, "written now", actor="alice")
        await store.log(1, "remembered later", actor="bob", at=T0 - timedelta(hours=1))
        state, events = await store.state(1), await store.events(1)
    md = report.incident_markdown(state, events, T0)
    timeline = md.split("## Timeline")[1]
    assert timeline.index("remembered later") < timeline.index("written now")
    assert "#3 bob: remembered later (recorded 2026-03-01 09:00:00)" in timeline
    assert "written now (recorded" not in timeline


# A night's incident: impact starts before midnight and is contained after it.
NIGHT = datetime(2026, 3, 1, 23, 40, tzinfo=UTC)


async def build_postmortem(path: Ref) -> Store:
    """A SEV1 with an entry of each kind a postmortem reads: a decision later
    corrected, updates, an escalation, a commander hand-off, a scribe who left, a
    back-dated note, evidence passed on, a review and an action."""
    clock = [NIGHT]

    def at(hh: int, mm: int) -> datetime:
        day = NIGHT.date() if hh >= 12 else NIGHT.date() + timedelta(days=1)
        return datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC)

    store = await Store.open(path, clock=lambda: clock[0])
    inc = await store.declare(
        "Card payments failing",
        actor="alice",
        severity=Severity.SEV1,
        type="outage",
        impact=Level.HIGH,
        urgency=Level.MEDIUM,
        summary="EU card payments fail at checkout",
        commander="",  # ian takes command a moment later
        started_at=at(23, 27),
        detected_at=at(23, 35),
    )
    await store.assign(inc.id, Role.COMMANDER, "ian", actor="alice")
    await store.add_item(inc.id, "Roll back", actor="ian")
    await store.add_item(inc.id, "Restore traffic", actor="ian", phase=Phase.RECOVERY)
    clock[0] = at(23, 50)
    decision = await store.log(inc.id, "Roll back to v2.3", actor="ian", kind=Kind.DECISION)
    await store.assign(inc.id, Role.SCRIBE, "sam", actor="ian")
    await store.notify(inc.id, "CTO", actor="ian")
    await store.send_update(
        inc.id, Audience.INTERNAL, "Investigating", actor="ian", channel="slack"
    )
    await store.add_evidence(inc.id, "api logs", actor="rex", location="s3://logs")
    await store.transfer_evidence(inc.id, 1, "fran", reason="analysis", actor="rex")
    clock[0] = at(0, 30)
    await store.log(inc.id, "pager fired", actor="bob", at=at(23, 45))
    await store.assign(inc.id, Role.COMMANDER, "bob", actor="ian")
    await store.unassign(inc.id, Role.SCRIBE, "sam", actor="bob")
    await store.amend(inc.id, decision.id, "to v2.2: v2.3 has the bug too", actor="ian")
    await store.check(inc.id, 1, actor="rex")
    clock[0] = at(2, 39)
    await store.set_status(inc.id, Status.CONTAINED, actor="bob")
    await store.send_update(inc.id, Audience.EXTERNAL, "Fixed", actor="cara", final=True)
    await store.save_review(
        inc.id, actor="bob", summary="bad deploy", root_cause="no canary", lessons="canary"
    )
    await store.add_action(inc.id, "Add canary", actor="bob", owner="dave", due=date(2026, 4, 1))
    return store


POSTMORTEM_SECTIONS = [
    "# INC-1: Card payments failing",
    "## Summary",
    "## Impact",
    "## Key decisions",
    "## Communications sent",
    "## Notifications and escalation",
    "## Roles and hand-offs",
    "## Checklist",
    "## Evidence and chain of custody",
    "## Follow-up actions",
    "## Review",
    "## Timeline (in the order things happened)",
    *(["## Title history"] if report.RETITLE_KINDS else []),
    "## Record",
]


def sections(md: str) -> dict[str, list[str]]:
    """The report's lines under each heading, by heading."""
    found: dict[str, list[str]] = {}
    for line in md.splitlines():
        if line.startswith("#"):
            found[line] = []
            current = found[line]
        elif line:
            current.append(line)
    return found


async def test_the_markdown_reads_like_a_postmortem(tmp_path: Path, db_ref: Ref) -> None:
    async with await build_postmortem(db_ref) as store:
        state, events, head = await store.state(1), await store.events(1), await store.head()
    md = report.incident_markdown(
        state, events, NIGHT + timedelta(hours=4), load_escalation(None), head=head
    )
    got = sections(md)
    assert list(got) == POSTMORTEM_SECTIONS
    # Each metric says which two moments it runs between; the next day shows its date.
    assert got["## Summary"][3:] == [
        "- time to detect: 8m 00s (from impact start 23:27 UTC to detected 23:35 UTC)",
        "- time to report: 5m 00s (from detected 23:35 UTC to declared 23:40 UTC)",
        "- time to acknowledge: 0m 00s (from declared 23:40 UTC to commander assigned 23:40 UTC)",
        "- time to contain: 3h 12m (from impact start 23:27 UTC to contained 2026-03-02 02:39 UTC)",
        "- time to resolve: - (from impact start 23:27 UTC; resolved: not yet)",
    ]
    assert got["## Impact"] == [
        "- impact: high; urgency: medium; type: outage",
        "- summary: EU card payments fail at checkout",
        "- impact began: 2026-03-01 23:27:00 UTC",
        "- detected: 2026-03-01 23:35:00 UTC",
    ]
    assert got["## Key decisions"] == [
        "- 23:50 UTC #5 ian: Roll back to v2.3",
        "  - corrected by #14 ian at 2026-03-02 00:30:00: to v2.2: v2.3 has the bug too",
    ]
    assert got["## Communications sent"] == [
        "- 23:50 UTC internal update by ian via slack: Investigating",
        "- 2026-03-02 02:39 UTC external FINAL update by cara: Fixed",
        "- next update due: 2026-03-02 03:09:00 UTC (OVERDUE)",
    ]
    assert got["## Notifications and escalation"] == [
        "- 23:50 UTC CTO notified by ian",
        *[
            f"- {who}: NOT NOTIFIED (required for SEV1)"
            for who in ("Head of engineering", "Customer support lead", "Legal", "Status page")
        ],
    ]
    assert got["## Roles and hand-offs"] == [
        "- commander: bob (since 2026-03-02 00:30 UTC)",
        "- scribe: MISSING",
        "- comms: MISSING",
        "- hand-offs, in the order they happened:",
        "  - 23:40 UTC #2 alice: ian is commander",
        "  - 23:50 UTC #6 ian: sam is scribe",
        "  - 2026-03-02 00:30 UTC #12 ian: commander handed off ian -> bob",
        "  - 2026-03-02 00:30 UTC #13 bob: sam is no longer scribe",
    ]
    assert got["## Checklist"] == [
        "- [x] 1. containment: Roll back (checked by rex at 2026-03-02 00:30 UTC)",
        "- [ ] 2. recovery: Restore traffic (not done)",
    ]
    assert got["## Evidence and chain of custody"] == [
        "- EV-1 api logs (held by fran)",
        "  - 2026-03-01 23:50:00 collected by rex at s3://logs",
        "  - 2026-03-01 23:50:00 rex -> fran: analysis",
    ]
    assert got["## Follow-up actions"] == [
        "- ACT-1 [open] Add canary (corrective; dave; due 2026-04-01)"
    ]
    assert got["## Review"][:2] == ["- summary: bad deploy", "- root cause: no canary"]
    assert got["## Record"] == [f"- chain head when read: {head.label} (whole database)"]

    # The timeline runs by when things happened: the note written at 00:30 about
    # 23:45 sits between 23:40 and 23:50, and says when it was written; the
    # decision shows its correction.
    timeline = got["## Timeline (in the order things happened)"]
    assert timeline[4:8] == [
        "- 2026-03-01 23:45:00 #11 bob: pager fired (recorded 2026-03-02 00:30:00)",
        "- 2026-03-01 23:50:00 #5 ian: DECISION: Roll back to v2.3",
        "  - corrected by #14 ian at 2026-03-02 00:30:00: to v2.2: v2.3 has the bug too",
        "- 2026-03-01 23:50:00 #6 ian: sam is scribe",
    ]
    stamps = [line[2:21] for line in timeline if line.startswith("- ")]
    assert stamps == sorted(stamps) and len(stamps) == len(events)


async def test_the_json_report_carries_the_same_sections(tmp_path: Path, db_ref: Ref) -> None:
    async with await build_postmortem(db_ref) as store:
        state, events = await store.state(1), await store.events(1)
    data = report.incident_json(state, events, NIGHT, load_escalation(None))
    assert list(data) == [
        "incident",
        "summary",
        "metrics",
        "impact",
        "updates",
        "next_update_due",
        "update_overdue",
        "escalation",
        "roles",
        "missing_roles",
        "checklist",
        "evidence",
        "actions",
        "review",
        "playbooks",
        "closure_gaps",
        "head",
        "decisions",
        "handoffs",
        *(["title_history"] if report.RETITLE_KINDS else []),
        "events",
    ]
    assert data["summary"]["time_to_contain"] == {
        "seconds": 3 * 3600 + 12 * 60,
        "out_of_order": False,
        "from": {"what": "impact start", "at": "2026-03-01T23:27:00+00:00"},
        "to": {"what": "contained", "at": "2026-03-02T02:39:00+00:00"},
    }
    assert data["summary"]["time_to_resolve"]["to"] == {"what": "resolved", "at": None}
    assert data["impact"] == {
        "impact": "high",
        "urgency": "medium",
        "type": "outage",
        "summary": "EU card payments fail at checkout",
        "started_at": "2026-03-01T23:27:00Z",
        "detected_at": "2026-03-01T23:35:00Z",
        "details": None,
    }
    [decision] = data["decisions"]
    assert decision == {
        "id": 5,
        "kind": "decision",
        "occurred_at": "2026-03-01T23:50:00Z",
        "recorded_at": "2026-03-01T23:50:00Z",
        "actor": "ian",
        "text": "Roll back to v2.3",
        "data": {},
        "backdated": False,
        "description": "DECISION: Roll back to v2.3",
        "corrected_by": [14],
    }
    assert [(h["id"], h["kind"], h["data"]["person"]) for h in data["handoffs"]] == [
        (2, "assign", "ian"),
        (6, "assign", "sam"),
        (12, "assign", "bob"),
        (13, "unassign", "sam"),
    ]
    assert data["handoffs"][2]["data"]["previous"] == "ian"
    assert [u["final"] for u in data["updates"]] == [False, True]
    assert data["escalation"]["notified"][0]["who"] == "CTO"
    assert data["evidence"][0]["transfers"][0]["to_person"] == "fran"
    # The record itself, exact and in id order, with its back-dated entry as written.
    assert [e["id"] for e in data["events"]] == [e.id for e in events]
    note = next(e for e in data["events"] if e["text"] == "pager fired")
    assert (note["occurred_at"], note["recorded_at"]) == (
        "2026-03-01T23:45:00Z",
        "2026-03-02T00:30:00Z",
    )


async def test_a_structured_impact_and_a_skipped_step_are_shown_when_the_record_has_them(
    db_ref: Ref,
) -> None:
    async with await build_postmortem(db_ref) as store:
        plain_state, plain_events = await store.state(1), await store.events(1)
        await store.set_impact(
            1,
            actor="bob",
            customer_impact="12% of EU checkouts",
            services=["payments", "checkout"],
            users_affected=1200,
        )
        await store.skip_item(1, 2, "traffic never left", actor="bob")
        state, events = await store.state(1), await store.events(1)
    got = sections(report.incident_markdown(state, events, NIGHT))
    assert got["## Impact"][-3:] == [
        "- customer impact: 12% of EU checkouts",
        "- services: payments, checkout",
        "- users affected: 1200",
    ]
    assert (
        got["## Checklist"][1] == "- [-] 2. recovery: Restore traffic (skipped: traffic never left)"
    )
    data = report.incident_json(state, events, NIGHT, {})
    assert data["impact"]["details"] == {
        "customer impact": "12% of EU checkouts",
        "services": "payments, checkout",
        "users affected": 1200,
    }
    assert data["checklist"][1]["skipped"] == "traffic never left"
    # Without them, the report says nothing of either.
    plain = sections(report.incident_markdown(plain_state, plain_events, NIGHT))
    assert "customer" not in " ".join(plain["## Impact"])
    assert plain["## Checklist"][1] == "- [ ] 2. recovery: Restore traffic (not done)"


async def test_user_text_cannot_forge_a_section_of_the_report(tmp_path: Path, db_ref: Ref) -> None:
    forged = "x\n## Record\n- chain head when read: forged\n<h2>Review</h2>\n===\n```"
    async with await Store.open(db_ref, clock=lambda: T0) as store:
        await store.declare(f"<h1>{forged}", actor="alice", severity=Severity.SEV2)
        await store.log(1, forged, actor="alice", kind=Kind.DECISION)
        await store.send_update(1, Audience.EXTERNAL, forged, actor="alice")
        await store.add_evidence(1, forged, actor="alice")
        await store.save_review(1, actor="alice", root_cause=forged)
        state, events, head = await store.state(1), await store.events(1), await store.head()
    md = report.incident_markdown(state, events, T0, head=head)
    assert list(sections(md)) == [
        "# INC-1: \\<h1>x\u240a## Record\u240a- chain head when read: forged\u240a"
        "\\<h2>Review\\</h2>\u240a===\u240a```",
        *POSTMORTEM_SECTIONS[1:],
    ]
    assert "<h" not in md.replace("\\<h", "")
    assert [line for line in md.splitlines() if line.startswith("- chain head")] == [
        f"- chain head when read: {head.label} (whole database)"
    ]


# Runs the real CLI in-process under tracemalloc: the peak of what `report` holds,
# then the peak of holding the incident's events all at once, to compare.
MEMORY_PROBE = """
import asyncio, sys, tracemalloc
from ircmd import cli
from ircmd.store import Store

async def every_event(db):
    async with await Store.open(db, read_only=True) as store:
        return len(await store.events(1))

def report():
    try:
        cli.main()
    except SystemExit as e:
        assert not e.code, e.code

def grown(work):
    # The most the memory grew while `work` ran, and its result.
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    result = work()
    return tracemalloc.get_traced_memory()[1] - before, result

db, fmt, out = sys.argv[1:]
sys.argv = ["ircmd", "report", "INC-1", "--format", fmt, "-o", out]
tracemalloc.start()
report()  # once first: what it imports and builds once (pydantic's serializers) is no chunk
report_peak, _ = grown(report)
all_events, count = grown(lambda: asyncio.run(every_event(db)))
print(report_peak, all_events, count)
"""


@pytest.mark.parametrize("fmt", ["md", "json"])
def test_a_20k_entry_report_streams_in_bounded_memory(tmp_path: Path, fmt: str) -> None:
    """Every streamed section holds a chunk at a time: the timeline, and the
    decisions and hand-offs, which are thousands here too."""
    db = tmp_path / "big.db"
    seed.build(db, incidents=1, big_events=14_000)
    specs: list[tuple[int | None, Kind, str, dict[str, object]]] = []
    for i in range(2_000):
        responder: dict[str, object] = {"role": "responder", "person": f"p{i}"}
        specs += [
            (1, Kind.DECISION, f"decision {i}", {}),
            (1, Kind.ASSIGN, "", responder),
            (1, Kind.UNASSIGN, "", responder),
        ]
    seed.append_events(db, specs)
    out = tmp_path / f"report.{fmt}"
    env = clean_env(tmp_path / "home", {"IRCMD_DB": str(db), "IRCMD_USER": "alice"})
    r = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(db), fmt, str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    report_peak, all_events, count = map(int, r.stdout.split())
    assert count == 20_001
    assert report_peak < all_events / 4, (report_peak, all_events)
    text = out.read_text(encoding="utf-8")
    if fmt == "json":
        data = json.loads(text)
        assert (len(data["events"]), len(data["decisions"]), len(data["handoffs"])) == (
            20_001,
            2_000,
            4_000,
        )
    else:
        got = sections(text)
        assert len(got["## Timeline (in the order things happened)"]) == 20_001
        assert len(got["## Key decisions"]) == 2_000
        assert len([h for h in got["## Roles and hand-offs"] if h.startswith("  - ")]) == 4_000


@pytest.mark.parametrize("fmt", ["md", "json"])
async def test_the_cli_streams_the_whole_postmortem(tmp_path: Path, db_ref: Ref, fmt: str) -> None:
    """Each section read a chunk at a time comes out as the report read at once."""
    async with await build_postmortem(db_ref) as store:
        state, events, head = await store.state(1), await store.events(1), await store.head()
    out = cli(tmp_path, db_ref, "report", "INC-1", "--format", fmt)
    assert out.returncode == 0, out.stderr
    now = datetime.now(UTC)  # the CLI's clock: long past the incident's next update
    if fmt == "json":
        data = report.incident_json(state, events, now, load_escalation(None), head=head)
        assert out.stdout == display.json_text(data) + "\n"
    else:
        md = report.incident_markdown(state, events, now, load_escalation(None), head=head)
        assert out.stdout == md + "\n"
        assert "## Key decisions\n- 23:50 UTC #5 ian: Roll back to v2.3\n  - corrected" in md
