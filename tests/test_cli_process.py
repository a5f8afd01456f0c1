"""The process verbs of the command line, run as a real `ircmd` subprocess.

Each error must be exactly one stderr line starting `ircmd: error:`, with a
non-zero exit and no traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import db
from helpers.cli import Cli
from helpers.db import Ref


@pytest.fixture
def cli(tmp_path: Path, db_ref: Ref) -> Cli:
    """The CLI on each backend in turn."""
    return Cli(tmp_path, db_ref)


# ---------------------------------------------------------- classification


def test_declare_classification_and_suggested_severity(cli: Cli) -> None:
    r = cli.ok(
        "declare", "Checkout errors", "--type", "outage", "--impact", "high", "--urgency", "medium"
    )
    assert r.out == "INC-1\n"
    assert "severity SEV2" in r.err
    r = cli.ok(
        "declare", "Typo on page", "--impact", "LOW", "--urgency", "low", "--severity", "sev2"
    )
    assert r.out == "INC-2\n"
    inc = cli.ok("show", "INC-1", "--json").json()["incident"]
    assert (inc["severity"], inc["type"], inc["impact"], inc["urgency"]) == (
        "SEV2",
        "outage",
        "high",
        "medium",
    )
    assert cli.ok("show", "INC-2", "--json").json()["incident"]["severity"] == "SEV2"


def test_declare_bad_inputs(cli: Cli) -> None:
    cli.fails("declare", "x", "--impact", "huge", says="unknown impact 'huge'")
    cli.fails("declare", "x", "--urgency", "now", says="unknown urgency")
    cli.fails("declare", "x", "--severity", "SEV9", says="unknown severity")
    cli.fails("declare", "x", "--detected-at", "yesterday", says="not a time")
    cli.fails("declare", "x", "--started-at", "2999-01-01T00:00", says="in the future")
    cli.fails(
        "declare",
        "x",
        "--detected-at",
        "2026-01-01T10:00",
        "--started-at",
        "2026-01-01T11:00",
        says="started-at is after detection",
    )
    cli.fails("declare", "x", "--playbook", "no-such", says="no playbook 'no-such'")
    cli.fails("declare", "  ", says="title is empty")
    # nothing was declared by any of those
    assert cli.ok("list", "--json").json() == []


def test_declare_with_times_feeds_metrics(cli: Cli) -> None:
    cli.ok(
        "declare",
        "DB down",
        "-s",
        "1",
        "--at",
        "2026-01-01T10:30:00Z",
        "--detected-at",
        "2026-01-01T10:20:00Z",
        "--started-at",
        "2026-01-01T10:00:00Z",
    )
    cli.ok("assign", "INC-1", "ic", "bob", "--at", "2026-01-01T10:35:00Z")
    cli.ok("status", "INC-1", "contained", "--at", "2026-01-01T11:00:00Z", user="bob")
    cli.ok("status", "INC-1", "resolved", "--at", "2026-01-01T12:30:00Z", user="bob")
    m = cli.ok("metrics", "INC-1", "--json").json()
    assert m == {
        "time_to_detect": 1200.0,
        "time_to_report": 600.0,
        "time_to_acknowledge": 0.0,  # alice commands from her declaration
        "time_to_contain": 3600.0,
        "time_to_resolve": 9000.0,
    }
    text = cli.ok("metrics", "INC-1").out
    assert "time to detect       20m 00s" in text
    assert "time to resolve      2h 30m" in text
    cli.fails("metrics", "INC-7", says="no incident INC-7")
    cli.fails("metrics", "bogus", says="not an incident id")


# -------------------------------------------------------------- playbooks


def test_playbook_apply_and_its_errors(cli: Cli) -> None:
    cli.ok("declare", "x", "-s", "3")
    r = cli.ok("playbook", "INC-1", "data-loss")
    assert r.out == "steps 1-8 added\n"
    state = cli.ok("show", "INC-1", "--json").json()
    assert [p["name"] for p in state["playbooks"]] == ["data-loss"]
    assert [i["phase"] for i in state["checklist"]].count("recovery") == 4
    assert state["missing_roles"] == ["scribe"]  # the declarer commands
    cli.fails("playbook", "INC-1", "data-loss", says="already applied")
    cli.fails("playbook", "INC-1", "nope", says="no playbook 'nope' (known: data-loss")
    cli.fails("playbook", "INC-5", "data-loss", says="no incident INC-5")


def test_declare_with_security_playbook_defaults_to_sev1(cli: Cli) -> None:
    r = cli.ok("declare", "Card data in logs", "--playbook", "security-breach")
    assert "severity SEV1" in r.err
    state = cli.ok("show", "INC-1", "--json").json()
    assert state["incident"]["severity"] == "SEV1"
    assert state["missing_roles"] == ["scribe", "comms", "liaison"]
    assert len(state["checklist"]) == 10


def test_declare_with_a_type_applies_its_playbook_and_says_so(cli: Cli) -> None:
    r = cli.ok("declare", "Admin logins from one ASN", "--type", "Security")
    assert r.out == "INC-1\n"
    assert "applied playbook security-breach for type Security" in r.err.splitlines()
    assert "severity SEV1" in r.err, "the playbook's severity, as with --playbook"
    state = cli.ok("show", "INC-1", "--json").json()
    assert [p["name"] for p in state["playbooks"]] == ["security-breach"]
    assert len(state["checklist"]) == 10


@pytest.mark.parametrize(
    ("flags", "books"),
    [
        (["--type", "security", "--no-playbook"], []),
        (["--type", "weather"], []),
        (["--type", "security", "--playbook", "data-loss"], ["data-loss"]),
    ],
)
def test_declare_applies_no_playbook_for_its_type_when_told_or_none_fits(
    cli: Cli, flags: list[str], books: list[str]
) -> None:
    r = cli.ok("declare", "x", *flags)
    assert "applied playbook" not in r.err
    state = cli.ok("show", "INC-1", "--json").json()
    assert [p["name"] for p in state["playbooks"]] == books


def test_declare_maps_a_type_through_a_user_playbooks_types(cli: Cli) -> None:
    (cli.user_config() / "playbooks").mkdir()
    (cli.user_config() / "playbooks" / "dns.toml").write_text(
        'title = "DNS failure"\ntypes = ["dns", "resolver"]\ncontainment = ["Flush caches"]\n',
        encoding="utf-8",
    )
    r = cli.ok("declare", "lookups fail", "--type", "resolver")
    assert "applied playbook dns for type resolver" in r.err
    assert cli.ok("show", "INC-1", "--json").json()["checklist"][0]["text"] == "Flush caches"


def test_declare_refuses_a_playbook_and_no_playbook(cli: Cli) -> None:
    cli.fails("declare", "x", "--playbook", "data-loss", "--no-playbook", says="exclude each other")
    assert cli("list").out == ""


def test_recovery_checklist_items(cli: Cli) -> None:
    cli.ok("declare", "x")
    assert cli.ok("checklist", "add", "INC-1", "Isolate host").out == "1\n"
    assert (
        cli.ok("checklist", "add", "INC-1", "Rebuild host", "--recovery", "--assignee", "bob").out
        == "2\n"
    )
    items = cli.ok("show", "INC-1", "--json").json()["checklist"]
    assert [(i["n"], i["phase"], i["assignee"]) for i in items] == [
        (1, "containment", None),
        (2, "recovery", "bob"),
    ]
    cli.fails("check", "INC-1", "9", says="no checklist item 9")


# ---------------------------------------------------------- communications


def test_updates_cadence_and_bad_audience(cli: Cli) -> None:
    cli.ok("declare", "x", "-s", "1", "--at", "2026-01-01T10:00:00Z")
    state = cli.ok("show", "INC-1", "--json").json()
    assert state["next_update_due"].startswith("2026-01-01T10:30:00")
    assert state["update_overdue"] is True  # long ago
    r = cli.ok("update", "INC-1", "external", "Investigating", "--channel", "statuspage")
    assert r.out.startswith("#")
    assert "next update due by" in r.err
    state = cli.ok("show", "INC-1", "--json").json()
    assert state["update_overdue"] is False
    (u,) = state["updates"]
    assert (u["audience"], u["channel"], u["final"]) == ("external", "statuspage", False)
    cli.ok("update", "INC-1", "INTERNAL", "done", "--final")
    assert cli.ok("show", "INC-1", "--json").json()["updates"][1]["final"] is True
    cli.fails("update", "INC-1", "public", "x", says="unknown audience 'public'")
    cli.fails("update", "INC-1", "internal", " ", says="update is empty")
    cli.fails("update", "INC-9", "internal", "x", says="no incident INC-9")
    cli.fails("update", "INC-1", "internal", "x", "--at", "25:00", says="not a time of day")


# -------------------------------------------------------------- escalation


def test_escalation_defaults_notify_and_pending(cli: Cli) -> None:
    cli.ok("declare", "x", "-s", "2")
    lines = cli.ok("escalation", "INC-1").out.splitlines()
    assert lines[0] == (
        "INC-1 SEV2 (major): 0 of 3 notified; pending: Head of engineering, "
        "Customer support lead, Status page"
    )
    assert lines[1:] == [
        "[ ] pending  Head of engineering",
        "[ ] pending  Customer support lead",
        "[ ] pending  Status page",
    ]
    r = cli.ok("notify", "INC-1", "status page")  # case-insensitive match
    assert "still to notify: Head of engineering, Customer support lead" in r.err
    cli.ok("notify", "INC-1", "Security team")  # not on the list: recorded as extra
    lines = cli.ok("escalation", "INC-1").out.splitlines()
    assert lines[0].startswith("INC-1 SEV2 (major): 1 of 3 notified")
    assert lines[3].startswith("[x] ") and lines[3].endswith("by alice  Status page")
    assert lines[4].endswith("Security team (extra)")
    assert len(lines) == 5  # "status page" is not listed again as an extra
    esc = cli.ok("show", "INC-1", "--json").json()["escalation"]
    assert esc["pending"] == ["Head of engineering", "Customer support lead"]
    assert [n["who"] for n in esc["notified"]] == ["Status page", "Security team"]  # as listed
    # raising the severity raises who must be told
    cli.ok("severity", "INC-1", "SEV1")
    assert "Legal" in cli.ok("show", "INC-1", "--json").json()["escalation"]["pending"]
    cli.fails("escalation", "INC-4", says="no incident INC-4")
    cli.fails("notify", "INC-4", "CTO", says="no incident INC-4")
    cli.fails("notify", "INC-1", " ", says="contact is empty")


def test_user_escalation_file_overrides_per_severity(cli: Cli) -> None:
    (cli.user_config() / "escalation.toml").write_text(
        '# ours\nsev1 = ["On-call director", "Regulator desk"]\n', encoding="utf-8"
    )
    cli.ok("declare", "a", "-s", "1")
    cli.ok("declare", "b", "-s", "3")
    r = cli.ok("notify", "INC-1", "on-call director")
    assert "still to notify: Regulator desk" in r.err
    assert cli.ok("show", "INC-1", "--json").json()["escalation"]["required"] == [
        "On-call director",
        "Regulator desk",
    ]
    # SEV3 is not in the user's file: the shipped list stays
    assert cli.ok("show", "INC-2", "--json").json()["escalation"]["required"] == ["Team lead"]
    cli.ok("notify", "INC-1", "Regulator desk")
    assert "all notified" in cli.ok("notify", "INC-1", "CTO").err


def test_notifying_a_contact_again_says_who_told_them_first(cli: Cli) -> None:
    cli.ok("declare", "a", "-s", "1")
    first = cli.ok("notify", "INC-1", "CTO")
    assert "CTO notified" in first.out + first.err and "already" not in first.out + first.err
    again = cli.ok("notify", "INC-1", "CTO", user="bob")
    assert "CTO was already told by alice; yours is recorded too" in again.out + again.err


def test_broken_user_escalation_file_is_one_error_and_writes_nothing(cli: Cli) -> None:
    cli.ok("declare", "a", "-s", "1")
    path = cli.user_config() / "escalation.toml"
    path.write_text('SEV1 = ["x"]\nSEV2 == []\n', encoding="utf-8")
    line = cli.fails("escalation", "INC-1", says=str(path))
    assert "line 2" in line
    cli.fails("notify", "INC-1", "CTO", says=str(path))
    path.write_text('SEV9 = ["x"]\n', encoding="utf-8")
    cli.fails("escalation", "INC-1", says="unknown severity 'SEV9'")
    path.write_text('SEV1 = "CTO"\n', encoding="utf-8")
    cli.fails("escalation", "INC-1", says="must be a list of names")
    path.unlink()
    assert cli.ok("show", "INC-1", "--json").json()["escalation"]["notified"] == []


# ----------------------------------------------------------------- evidence


def test_evidence_register_and_custody(cli: Cli, tmp_path: Path) -> None:
    import hashlib

    cli.ok("declare", "x")
    f = tmp_path / "auth.log"
    f.write_bytes(b"Failed password for root\n")
    r = cli.ok("evidence", "add", "INC-1", "auth.log from web-3", "--file", str(f))
    assert r.out == "EV-1\n"
    digest = hashlib.sha256(f.read_bytes()).hexdigest()
    assert f"sha256 {digest}" in r.err
    assert (
        cli.ok("evidence", "add", "INC-1", "Laptop", "--location", "safe 2", user="rex").out
        == "EV-2\n"
    )
    cli.ok("evidence", "transfer", "INC-1", "EV-1", "fran", "--reason", "to forensics")
    cli.ok("evidence", "transfer", "INC-1", "ev2", "legal", "--reason", "hold", user="rex")
    cli.ok("evidence", "amend", "INC-1", "EV-1", "it was web-4")
    items = cli.ok("evidence", "list", "INC-1", "--json").json()
    e1, e2 = items
    assert (e1["key"], e1["sha256"], e1["filename"], e1["custodian"]) == (
        "EV-1",
        digest,
        "auth.log",
        "fran",
    )
    assert e1["location"] == str(f.resolve())
    assert e1["description"] == "auth.log from web-3"
    assert e1["amendments"] == ["it was web-4"]
    assert [(t["from_person"], t["to_person"], t["reason"], t["by"]) for t in e1["transfers"]] == [
        ("alice", "fran", "to forensics", "alice")
    ]
    assert (e2["collected_by"], e2["location"], e2["custodian"]) == ("rex", "safe 2", "legal")
    text = cli.ok("evidence", "list", "INC-1").out
    assert "alice -> fran: to forensics" in text
    assert "held by fran" in text
    assert f"sha256 {digest}" in text


def test_evidence_bad_inputs(cli: Cli, tmp_path: Path) -> None:
    cli.ok("declare", "x")
    cli.ok("evidence", "add", "INC-1", "first")
    missing = tmp_path / "nope.bin"
    cli.fails(
        "evidence", "add", "INC-1", "x", "--file", str(missing), says=f"cannot read {missing}"
    )
    dangling = tmp_path / "link"
    dangling.symlink_to(tmp_path / "gone")
    cli.fails("evidence", "add", "INC-1", "x", "--file", str(dangling), says="cannot read")
    plain = tmp_path / "plain"
    plain.write_text("x")
    cli.fails(
        "evidence", "add", "INC-1", "x", "--file", str(plain / "under"), says="not a directory"
    )
    cli.fails("evidence", "add", "INC-1", "x", "--file", str(tmp_path), says="is a directory")
    cli.fails("evidence", "add", "INC-3", "x", says="no incident INC-3")
    cli.fails("evidence", "add", "INC-1", "x", "--at", "2026-02-30T10:00", says="not a time")
    cli.fails(
        "evidence",
        "transfer",
        "INC-1",
        "EV-7",
        "bob",
        "--reason",
        "r",
        says="no evidence EV-7 on INC-1",
    )
    cli.fails(
        "evidence", "transfer", "INC-1", "EX-1", "bob", "--reason", "r", says="not an evidence id"
    )
    cli.fails("evidence", "transfer", "INC-1", "EV-1", "bob", says="missing option '--reason'")
    cli.fails(
        "evidence",
        "transfer",
        "INC-1",
        "EV-1",
        "alice",
        "--reason",
        "r",
        says="already held by alice",
    )
    cli.fails(
        "evidence", "transfer", "INC-2", "EV-1", "bob", "--reason", "r", says="no incident INC-2"
    )
    cli.fails("evidence", "amend", "INC-1", "EV-4", "x", says="no evidence EV-4")
    cli.fails("evidence", "list", "INC-2", says="no incident INC-2")
    assert len(cli.ok("evidence", "list", "INC-1", "--json").json()) == 1


def test_only_the_holder_or_commander_may_transfer_custody(cli: Cli) -> None:
    cli.ok("declare", "x")  # alice commands
    cli.ok("assign", "INC-1", "responder", "bob")
    cli.ok("evidence", "add", "INC-1", "disk image", user="carol")

    def events() -> int:
        return db.event_count(cli.db)

    before = events()
    refused = (
        "ircmd: error: EV-1 is held by carol; only carol or the commander/deputy (alice)"
        " may transfer it; you are bob"
    )
    line = cli.fails(
        "evidence", "transfer", "INC-1", "EV-1", "bob", "--reason", "grabbing it", user="bob"
    )
    assert line == refused
    # --as is the same person as IRCMD_USER
    r = cli("--as", "bob", "evidence", "transfer", "INC-1", "EV-1", "bob", "--reason", "mine")
    assert (r.code != 0, r.out, r.err) == (True, "", refused + "\n")
    line = cli.fails(
        "evidence", "transfer", "INC-1", "EV-1", "carol", "--reason", "r", user="alice"
    )
    assert line == "ircmd: error: EV-1 is already held by carol"
    assert events() == before
    (item,) = cli.ok("evidence", "list", "INC-1", "--json").json()
    assert (item["custodian"], item["transfers"]) == ("carol", [])
    # the commander may move it for a holder who is unavailable; the record says who did
    cli.ok("evidence", "transfer", "INC-1", "EV-1", "bob", "--reason", "carol off shift")
    cli.ok("evidence", "transfer", "INC-1", "EV-1", "fran", "--reason", "forensics", user="bob")
    (item,) = cli.ok("evidence", "list", "INC-1", "--json").json()
    assert [(t["from_person"], t["to_person"], t["by"]) for t in item["transfers"]] == [
        ("carol", "bob", "alice"),
        ("bob", "fran", "bob"),
    ]
    assert events() == before + 2


# ------------------------------------------------------------------ review


def test_review_saves_merge_and_whys(cli: Cli) -> None:
    cli.ok("declare", "x")
    cli.ok(
        "review", "INC-1", "--summary", "Bad deploy", "--why", "deploy broke", "--why", "no canary"
    )
    cli.ok(
        "review",
        "INC-1",
        "--root-cause",
        "missing canary stage",
        "--contributing-factors",
        "friday",
        "--went-well",
        "fast rollback",
        "--went-poorly",
        "late page",
        "--lessons",
        "canary everything",
        user="bob",
    )
    state = cli.ok("show", "INC-1", "--json").json()
    r = state["review"]
    assert r["summary"] == "Bad deploy"
    assert r["whys"] == ["deploy broke", "no canary"]
    assert (r["root_cause"], r["contributing_factors"], r["lessons"]) == (
        "missing canary stage",
        "friday",
        "canary everything",
    )
    assert (r["went_well"], r["went_poorly"], r["updated_by"]) == (
        "fast rollback",
        "late page",
        "bob",
    )
    assert [e["kind"] for e in state["events"]].count("review") == 2
    assert not any(g.startswith("review") for g in state["closure_gaps"])
    cli.fails("review", "INC-1", says="nothing to save")
    cli.fails("review", "INC-8", "--summary", "x", says="no incident INC-8")
    cli.fails("review", "INC-1", "--why", "", says="whys is empty")


# ----------------------------------------------------------------- actions


def test_actions_lifecycle_and_listing(cli: Cli) -> None:
    cli.ok("declare", "a")
    cli.ok("declare", "b")
    assert (
        cli.ok(
            "action",
            "add",
            "INC-1",
            "Add canary",
            "--owner",
            "dave",
            "--due",
            "2020-01-31",
            "--type",
            "preventive",
            "--review",
            "2020-03-01",
        ).out
        == "ACT-1\n"
    )
    assert (
        cli.ok("action", "add", "INC-2", "Fix alert", "--owner", "erin", "--due", "2999-01-01").out
        == "ACT-2\n"
    )
    assert cli.ok("action", "add", "INC-2", "Unowned").out == "ACT-3\n"
    listed = cli.ok("actions", "--json").json()
    assert [(a["key"], a["incident_id"], a["owner"], a["due"], a["type"]) for a in listed] == [
        ("ACT-1", 1, "dave", "2020-01-31", "preventive"),
        ("ACT-2", 2, "erin", "2999-01-01", "corrective"),
        ("ACT-3", 2, None, None, "corrective"),
    ]
    assert listed[0]["review_date"] == "2020-03-01"
    assert [a["key"] for a in cli.ok("actions", "--overdue", "--json").json()] == ["ACT-1"]
    assert [a["key"] for a in cli.ok("actions", "--owner", "erin", "--json").json()] == ["ACT-2"]
    text = cli.ok("actions", "--overdue").out.splitlines()
    assert len(text) == 1 and "ACT-1" in text[0] and "OVERDUE" in text[0]

    assert cli.ok("action", "set", "ACT-1", "in_progress").out == "ACT-1 in_progress\n"
    assert cli.ok("action", "set", "act-1", "done", "--evidence", "PR 4411").out == "ACT-1 done\n"
    cli.fails("action", "set", "ACT-1", "verified", says="needs --note")
    cli.ok("action", "set", "ACT-1", "verified", "--note", "no errors for 14 days", user="qa")
    cli.fails("action", "set", "ACT-1", "open", says="cannot go from verified to open")
    cli.fails(
        "action", "set", "ACT-2", "verified", "--note", "x", says="cannot go from open to verified"
    )
    cli.fails("action", "set", "ACT-3", "wont_do", says="wont_do needs --note with a reason")
    cli.ok("action", "set", "ACT-3", "wont-do", "--note", "duplicate of ACT-2")
    cli.ok("action", "set", "ACT-2", "--owner", "frank", "--due", "2999-02-01")
    acts = {a["key"]: a for a in cli.ok("actions", "--json").json()}
    assert (
        acts["ACT-1"]["status"],
        acts["ACT-1"]["verification"],
        acts["ACT-1"]["closure_evidence"],
    ) == (
        "verified",
        "no errors for 14 days",
        "PR 4411",
    )
    assert (acts["ACT-2"]["owner"], acts["ACT-2"]["due"]) == ("frank", "2999-02-01")
    assert (acts["ACT-3"]["status"], acts["ACT-3"]["reason"]) == ("wont_do", "duplicate of ACT-2")
    assert cli.ok("actions", "--overdue", "--json").json() == []  # verified is no longer owed


def test_action_bad_inputs(cli: Cli) -> None:
    cli.ok("declare", "a")
    cli.ok("action", "add", "INC-1", "t")
    cli.fails("action", "add", "INC-1", "t", "--due", "2026-13-01", says="not a due date")
    cli.fails("action", "add", "INC-1", "t", "--due", "next friday", says="not a due date")
    cli.fails("action", "add", "INC-1", "t", "--review", "31/01/2026", says="not a review date")
    cli.fails(
        "action", "add", "INC-1", "t", "--type", "curative", says="invalid value for '--type'"
    )
    cli.fails("action", "add", "INC-5", "t", says="no incident INC-5")
    cli.fails("action", "add", "INC-1", "", says="action title is empty")
    cli.fails("action", "set", "ACT-42", "done", says="no action ACT-42")
    cli.fails("action", "set", "EV-1", "done", says="not an action id")
    cli.fails("action", "set", "ACT-1", "finished", says="unknown action status 'finished'")
    cli.fails("action", "set", "ACT-1", says="nothing to change")
    cli.fails("action", "set", "ACT-1", "--due", "tomorrow", says="not a due date")
    cli.fails("actions", "--incident", "INC-9", says="no incident INC-9")
    assert cli.ok("actions", "--json").json()[0]["status"] == "open"


# ------------------------------------------------------- command permission


def test_responder_refused_where_only_commander_or_deputy_may_act(cli: Cli) -> None:
    cli.ok("declare", "x", "-s", "2", user="rex")  # anyone may declare and take charge
    cli.ok("assign", "INC-1", "ic", "ian", user="rex")
    cli.ok("assign", "INC-1", "deputy", "dee", user="ian")
    cli.ok("assign", "INC-1", "responder", "rex", user="dee")
    who = "only the commander or deputy may"
    cli.fails(
        "severity",
        "INC-1",
        "SEV1",
        user="rex",
        says=f"{who} change severity on INC-1 (ian, dee); you are rex",
    )
    cli.fails("status", "INC-1", "contained", user="rex", says=f"{who} change status")
    cli.fails("assign", "INC-1", "scribe", "rex", user="rex", says=f"{who} assign roles")
    cli.fails("unassign", "INC-1", "deputy", "dee", user="rex", says=f"{who} assign roles")
    cli.fails("close", "INC-1", "--override", "just do it", user="rex", says=f"{who} change status")
    # the responder can still work the incident
    cli.ok("checklist", "add", "INC-1", "Restart pods", user="rex")
    cli.ok("update", "INC-1", "internal", "restarting pods", user="rex")
    cli.ok("evidence", "add", "INC-1", "pod logs", user="rex")
    cli.ok("action", "add", "INC-1", "Add pod alerts", user="rex")
    cli.ok("severity", "INC-1", "SEV1", user="dee")
    state = cli.ok("show", "INC-1", "--json").json()
    assert state["incident"]["severity"] == "SEV1"
    assert state["incident"]["status"] == "reported"


# ------------------------------------------------------------------ closure


def test_close_lists_each_gap_then_override_is_recorded(cli: Cli) -> None:
    cli.ok("declare", "x", "-s", "2")
    cli.ok("action", "add", "INC-1", "No owner yet", "--due", "2999-01-01")
    cli.ok("action", "add", "INC-1", "No due yet", "--owner", "dave")
    line = cli.fails("close", "INC-1", says="cannot close INC-1, 4 missing:")
    assert "(1) review missing: summary, root cause, lessons" in line
    assert "(2) ACT-1 has no owner;" in line
    assert "(3) ACT-2 has no due date;" in line
    assert "(4) no final update sent" in line
    assert "override" in line
    assert cli.ok("show", "INC-1", "--json").json()["closure_gaps"] == [
        "review missing: summary, root cause, lessons",
        "ACT-1 has no owner",
        "ACT-2 has no due date",
        "no final update sent (send one after resolving, or mark it --final)",
    ]
    cli.fails("close", "INC-1", "--override", "  ", says="override reason is empty")
    cli.fails("close", "INC-9", says="no incident INC-9")
    cli.ok("close", "INC-1", "--override", "duplicate of INC-0, tracked there")
    state = cli.ok("show", "INC-1", "--json").json()
    assert state["incident"]["status"] == "closed"
    last = state["events"][-1]
    assert last["kind"] == "status"
    assert last["data"]["override"] == "duplicate of INC-0, tracked there"
    assert len(last["data"]["gaps"]) == 4
    assert "OVERRIDE: duplicate of INC-0" in cli.ok("show", "INC-1").out
    cli.fails("close", "INC-1", says="already closed")


def test_close_refused_while_checklist_steps_are_open(cli: Cli) -> None:
    """The user-test case: 1 of 6 containment and 0 of 4 recovery steps done, all
    else in order. Resolving is allowed; closing names the steps and writes nothing."""
    cli.ok("declare", "x", "-s", "2", "--playbook", "service-outage")  # steps 1-5, 6-9
    assert cli.ok("checklist", "add", "INC-1", "Block the bad client").out == "10\n"
    cli.ok("check", "INC-1", "1")
    cli.ok("check", "INC-1", "2")
    cli.ok("uncheck", "INC-1", "2")  # checked, then unchecked: not done
    cli.ok("review", "INC-1", "--summary", "s", "--root-cause", "r", "--lessons", "l")
    cli.ok("action", "add", "INC-1", "Add canary", "--owner", "dave", "--due", "2999-01-01")
    cli.ok("status", "INC-1", "resolved")  # not gated: recovery may still be under way
    cli.ok("update", "INC-1", "external", "resolved", "--final")

    def tables() -> list[tuple[Any, ...]]:
        return db.dump(cli.db)

    before = tables()
    refused = (
        "ircmd: error: cannot close INC-1, 2 missing:"
        " (1) 5 containment steps not done (2, 3, 4, 5, 10);"
        " (2) 4 recovery steps not done (6, 7, 8, 9);"
        " fix these or override with a reason"
    )
    assert cli.fails("close", "INC-1") == refused
    assert cli.fails("status", "INC-1", "closed") == refused
    assert tables() == before
    state = cli.ok("show", "INC-1", "--json").json()
    assert state["incident"]["status"] == "resolved"
    assert state["closure_gaps"] == [
        "5 containment steps not done (2, 3, 4, 5, 10)",
        "4 recovery steps not done (6, 7, 8, 9)",
    ]

    cli.ok("close", "INC-1", "--override", "steps tracked in ACT-1")
    state = cli.ok("show", "INC-1", "--json").json()
    assert state["incident"]["status"] == "closed"
    last = state["events"][-1]
    assert last["data"] == {
        "from": "resolved",
        "to": "closed",
        "override": "steps tracked in ACT-1",
        "gaps": [
            "5 containment steps not done (2, 3, 4, 5, 10)",
            "4 recovery steps not done (6, 7, 8, 9)",
        ],
    }
    assert (
        "OVERRIDE: steps tracked in ACT-1 (missing: 5 containment steps not done"
        " (2, 3, 4, 5, 10); 4 recovery steps not done (6, 7, 8, 9))"
    ) in cli.ok("show", "INC-1").out


def test_closed_incident_refuses_changes_and_reopens_with_reason(cli: Cli) -> None:
    cli.ok("declare", "x", "-s", "3")
    cli.ok("assign", "INC-1", "ic", "ian")
    cli.ok("close", "INC-1", "--override", "false alarm", user="ian")
    closed = "is closed: re-open it first"
    cli.fails("severity", "INC-1", "SEV1", user="ian", says=closed)
    cli.fails("assign", "INC-1", "scribe", "sam", user="ian", says=closed)
    cli.fails("checklist", "add", "INC-1", "x", says=closed)
    cli.fails("update", "INC-1", "internal", "x", says=closed)
    cli.fails("notify", "INC-1", "Team lead", says=closed)
    cli.fails("playbook", "INC-1", "data-loss", says=closed)
    cli.fails("evidence", "add", "INC-1", "x", says=closed)
    cli.fails("review", "INC-1", "--summary", "x", says=closed)
    cli.fails("action", "add", "INC-1", "x", says=closed)
    cli.fails("status", "INC-1", "in_review", user="ian", says="is a re-open: give a reason")
    cli.fails(
        "status", "INC-1", "in_review", "--reason", "x", user="rex", says="only the commander"
    )
    cli.ok("status", "INC-1", "in_review", "--reason", "customer reported more impact", user="ian")
    assert cli.ok("list", "--json").json()[0]["status"] == "in_review"
    cli.ok("review", "INC-1", "--summary", "more impact than thought")
    assert cli.ok("verify").out.startswith("ok: chain intact")
