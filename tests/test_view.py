"""The screen's view model without Textual: what it keeps from the events it sees, who
is still to be told, the closure gaps in its words, and what the bar completes to."""

from __future__ import annotations

import ast
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from helpers.builders import FINAL, T0, C, act, ev, incident, item, state

from ircmd import rules, view
from ircmd.entry import Arg
from ircmd.escalation import pending_contacts
from ircmd.models import (
    Assignment,
    ClosureRefused,
    Event,
    GapKind,
    Kind,
    Notification,
    Role,
    Severity,
    Status,
)

ESCALATION = {Severity.SEV2: ["Legal Counsel", "CISO"]}


def decision(n: int) -> Event:
    return replace(ev(n, Kind.DECISION, T0), text=f"decision {n}")


def test_running_keeps_the_latest_decision_whatever_the_order_seen() -> None:
    running = view.Running()
    assert not running.note([decision(5)])  # a decision moves no metric
    assert running.latest_decision == "decision 5"
    running.note([ev(7, Kind.NOTE, T0), decision(9)])
    running.note([decision(3)])  # older history, read after the tail
    assert running.latest_decision == "decision 9"
    assert running.metrics is None


def test_running_metrics_count_commander_assignments_only() -> None:
    declared = ev(1, Kind.DECLARE, T0, title="t", severity="SEV2")
    responder = ev(2, Kind.ASSIGN, T0 + timedelta(minutes=1), role="responder", person="r")
    commander = ev(3, Kind.ASSIGN, T0 + timedelta(minutes=4), role="commander", person="bob")
    running = view.Running()
    assert running.note([declared])
    assert not running.note([responder])  # not a commander: the metrics stay as they were
    assert running.note([commander])
    assert running.metrics == rules.metrics([declared, commander])
    assert running.metrics is not None and running.metrics.time_to_acknowledge == 240


def test_pending_contacts_follow_the_list_and_ignore_case() -> None:
    told = (Notification(who="legal counsel", notified_at=T0, notified_by="cara"),)
    s = state(notifications=told)
    assert pending_contacts(ESCALATION, s) == ["CISO"]
    assert pending_contacts({}, s) == []


def test_final_update_gap_is_worded_for_the_screen_by_its_kind() -> None:
    s = state(incident=incident(status=Status.IN_REVIEW), checklist=(item(1, C),))
    gaps = rules.closure_gaps(s, None)
    assert [g.kind for g in gaps] == [GapKind.STEPS, GapKind.REVIEW, GapKind.FINAL_UPDATE]
    assert gaps[-1] == FINAL  # the record's and the CLI's words
    on_screen = [view.gap_on_screen(g) for g in gaps]
    assert on_screen[:2] == gaps[:2]
    assert on_screen[2] == (
        "no final update sent (send one after resolving, or tick Final in the update draft: u)"
    )
    refused = ClosureRefused("INC-1", gaps)
    assert "--final" in str(refused)
    assert "--final" not in refused.phrased(view.gap_on_screen)
    assert "tick Final" in refused.phrased(view.gap_on_screen)


def test_known_words_for_completion() -> None:
    s = state(
        checklist=(item(1, C, True), item(2, C)),
        roles=(
            Assignment(role=Role.COMMANDER, person="bob", assigned_at=T0),
            Assignment(role=Role.SCRIBE, person="Alice", assigned_at=T0),
        ),
        actions=(act(id=4),),
    )
    known = view.known_words(s, [1, 3], ESCALATION)
    assert known[Arg.INCIDENT] == ["INC-1", "INC-3"]
    assert known[Arg.STEP] == ["2"]
    assert known[Arg.DONE_STEP] == ["1"]
    assert known[Arg.PERSON] == ["Alice", "bob"]
    assert known[Arg.CONTACT] == ["Legal Counsel", "CISO"]
    assert known[Arg.ACTION] == ["ACT-4"]
    assert known[Arg.EVIDENCE] == []
    assert view.known_words(None, [2], ESCALATION, ["b", "a"]) == {
        Arg.INCIDENT: ["INC-2"],
        Arg.PLAYBOOK: ["a", "b"],
    }


def test_view_does_not_import_textual() -> None:
    tree = ast.parse(Path(view.__file__).read_text(encoding="utf-8"))
    names = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [n for n in names if n.startswith(("textual", "rich"))]
