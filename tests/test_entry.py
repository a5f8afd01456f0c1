"""The entry-bar language (ircmd.entry): pure parsing, no Textual."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ircmd import entry
from ircmd.entry import ParseError, parse
from ircmd.models import (
    ActionStatus,
    ActionType,
    Audience,
    Kind,
    Mark,
    Phase,
    Role,
    Severity,
    Status,
)

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("db is slow", entry.Entry("db is slow")),
        ("  spaced  ", entry.Entry("spaced")),
        ("//etc/hosts edited", entry.Entry("/etc/hosts edited")),
        ("/declare SEV2 checkout down", entry.Declare("checkout down", Severity.SEV2)),
        ("/declare sev1 x", entry.Declare("x", Severity.SEV1)),
        ("/declare no severity", entry.Declare("no severity", None)),
        ("/declare", entry.Declare()),
        ("/open INC-3", entry.Open(3)),
        ("/act ACT-2 owner dave", entry.SetAction(2, owner="dave")),
        ("/act ACT-2 due 2026-12-01", entry.SetAction(2, due=date(2026, 12, 1))),
        ("/act 2 Review 2027-01-15", entry.SetAction(2, review=date(2027, 1, 15))),
        (
            "/update external --final All fixed",
            entry.Update(Audience.EXTERNAL, "All fixed", final=True),
        ),
        ("/update internal done --final", entry.Update(Audience.INTERNAL, "done", final=True)),
        (
            "/update internal the --final flag is text here",
            entry.Update(Audience.INTERNAL, "the --final flag is text here"),
        ),
        ("/open 7", entry.Open(7)),
        ("/sev 1", entry.SetSeverity(Severity.SEV1)),
        ("/sev 1 EU also down", entry.SetSeverity(Severity.SEV1, "EU also down")),
        ("/status contained", entry.SetStatus(Status.CONTAINED)),
        ("/status triaged came back", entry.SetStatus(Status.TRIAGED, "came back")),
        ("/assign scribe carol", entry.Assign(Role.SCRIBE, "carol")),
        ("/assign ic bob", entry.Assign(Role.COMMANDER, "bob")),
        ("/assign", entry.Assign()),
        ("/ic bob", entry.Assign(Role.COMMANDER, "bob")),
        ("/add isolate host", entry.AddItem("isolate host")),
        ("/recovery restore db", entry.AddItem("restore db", Phase.RECOVERY)),
        ("/check 2", entry.Check(2)),
        ("/check #2", entry.Check(2)),
        ("/uncheck 2", entry.Check(2, done=False)),
        ("/decision fail over", entry.Entry("fail over", Kind.DECISION)),
        ("/action add canary", entry.AddAction("add canary")),
        ("/amend 12 it was eu-west-1", entry.Amend(12, "it was eu-west-1")),
        ("/update internal all good", entry.Update(Audience.INTERNAL, "all good")),
        ("/update EXTERNAL fixed", entry.Update(Audience.EXTERNAL, "fixed")),
        ("/playbook data-loss", entry.ApplyPlaybook("data-loss")),
        ("/notify legal team", entry.Notify("legal team")),
        ("/help", entry.Help()),
        ("/HELP", entry.Help()),
        ("/action", entry.AddAction()),
        ("/update", entry.Update()),
        ("/act ACT-3 in_progress", entry.SetAction(3, ActionStatus.IN_PROGRESS)),
        ("/act 3 done shipped in 1.4", entry.SetAction(3, ActionStatus.DONE, "shipped in 1.4")),
        ("/act act-2 in-progress", entry.SetAction(2, ActionStatus.IN_PROGRESS)),
        (
            "/act ACT-3 verified no alerts for 2 weeks",
            entry.SetAction(3, ActionStatus.VERIFIED, "no alerts for 2 weeks"),
        ),
        (
            "/act ACT-4 wont_do superseded by ACT-5",
            entry.SetAction(4, ActionStatus.WONT_DO, "superseded by ACT-5"),
        ),
        ("/evidence auth.log from web-3", entry.AddEvidence("auth.log from web-3")),
        ("/evidence", entry.AddEvidence()),
        (
            "/transfer EV-2 carol to forensics for imaging",
            entry.Transfer(2, "carol", "to forensics for imaging"),
        ),
        ("/transfer ev2 carol shift change", entry.Transfer(2, "carol", "shift change")),
        ("/transfer", entry.Transfer()),
        ("/review", entry.EditReview()),
        ("/close", entry.Close()),
        ("/close  review waived by CTO ", entry.Close("review waived by CTO")),
        ("/recovery", None),
    ],
)
def test_parse(line: str, expected: entry.Command | None) -> None:
    if expected is None:
        with pytest.raises(ParseError):
            parse(line, now=NOW)
        return
    assert parse(line, now=NOW) == expected


def test_at_is_backdated_and_never_future() -> None:
    cmd = parse("/at 14:02 called the vendor", now=NOW)
    assert cmd == entry.Entry(
        "called the vendor", Kind.NOTE, datetime(2026, 11, 23, 14, 2, tzinfo=UTC)
    )
    late = parse("/at 23:55 yesterday's note", now=NOW)
    assert isinstance(late, entry.Entry) and late.at == datetime(2026, 11, 22, 23, 55, tzinfo=UTC)


AT_1402 = datetime(2026, 11, 23, 14, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "/at 14:02 /status contained site offline",
            entry.Backdated(AT_1402, entry.SetStatus(Status.CONTAINED, "site offline")),
        ),
        (
            "/at 2017-01-31T23:27Z /sev 1 primary data deleted",
            entry.Backdated(
                datetime(2017, 1, 31, 23, 27, tzinfo=UTC),
                entry.SetSeverity(Severity.SEV1, "primary data deleted"),
            ),
        ),
        ("/at 14:02 /decision fail over", entry.Entry("fail over", Kind.DECISION, AT_1402)),
        ("/at 14:02 //etc/hosts edited", entry.Entry("/etc/hosts edited", Kind.NOTE, AT_1402)),
        ("/AT 14:02 /Check 3", entry.Backdated(AT_1402, entry.Check(3))),
        (
            "/at 14:02 /assign scribe carol",
            entry.Backdated(AT_1402, entry.Assign(Role.SCRIBE, "carol")),
        ),
    ],
)
def test_at_back_dates_any_command_that_writes(line: str, expected: entry.Command) -> None:
    assert parse(line, now=NOW) == expected


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("/at 14:02 /open INC-2", "not /open"),
        ("/at 14:02 /help", "not /help"),
        ("/at 14:02 /at 13:00 x", "not /at"),
        ("/at 14:02 /frob x", "unknown command /frob"),
        ("/at 14:02 /sev", "usage: /sev"),
    ],
)
def test_at_refuses_what_cannot_be_back_dated(line: str, needle: str) -> None:
    with pytest.raises(ParseError, match=needle):
        parse(line, now=NOW)


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("", "nothing to add"),
        ("/frobnicate", "unknown command /frobnicate"),
        ("/chek 1", "did you mean /check"),
        ("/sev", "usage: /sev N"),
        ("/act ACT-1 owner", "the value is missing"),
        ("/act ACT-1 due soon", "not a due date: 'soon'"),
        ("/update external --final", "the update text is missing"),
        ("/sev 9", "unknown severity"),
        ("/status", "usage: /status"),
        ("/status sideways", "unknown status"),
        ("/assign wizard bob", "unknown role"),
        ("/assign scribe", "who is scribe"),
        ("/check one", "not a number"),
        ("/check 0", "not a number"),
        ("/at 25:00 x", "not a time"),
        ("/at 14:02", "text is missing"),
        ("/amend x text", "not a number"),
        ("/amend 3", "correction is missing"),
        ("/update sideways hi", "unknown audience"),
        ("/update internal", "update text is missing"),
        ("/open INC-x", "not an incident id"),
        ("/declare SEV2", "title is missing"),
        ("/add", "usage: /add TEXT"),
        ("/act", "usage: /act ACT-n STATUS"),
        ("/act ACT-3", "new status is missing"),
        ("/act ACT-x done", "not an action id"),
        ("/act ACT-3 finished", "unknown action status"),
        ("/act ACT-3 verified", "verified needs a note"),
        ("/act ACT-3 wont_do", "wont_do needs a note"),
        ("/transfer EV-x carol why", "not an evidence id"),
        ("/transfer EV-1", "to whom"),
        ("/transfer EV-1 carol", "reason is missing"),
    ],
)
def test_parse_errors_are_one_line(line: str, needle: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(line, now=NOW)
    message = str(info.value)
    assert needle in message
    assert "\n" not in message


def test_every_usage_has_a_parser() -> None:
    for spec in entry.COMMANDS:
        assert spec.syntax.startswith("/" + spec.name)
    assert set(entry.COMMAND_NAMES) == {s.name for s in entry.COMMANDS}


@pytest.mark.parametrize(
    ("typed", "suggestion"),
    [
        ("/de", "/declare "),
        ("/ch", "/check "),
        ("/status c", "/status contained "),
        ("/assign sc", "/assign scribe "),
        ("/update e", "/update external "),
        ("/act", "/act "),
        ("/acti", "/action "),
        ("/cl", "/close "),
        ("/ev", "/evidence "),
        ("/tr", "/transfer "),
        ("/rev", "/review "),
        ("/act ACT-3 v", "/act ACT-3 verified "),
        ("/act ACT-3 in", "/act ACT-3 in_progress "),
        ("/act ACT-3 done ", None),
        ("/sev ", None),
        ("hello", None),
        ("//x", None),
        ("/zz", None),
    ],
)
def test_complete(typed: str, suggestion: str | None) -> None:
    assert entry.complete(typed) == suggestion


def test_entry_does_not_import_textual() -> None:
    import ast
    from pathlib import Path

    tree = ast.parse(Path(entry.__file__).read_text(encoding="utf-8"))
    names = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [n for n in names if n.startswith(("textual", "rich"))]


@pytest.mark.parametrize(
    ("typed", "suggestion"),
    [
        ("/check 1", "/check 12 "),
        ("/notify leg", "/notify legal "),
        ("/transfer ev", "/transfer EV-2 "),
        ("/transfer EV-2 a", "/transfer EV-2 alice "),
        ("/assign scribe b", "/assign scribe bob "),
        ("/act a", "/act ACT-4 "),
        ("/act ACT-4 d", "/act ACT-4 done "),
        ("/open inc", "/open INC-3 "),
        ("/check 12 ", None),  # one argument only
        ("/add INC", None),  # free text completes nothing
    ],
)
def test_complete_from_what_the_incident_holds(typed: str, suggestion: str | None) -> None:
    known = {
        entry.Arg.STEP: ["12"],
        entry.Arg.CONTACT: ["legal"],
        entry.Arg.EVIDENCE: ["EV-2"],
        entry.Arg.PERSON: ["alice", "bob"],
        entry.Arg.ACTION: ["ACT-4"],
        entry.Arg.INCIDENT: ["INC-3"],
    }
    assert entry.complete(typed, known) == suggestion


def test_registry_derives_parser_help_and_permission() -> None:
    """One entry per command: its name parses, its help line says who may run it."""
    sev = entry.usage_of("sev")
    assert sev.who is entry.Who.LEAD
    assert sev.help == "change severity (commander or deputy)"
    assert entry.usage_of("open").who is entry.Who.ANYONE
    for spec in entry.COMMANDS:
        try:
            parsed = parse(f"/{spec.name} x", now=NOW)
        except ParseError as e:  # a bad argument, never an unknown command
            assert "unknown command" not in str(e), spec.name
        else:
            assert isinstance(parsed, entry.Command)
    assert [s.name for s in entry.COMMANDS if not s.palette] == ["help"]


CHAT_NOW = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)


def test_chat_lines_each_at_its_own_time_across_midnight() -> None:
    text = "23:41 carol: db primary gone\n23:58 <bob> restoring\n\n[00:12:05] alice: ETA 2h"
    chat = entry.chat_lines(text, CHAT_NOW)
    assert chat is not None and chat.shifted, "the first lines are yesterday's"
    assert chat.lines == (
        (datetime(2026, 11, 22, 23, 41, tzinfo=UTC), "carol: db primary gone"),
        (datetime(2026, 11, 22, 23, 58, tzinfo=UTC), "bob: restoring"),
        (datetime(2026, 11, 23, 0, 12, 5, tzinfo=UTC), "alice: ETA 2h"),
    )


@pytest.mark.parametrize(
    "text",
    [
        "23:41 carol: one line only",
        "23:41 carol: x\nplain line",
        "just\ntwo lines",
        "25:00 carol: x\n23:00 bob: y",
        "23:41 : no speaker\n23:42 bob: y",
        "00:10 carol: x\n00:40 bob: ten minutes ahead of UTC, so read as yesterday",
    ],
)
def test_what_is_not_a_chat_log_is_none(text: str) -> None:
    assert entry.chat_lines(text, CHAT_NOW) is None


def test_declare_takes_when_it_was_detected_and_when_impact_began() -> None:
    cmd = parse("/declare SEV1 primary db deleted --detected 23:20 --started=22:05", now=CHAT_NOW)
    assert cmd == entry.Declare(
        "primary db deleted",
        Severity.SEV1,
        datetime(2026, 11, 22, 23, 20, tzinfo=UTC),
        datetime(2026, 11, 22, 22, 5, tzinfo=UTC),
    )
    # Not at the end, or not followed by one time: part of the title.
    assert parse("/declare SEV2 the --detected flag", now=CHAT_NOW) == entry.Declare(
        "the --detected flag", Severity.SEV2
    )
    with pytest.raises(ParseError, match="title is missing"):
        parse("/declare SEV1 --started 22:00", now=CHAT_NOW)
    with pytest.raises(ParseError, match="not a time"):
        parse("/declare SEV1 x --started 2026-13-45", now=CHAT_NOW)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/unassign scribe carol", entry.Unassign(Role.SCRIBE, "carol")),
        ('/unnotify "Status page" wrong contact', entry.Unnotify("Status page", "wrong contact")),
        ("/unnotify CTO typo", entry.Unnotify("CTO", "typo")),
        (
            "/retype ACT-2 preventive stops a repeat",
            entry.Retype(2, ActionType.PREVENTIVE, "stops a repeat"),
        ),
        ("/skip 3 no vendor involved", entry.Skip(3, "no vendor involved")),
        ("/own 2 bob", entry.Own(2, "bob")),
        ("/own 2 -", entry.Own(2, None)),
        ("/edit 1 fail over to eu-west", entry.EditStep(1, "fail over to eu-west")),
        ("/title Primary DB deleted", entry.Retitle("Primary DB deleted")),
        ("/summary rm -rf on the primary", entry.Summary("rm -rf on the primary")),
        (
            "/mark impact 23:05 errors began before the page",
            entry.MarkMoment(
                Mark.IMPACT,
                datetime(2026, 11, 22, 23, 5, tzinfo=UTC),
                "errors began before the page",
            ),
        ),
        (
            "/impact users=1,200 records=300000 services=db,api logins failed",
            entry.SetImpact("logins failed", ("db", "api"), 1200, 300000),
        ),
        (
            "/impact loss=2026-11-22T17:20Z..23:30",
            entry.SetImpact(
                None,
                None,
                None,
                None,
                datetime(2026, 11, 22, 17, 20, tzinfo=UTC),
                datetime(2026, 11, 22, 23, 30, tzinfo=UTC),
            ),
        ),
        (
            "/impact users=3 is a field, users=4 is text",
            entry.SetImpact("is a field, users=4 is text", None, 3),
        ),
    ],
)
def test_corrections_and_what_the_incident_is(line: str, expected: entry.Command) -> None:
    assert parse(line, now=CHAT_NOW) == expected


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("/unassign scribe", "who?"),
        ("/unnotify CTO", "reason is missing"),
        ('/unnotify "Status page wrong', "not closed"),
        ("/retype ACT-1 sideways", "corrective or preventive"),
        ("/skip 3", "reason is missing"),
        ("/skip x because", "not a number"),
        ("/own 2", "person is missing"),
        ("/title", "usage: /title"),
        ("/mark later 10:00 x", "not impact or detected"),
        ("/mark impact 10:00", "the time and the reason"),
        ("/impact users=lots", "not a number"),
        ("/impact loss=10:00", "loss=FROM..TO"),
    ],
)
def test_corrections_refuse_in_one_line(line: str, needle: str) -> None:
    with pytest.raises(ParseError, match=needle):
        parse(line, now=CHAT_NOW)


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("/status triaged false alarm", "/status"),
        ("  /DECLARE SEV2 db down", "/declare"),
        ("/var filled up again", None),  # no such command: a reason may start with /
        ("rolled back /status", None),
        ("", None),
    ],
)
def test_a_field_starting_with_a_command_was_typed_ahead(text: str, refused: str | None) -> None:
    said = entry.typed_ahead(text)
    assert (said.partition(" ")[0] if said else None) == refused
