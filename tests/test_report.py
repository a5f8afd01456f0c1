"""Postmortem reports: Markdown, JSON and CSV from a loaded incident, and `ircmd report`."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from helpers.cli import ircmd

from ircmd import report
from ircmd.escalation import load_escalation
from ircmd.models import Audience, Role, Severity, Status
from ircmd.store import Store

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def build(path: Path) -> Store:
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


async def test_markdown_json_csv_from_the_record(tmp_path: Path) -> None:
    store = await build(tmp_path / "r.db")
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


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return ircmd(*args, db=tmp_path / "r.db", home=tmp_path)


async def test_cli_report_formats_and_output_file(tmp_path: Path) -> None:
    await (await build(tmp_path / "r.db")).close()
    md = cli(tmp_path, "report", "INC-1")
    assert md.returncode == 0 and md.stdout.startswith("# INC-1: Payments [red] down")
    js = cli(tmp_path, "report", "INC-1", "--format", "json")
    assert json.loads(js.stdout)["review"]["root_cause"] == "no canary"
    out = tmp_path / "pm.csv"
    r = cli(tmp_path, "report", "INC-1", "--format", "csv", "-o", str(out))
    assert r.returncode == 0 and r.stdout == ""
    assert out.read_text(encoding="utf-8").startswith("id,occurred_at,")
    for args, says in (
        (("report", "INC-2"), "no incident INC-2"),
        (("report", "INC-1", "--format", "pdf"), "invalid value for '--format'"),
        (("report", "INC-1", "-o", str(tmp_path / "no" / "such" / "dir.md")), "cannot write"),
    ):
        r = cli(tmp_path, *args)
        assert r.returncode != 0
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("ircmd: error: ")
        assert says.lower() in lines[0].lower()


HOSTILE = "\x07bell\rcr \x1b[31mred\x1b[0m \u202eevil"


async def test_markdown_shows_controls_safely_and_json_keeps_them_exact(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "r.db", clock=lambda: T0)
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


async def test_the_markdown_timeline_is_in_the_order_things_happened(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "x.db", clock=lambda: T0) as store:
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
