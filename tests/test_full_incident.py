"""One incident run from declaration to closed through the command line alone,
reconstructed with --at so every time (and so every metric) is known."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from helpers.cli import Cli
from helpers.db import Ref

DAY = "2026-01-05T"


class Script:
    """Commands run as named people, reconstructed at `DAY`+`at`: the stdout of each,
    which must succeed."""

    def __init__(self, root: Path, db: Ref) -> None:
        self.cli = Cli(root, db)

    def __call__(self, user: str, *args: str, at: str | None = None) -> str:
        r = self.cli(*args, *(["--at", DAY + at + "Z"] if at else []), user=user)
        assert r.code == 0, f"{args}: {r.err}"
        assert r.err == "" or not r.err.startswith("ircmd: error"), r.err
        return r.out

    def json(self, *args: str) -> Any:
        return json.loads(self("auditor", *args))


def test_incident_from_declaration_to_closed(tmp_path: Path, db_ref: Ref) -> None:
    run = Script(tmp_path, db_ref)
    dump = tmp_path / "heap.dump"
    dump.write_bytes(b"\x00core dump of checkout-api\x01" * 100)

    # Identification and classification, with the service-outage playbook.
    out = run(
        "alice",
        "declare",
        "Checkout returns 500s",
        "--type",
        "outage",
        "--impact",
        "high",
        "--urgency",
        "high",
        "--playbook",
        "service-outage",
        "--started-at",
        DAY + "09:00Z",
        "--detected-at",
        DAY + "09:10Z",
        at="09:15",
    )
    assert out == "INC-1\n"

    # Roles: alice hands command to ian, who staffs the incident.
    run("alice", "assign", "INC-1", "ic", "ian", at="09:17")
    run("ian", "assign", "INC-1", "comms", "cara", at="09:18")
    run("ian", "assign", "INC-1", "scribe", "sam", at="09:18")
    run("ian", "assign", "INC-1", "responder", "rex", at="09:18")
    assert run.json("show", "INC-1", "--json")["missing_roles"] == []

    # Escalation: the comms lead works through the SEV1 list.
    esc = run("cara", "escalation", "INC-1").splitlines()
    assert esc[0].startswith("INC-1 SEV1 (critical): 0 of 5 notified")
    for who in ("Head of engineering", "CTO", "Customer support lead", "Legal", "Status page"):
        run("cara", "notify", "INC-1", who, at="09:20")
    assert (
        run("cara", "escalation", "INC-1").splitlines()[0]
        == "INC-1 SEV1 (critical): 5 of 5 notified"
    )

    # Containment: playbook steps checked off, an ad-hoc step, updates on cadence.
    for n in ("1", "2", "3"):
        run("rex", "check", "INC-1", n, at="09:30")
    assert run("rex", "checklist", "add", "INC-1", "Pin release 2026.01.05-1", at="09:31") == "10\n"
    run("rex", "check", "INC-1", "10", at="09:32")
    run(
        "cara",
        "update",
        "INC-1",
        "internal",
        "Rolling back 2026.01.05-2",
        "--channel",
        "#inc-1",
        at="09:33",
    )
    run(
        "cara",
        "update",
        "INC-1",
        "external",
        "Investigating checkout errors",
        "--channel",
        "statuspage",
        at="09:35",
    )
    run("sam", "log", "INC-1", "--kind", "decision", "roll back, no forward fix", at="09:36")

    # Evidence collected and handed over.
    assert (
        run(
            "rex",
            "evidence",
            "add",
            "INC-1",
            "Heap dump of checkout-api",
            "--file",
            str(dump),
            at="09:40",
        )
        == "EV-1\n"
    )
    run(
        "rex",
        "evidence",
        "add",
        "INC-1",
        "Deploy log",
        "--location",
        "s3://logs/deploy/2",
        at="09:41",
    )
    run(
        "rex",
        "evidence",
        "transfer",
        "INC-1",
        "EV-1",
        "fran",
        "--reason",
        "memory analysis",
        at="09:50",
    )
    run(
        "fran",
        "evidence",
        "transfer",
        "INC-1",
        "EV-1",
        "legal-hold",
        "--reason",
        "retention",
        at="11:00",
    )
    run("rex", "evidence", "amend", "INC-1", "EV-2", "log is from deploy #2, not #1", at="09:52")

    # The rest of containment (step 5 is the status-page notice posted at 09:35):
    # closing later needs every step done.
    run("rex", "check", "INC-1", "4", at="09:44")
    run("cara", "check", "INC-1", "5", at="09:44")
    run("ian", "status", "INC-1", "contained", at="09:45")
    run("cara", "update", "INC-1", "internal", "Contained; recovering", at="10:05")
    run("ian", "status", "INC-1", "recovering", at="10:00")
    for n in ("6", "7", "8", "9"):
        run("rex", "check", "INC-1", n, at="10:20")
    run("ian", "status", "INC-1", "resolved", at="10:30")
    run(
        "cara",
        "update",
        "INC-1",
        "external",
        "Resolved: checkout works",
        "--channel",
        "statuspage",
        "--final",
        at="10:35",
    )
    run("ian", "status", "INC-1", "in_review", at="11:30")

    # Post-incident review and follow-up actions.
    run(
        "ian",
        "review",
        "INC-1",
        "--summary",
        "A bad release broke checkout for 90 minutes",
        "--root-cause",
        "No canary stage for checkout-api",
        "--contributing-factors",
        "Friday deploy; alert threshold too high",
        "--why",
        "Checkout 500s",
        "--why",
        "Release had a null-pointer bug",
        "--why",
        "No canary caught it",
        "--went-well",
        "Fast rollback",
        "--went-poorly",
        "Detection took 10 minutes",
        "--lessons",
        "Canary every release",
        at="12:00",
    )
    assert (
        run(
            "ian",
            "action",
            "add",
            "INC-1",
            "Add canary stage",
            "--owner",
            "dave",
            "--due",
            "2026-01-20",
            "--review",
            "2026-02-20",
            at="12:05",
        )
        == "ACT-1\n"
    )
    assert (
        run(
            "ian",
            "action",
            "add",
            "INC-1",
            "Lower 5xx alert threshold",
            "--owner",
            "erin",
            "--due",
            "2026-01-12",
            "--type",
            "preventive",
            at="12:06",
        )
        == "ACT-2\n"
    )
    run("dave", "action", "set", "ACT-1", "in_progress", at="12:30")
    run("dave", "action", "set", "ACT-1", "done", "--evidence", "PR 4411 merged", at="13:00")
    run(
        "qa",
        "action",
        "set",
        "ACT-1",
        "verified",
        "--note",
        "canary caught a bad build on 01-07",
        at="13:30",
    )
    run("erin", "action", "set", "ACT-2", "done", "--evidence", "alert rule v7", at="13:10")
    run("qa", "action", "set", "ACT-2", "verified", "--note", "alert fired in test", at="13:40")

    # Closure: nothing missing, so no override.
    before = run.json("show", "INC-1", "--json")
    assert before["closure_gaps"] == []
    run("ian", "close", "INC-1", at="14:00")

    # The record.
    s = run.json("show", "INC-1", "--json")
    inc = s["incident"]
    assert (inc["key"], inc["status"], inc["severity"], inc["type"]) == (
        "INC-1",
        "closed",
        "SEV1",
        "outage",
    )
    assert inc["resolved_at"].startswith(DAY + "10:30:00")
    assert {r["role"]: r["person"] for r in s["roles"]} == {
        "commander": "ian",
        "comms": "cara",
        "scribe": "sam",
        "responder": "rex",
    }
    assert [p["name"] for p in s["playbooks"]] == ["service-outage"]
    items = s["checklist"]
    assert len(items) == 10
    assert all(i["done"] for i in items)
    assert [u["final"] for u in s["updates"]] == [False, False, False, True]
    assert s["next_update_due"] is None and s["update_overdue"] is False
    assert s["escalation"]["pending"] == []
    assert len(s["escalation"]["notified"]) == 5
    ev1, ev2 = s["evidence"]
    assert ev1["sha256"] == hashlib.sha256(dump.read_bytes()).hexdigest()
    assert ev1["custodian"] == "legal-hold"
    assert [(t["from_person"], t["to_person"]) for t in ev1["transfers"]] == [
        ("rex", "fran"),
        ("fran", "legal-hold"),
    ]
    assert ev2["amendments"] == ["log is from deploy #2, not #1"]
    assert s["review"]["whys"] == [
        "Checkout 500s",
        "Release had a null-pointer bug",
        "No canary caught it",
    ]
    assert s["review"]["lessons"] == "Canary every release"
    assert [(a["key"], a["status"], a["owner"]) for a in s["actions"]] == [
        ("ACT-1", "verified", "dave"),
        ("ACT-2", "verified", "erin"),
    ]
    assert s["closure_gaps"] == []
    last = s["events"][-1]
    assert (last["kind"], last["actor"], last["data"]) == (
        "status",
        "ian",
        {"from": "in_review", "to": "closed"},
    )
    statuses = [e["data"]["to"] for e in s["events"] if e["kind"] == "status"]
    assert statuses == ["contained", "recovering", "resolved", "in_review", "closed"]

    # Metrics from the back-dated record.
    m = run.json("metrics", "INC-1", "--json")
    assert m == {
        "time_to_detect": 600.0,  # 09:00 -> 09:10
        "time_to_report": 300.0,  # 09:10 -> 09:15
        "time_to_acknowledge": 0.0,  # alice commands from her declaration at 09:15
        "time_to_contain": 2700.0,  # 09:00 -> 09:45
        "time_to_resolve": 5400.0,  # 09:00 -> 10:30
    }
    assert s["metrics"] == m

    # The report carries it all, and the chain verifies.
    md = run("auditor", "report", "INC-1")
    assert "- root cause: No canary stage for checkout-api" in md
    assert "- time to resolve: 1h 30m" in md
    assert run("auditor", "verify", "INC-1").startswith("ok: chain intact")
    assert run("auditor", "verify").startswith("ok: chain intact")
    assert run.json("list", "--json") == []
    assert [i["key"] for i in run.json("list", "--all", "--json")] == ["INC-1"]

    # Closed: further changes are refused, until re-opened with a reason.
    p = run.cli("update", "INC-1", "internal", "one more thing", user="cara")
    assert p.code == 1
    assert (
        p.err
        == "ircmd: error: INC-1 is closed: re-open it first by setting an earlier status with a reason\n"
    )
    # follow-up actions outlive the incident and stay in the cross-incident log
    assert [a["key"] for a in run.json("actions", "--owner", "dave", "--json")] == ["ACT-1"]
