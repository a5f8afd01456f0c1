"""Unit tests of the domain models: ids, enums, frozen data and derived properties."""

from __future__ import annotations

from datetime import UTC, datetime

import pydantic
import pytest

from ircmd.models import (
    ACTIVE_STATUSES,
    Assignment,
    Event,
    Evidence,
    Incident,
    IncidentState,
    InvalidInput,
    IrcmdError,
    Kind,
    NotFound,
    ReadOnly,
    Review,
    Role,
    RuleViolation,
    Severity,
    Status,
    StorageError,
    action_key,
    incident_key,
    parse_action_ref,
    parse_incident_ref,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _incident(**kw: object) -> Incident:
    base: dict[str, object] = dict(
        id=3,
        title="t",
        severity=Severity.SEV2,
        status=Status.REPORTED,
        declared_at=T0,
        declared_by="alice",
        updated_at=T0,
        last_event_id=1,
    )
    return Incident(**(base | kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ref", "n"),
    [("INC-3", 3), ("inc-3", 3), ("inc3", 3), ("3", 3), (" INC-42 ", 42), ("Inc-007", 7)],
)
def test_parse_incident_ref_accepts(ref: str, n: int) -> None:
    assert parse_incident_ref(ref) == n


@pytest.mark.parametrize(
    "ref", ["", "INC-", "INC-0", "0", "INC--3", "INC-3a", "ACT-3", "-3", "1e3"]
)
def test_parse_incident_ref_refuses(ref: str) -> None:
    with pytest.raises(InvalidInput, match="not an incident id"):
        parse_incident_ref(ref)


def test_parse_incident_ref_refuses_absurdly_long_numbers() -> None:
    with pytest.raises(InvalidInput):
        parse_incident_ref("INC-" + "9" * 30)


@pytest.mark.parametrize(("ref", "n"), [("ACT-5", 5), ("act5", 5), ("5", 5)])
def test_parse_action_ref(ref: str, n: int) -> None:
    assert parse_action_ref(ref) == n


@pytest.mark.parametrize("ref", ["ACT-0", "INC-5", "x", ""])
def test_parse_action_ref_refuses(ref: str) -> None:
    with pytest.raises(InvalidInput, match="not an action id"):
        parse_action_ref(ref)


def test_keys() -> None:
    assert incident_key(12) == "INC-12"
    assert action_key(4) == "ACT-4"
    assert _incident(id=9).key == "INC-9"


def test_error_hierarchy_is_one_user_error_type() -> None:
    for cls in (NotFound, InvalidInput, RuleViolation, ReadOnly, StorageError):
        assert issubclass(cls, IrcmdError)
    assert not issubclass(IrcmdError, (ValueError, KeyError))


def test_status_rank_is_the_lifecycle_order() -> None:
    order = [s.value for s in sorted(Status, key=lambda s: s.rank)]
    assert order == [
        "reported",
        "triaged",
        "contained",
        "recovering",
        "resolved",
        "in_review",
        "closed",
    ]
    assert Status.CONTAINED.rank > Status.TRIAGED.rank
    assert Status.RESOLVED not in ACTIVE_STATUSES and Status.RECOVERING in ACTIVE_STATUSES


def test_single_roles() -> None:
    assert {r for r in Role if r.single} == {Role.COMMANDER, Role.DEPUTY, Role.SCRIBE, Role.COMMS}


def test_severity_labels_and_meanings() -> None:
    assert [s.label for s in Severity] == ["critical", "major", "moderate", "minor"]
    assert all(s.meaning.startswith(s.label) for s in Severity)
    assert str(Severity.SEV1) == "SEV1"  # StrEnum: prints as its value


def test_models_are_frozen() -> None:
    inc = _incident()
    with pytest.raises(pydantic.ValidationError):
        inc.title = "changed"  # type: ignore[misc]


def test_event_incident_key_and_defaults() -> None:
    ev = Event(id=1, incident_id=2, occurred_at=T0, recorded_at=T0, actor="a", kind=Kind.NOTE)
    assert ev.incident == "INC-2" and ev.text == "" and ev.data == {}
    glob = Event(id=1, incident_id=None, occurred_at=T0, recorded_at=T0, actor="a", kind="note")
    assert glob.incident is None and glob.kind is Kind.NOTE


def test_event_refuses_unknown_kind() -> None:
    with pytest.raises(pydantic.ValidationError):
        Event(id=1, incident_id=1, occurred_at=T0, recorded_at=T0, actor="a", kind="gossip")


def test_review_recorded_needs_summary_root_cause_and_lessons() -> None:
    assert not Review().recorded
    assert not Review(summary="s", root_cause="r", lessons="   ").recorded
    assert Review(summary="s", root_cause="r", lessons="l").recorded


def test_incident_state_people_and_roles() -> None:
    state = IncidentState(
        incident=_incident(),
        roles=(
            Assignment(role=Role.COMMANDER, person="alice", assigned_at=T0),
            Assignment(role=Role.RESPONDER, person="bob", assigned_at=T0),
            Assignment(role=Role.RESPONDER, person="carol", assigned_at=T0),
            Assignment(role=Role.SCRIBE, person="bob", assigned_at=T0),
        ),
    )
    assert state.people(Role.RESPONDER) == ["bob", "carol"]
    assert state.people(Role.DEPUTY) == []
    assert state.role_of("bob") == [Role.RESPONDER, Role.SCRIBE]


def test_evidence_key() -> None:
    ev = Evidence(n=4, description="d", collected_by="a", collected_at=T0, custodian="a")
    assert ev.key == "EV-4" and ev.transfers == () and ev.amendments == ()
