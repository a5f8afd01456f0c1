"""Unit tests of the domain models: ids, enums, frozen data and derived properties,
and the decoder that builds them from the store's rows."""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from ircmd.models import (
    ACTIVE_STATUSES,
    AppliedPlaybook,
    Assignment,
    Event,
    Evidence,
    Incident,
    IncidentState,
    InvalidInput,
    IrcmdError,
    Kind,
    Level,
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
from ircmd.store import queries
from ircmd.store.connection import fresh_schema
from ircmd.store.dialect import SQLITE
from ircmd.store.reader import Connection, Reader
from ircmd.store.record import EVENT_COLUMNS
from ircmd.store.rows import decode, event_from_row
from ircmd.store.tx import Tx, transaction
from ircmd.store.verbs import incident

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
    with pytest.raises(dataclasses.FrozenInstanceError):
        inc.title = "changed"  # type: ignore[misc]


def test_event_incident_key_and_defaults() -> None:
    ev = Event(id=1, incident_id=2, occurred_at=T0, recorded_at=T0, actor="a", kind=Kind.NOTE)
    assert ev.incident == "INC-2" and ev.text == "" and ev.data == {}
    glob = Event(id=1, incident_id=None, occurred_at=T0, recorded_at=T0, actor="a", kind=Kind.NOTE)
    assert glob.incident is None


# ------------------------------------------------------------ rows -> models


def _declared() -> tuple[Reader, Incident]:
    """A fresh record in memory holding INC-1, and INC-1 as the verb that declared it
    returned it."""
    conn = fresh_schema()
    conn.isolation_level = None  # transactions are the verbs' own
    conn.row_factory = sqlite3.Row

    def work(c: Connection) -> Incident:
        tx = Tx(c, SQLITE, lambda: T0)
        return incident.declare(
            tx, "down", actor="alice", severity=Severity.SEV1, impact=Level.HIGH
        )

    return Reader(conn, SQLITE), transaction(conn, SQLITE, work, timeout=1)


def test_a_decoded_row_is_the_model_the_store_built() -> None:
    r, declared = _declared()
    read = queries.incident(r, 1)
    assert read == declared
    assert read.severity is Severity.SEV1 and read.status is Status.REPORTED
    assert read.impact is Level.HIGH and read.urgency is None
    assert read.declared_at == T0 and read.declared_at.tzinfo is not None
    (commander,) = queries.load(r, 1).roles
    assert commander.role is Role.COMMANDER and commander.assigned_at == T0
    (ev,) = [e for e in queries.events(r) if e.kind is Kind.DECLARE]
    assert ev.occurred_at == T0 and isinstance(ev.data, dict)
    # `event_from_row` decodes events by hand, as the decoder would.
    row = r.rows(f"SELECT {EVENT_COLUMNS} FROM events WHERE id = ?", (ev.id,))[0]
    assert ev == decode(Event, row)


def _row(**changed: Any) -> dict[str, Any]:
    """INC-1's row as stored, with some columns changed."""
    r, _ = _declared()
    row = r.rows("SELECT * FROM incidents WHERE id = 1")[0]
    return dict(row) | changed


@pytest.mark.parametrize(
    ("column", "value", "said"),
    [
        ("severity", "SEV9", "'SEV9' is not a valid Severity"),
        ("status", "gossip", "'gossip' is not a valid Status"),
        ("declared_at", "yesterday", "Invalid isoformat string"),
        ("updated_at", None, "it is NULL"),
    ],
)
def test_a_row_that_does_not_decode_is_a_one_line_storage_error(
    column: str, value: object, said: str
) -> None:
    with pytest.raises(StorageError) as caught:
        decode(Incident, _row(**{column: value}))
    message = str(caught.value)
    assert message.startswith(f"cannot read Incident.{column} from the database: {said}")
    assert "\n" not in message


def test_a_table_edited_outside_ircmd_is_a_storage_error_where_it_is_read() -> None:
    r, _ = _declared()
    r.execute("UPDATE roles SET role = 'wizard'")
    with pytest.raises(StorageError, match=r"^cannot read Assignment\.role from the database"):
        queries.load(r, 1)


def test_an_event_row_of_an_unknown_kind_is_a_storage_error() -> None:
    row = (1, 1, T0.isoformat(), T0.isoformat(), "a", "gossip", "", "{}", "", "")
    with pytest.raises(StorageError, match=r"Event\.kind .*'gossip' is not a valid Kind"):
        event_from_row(row)


def test_the_decoder_ignores_unknown_columns_and_keeps_defaults() -> None:
    row = {"name": "outage", "applied_at": T0.isoformat()}
    assert decode(AppliedPlaybook, row) == AppliedPlaybook(name="outage")
    roles = decode(AppliedPlaybook, row, required_roles='["commander", "scribe"]')
    assert roles.required_roles == (Role.COMMANDER, Role.SCRIBE)


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


def test_the_records_and_their_readers_import_no_pydantic() -> None:
    """Pydantic (some 45 ms to import, more to build a schema) checks what comes from
    outside; reading and showing the record needs none of it."""
    modules = (
        "ircmd.models, ircmd.store.queries, ircmd.store.record, ircmd.store.projections,"
        " ircmd.rules, ircmd.view, ircmd.display, ircmd.playbooks, ircmd.statuspage"
    )
    code = f"import sys, {modules}; print(sorted(m for m in sys.modules if 'pydantic' in m))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
