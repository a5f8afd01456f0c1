"""Unit tests of the core rules: validation, parsing, --at times, severity suggestion,
permissions and status transitions. (Process rules: tests/test_rules_process.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ircmd import rules
from ircmd.models import (
    MAX_TEXT_BYTES,
    Assignment,
    Audience,
    Incident,
    IncidentState,
    InvalidInput,
    Level,
    Role,
    RuleViolation,
    Severity,
    Status,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# ------------------------------------------------------------------ check_text


@pytest.mark.parametrize("text", ["", " ", "\t\n  \r\n", "\u3000", "\u00a0\u2003"])
def test_check_text_refuses_empty_and_whitespace(text: str) -> None:
    with pytest.raises(InvalidInput, match="is empty"):
        rules.check_text(text, "note")


@pytest.mark.parametrize(
    "text",
    [
        "[/]",
        "[@click=app.quit]x",
        "[bold red]not bold[/bold red]",
        "\x1b[31mred\x1b[0m",
        "bell\x07 and nul \x00 end",
        "line one\nline two",
        "  padded  ",
        "emoji \U0001f525 and RTL \u202e",
    ],
)
def test_check_text_returns_text_unchanged(text: str) -> None:
    assert rules.check_text(text) is text


def test_check_text_size_limit_is_64_kib_of_utf8() -> None:
    assert rules.check_text("x" * MAX_TEXT_BYTES) == "x" * MAX_TEXT_BYTES
    with pytest.raises(InvalidInput, match="65537 bytes"):
        rules.check_text("x" * (MAX_TEXT_BYTES + 1))
    # Bytes, not characters: 21,846 three-byte characters are 65,538 bytes.
    with pytest.raises(InvalidInput, match="limit"):
        rules.check_text("\u20ac" * (MAX_TEXT_BYTES // 3 + 1))


def test_check_text_refuses_lone_surrogate() -> None:
    with pytest.raises(InvalidInput, match="surrogate"):
        rules.check_text("bad \ud800 text")


# ------------------------------------------------------------------ check_name


def test_check_name_strips_and_keeps() -> None:
    assert rules.check_name("  alice  ") == "alice"
    assert rules.check_name("Zoë O'Brien-Smith") == "Zoë O'Brien-Smith"
    assert rules.check_name("x" * 100) == "x" * 100


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 101, "longer than 100"),
        ("bo\x1bb", "control"),
        ("a\nb", "control"),
        ("a\tb", "control"),
        ("zero\u200bwidth", "control"),
        ("line\u2028sep", "control"),
        ("rtl\u202eevil", "control"),
    ],
)
def test_check_name_refuses(name: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        rules.check_name(name, "person")


# ------------------------------------------------------------------- parse_*


@pytest.mark.parametrize(
    ("value", "sev"),
    [
        ("SEV1", Severity.SEV1),
        ("sev2", Severity.SEV2),
        (" 3 ", Severity.SEV3),
        ("Sev4", Severity.SEV4),
    ],
)
def test_parse_severity(value: str, sev: Severity) -> None:
    assert rules.parse_severity(value) is sev


@pytest.mark.parametrize("value", ["SEV0", "SEV5", "5", "", "critical", "SEV 1", "-1"])
def test_parse_severity_refuses(value: str) -> None:
    with pytest.raises(InvalidInput, match="unknown severity"):
        rules.parse_severity(value)


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("contained", Status.CONTAINED),
        (" Resolved ", Status.RESOLVED),
        ("in-review", Status.IN_REVIEW),
        ("in review", Status.IN_REVIEW),
        ("IN_REVIEW", Status.IN_REVIEW),
    ],
)
def test_parse_status(value: str, status: Status) -> None:
    assert rules.parse_status(value) is status


@pytest.mark.parametrize("value", ["", "done", "open", "re-opened"])
def test_parse_status_refuses_and_lists_choices(value: str) -> None:
    with pytest.raises(InvalidInput, match="reported, triaged, contained"):
        rules.parse_status(value)


@pytest.mark.parametrize(
    ("value", "role"),
    [
        ("ic", Role.COMMANDER),
        ("IC", Role.COMMANDER),
        ("commander", Role.COMMANDER),
        ("comms-lead", Role.COMMS),
        (" Scribe ", Role.SCRIBE),
        ("responder", Role.RESPONDER),
    ],
)
def test_parse_role(value: str, role: Role) -> None:
    assert rules.parse_role(value) is role


@pytest.mark.parametrize("value", ["", "boss", "responders", "incident commander"])
def test_parse_role_refuses(value: str) -> None:
    with pytest.raises(InvalidInput, match="unknown role"):
        rules.parse_role(value)


def test_parse_level_and_audience_and_date() -> None:
    assert rules.parse_level(" HIGH ", "impact") is Level.HIGH
    with pytest.raises(InvalidInput, match="unknown impact"):
        rules.parse_level("huge", "impact")
    assert rules.parse_audience("External") is Audience.EXTERNAL
    with pytest.raises(InvalidInput, match="unknown audience"):
        rules.parse_audience("press")
    assert rules.parse_date("2026-04-01").isoformat() == "2026-04-01"
    with pytest.raises(InvalidInput, match="YYYY-MM-DD"):
        rules.parse_date("01/04/2026", "due date")


# ------------------------------------------------------------------ parse_at


def test_parse_at_iso_naive_means_utc() -> None:
    assert rules.parse_at("2026-03-01T10:15:00", NOW) == datetime(2026, 3, 1, 10, 15, tzinfo=UTC)


def test_parse_at_iso_with_offset_and_z_become_utc() -> None:
    got = rules.parse_at("2026-03-01T11:15:00+01:00", NOW)
    assert got == datetime(2026, 3, 1, 10, 15, tzinfo=UTC) and got.tzinfo is UTC
    assert rules.parse_at("2026-03-01T10:15:00Z", NOW) == datetime(2026, 3, 1, 10, 15, tzinfo=UTC)
    assert rules.parse_at("2026-03-01 10:15", NOW) == datetime(2026, 3, 1, 10, 15, tzinfo=UTC)


def test_check_time_refuses_the_future_but_allows_a_minute_of_clock_skew() -> None:
    # parse_at only parses; check_time, where the time is written, judges it.
    ahead = rules.parse_at("2026-03-01T12:01:01", NOW)
    with pytest.raises(InvalidInput, match="in the future"):
        rules.check_time(ahead, NOW)
    assert rules.check_time(NOW + timedelta(minutes=1), NOW) == NOW + timedelta(minutes=1)


def test_parse_at_hhmm_today() -> None:
    assert rules.parse_at("11:30", NOW) == datetime(2026, 3, 1, 11, 30, tzinfo=UTC)
    assert rules.parse_at("9:05:07", NOW) == datetime(2026, 3, 1, 9, 5, 7, tzinfo=UTC)
    assert rules.parse_at("12:03", NOW) == datetime(2026, 3, 1, 12, 3, tzinfo=UTC)  # skew


def test_parse_at_hhmm_across_midnight_means_yesterday() -> None:
    just_after_midnight = datetime(2026, 3, 1, 0, 10, tzinfo=UTC)
    assert rules.parse_at("23:55", just_after_midnight) == datetime(2026, 2, 28, 23, 55, tzinfo=UTC)
    assert rules.parse_at("00:05", just_after_midnight) == datetime(2026, 3, 1, 0, 5, tzinfo=UTC)
    # A later time of day than now is yesterday's, also well away from midnight.
    assert rules.parse_at("12:30", NOW) == datetime(2026, 2, 28, 12, 30, tzinfo=UTC)
    # Year boundary.
    new_year = datetime(2027, 1, 1, 0, 1, tzinfo=UTC)
    assert rules.parse_at("23:59", new_year) == datetime(2026, 12, 31, 23, 59, tzinfo=UTC)


def test_parse_at_hhmm_is_utc_whatever_zone_now_is_in() -> None:
    # 01:10 in UTC+2 is 23:10 UTC the day before; "23:00" means 23:00 UTC that day.
    now = datetime(2026, 3, 2, 1, 10, tzinfo=timezone(timedelta(hours=2)))
    assert rules.parse_at("23:00", now) == datetime(2026, 3, 1, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "24:00",
        "12:60",
        "12:30:60",
        "noon",
        "12",
        "",
        "2026-13-01",
        "9999-12-31T23:59:59-23:59",  # past year 9999 in UTC: no OverflowError
        "0001-01-01T00:00+01:00",  # before year 1 in UTC
    ],
)
def test_parse_at_refuses(value: str) -> None:
    with pytest.raises(InvalidInput):
        rules.parse_at(value, NOW)


# --------------------------------------------------------- suggest_severity


@pytest.mark.parametrize(
    ("impact", "urgency", "sev"),
    [
        (Level.HIGH, Level.HIGH, Severity.SEV1),
        (Level.HIGH, Level.MEDIUM, Severity.SEV2),
        (Level.MEDIUM, Level.HIGH, Severity.SEV2),
        (Level.HIGH, Level.LOW, Severity.SEV3),
        (Level.MEDIUM, Level.MEDIUM, Severity.SEV3),
        (Level.LOW, Level.HIGH, Severity.SEV3),
        (Level.MEDIUM, Level.LOW, Severity.SEV4),
        (Level.LOW, Level.MEDIUM, Severity.SEV4),
        (Level.LOW, Level.LOW, Severity.SEV4),
        (None, None, Severity.SEV3),
        (Level.HIGH, None, Severity.SEV2),
        (None, Level.LOW, Severity.SEV4),
    ],
)
def test_suggest_severity(impact: Level | None, urgency: Level | None, sev: Severity) -> None:
    assert rules.suggest_severity(impact, urgency) is sev


# -------------------------------------------------------------- permissions


def _state(*roles: tuple[Role, str]) -> IncidentState:
    inc = Incident(
        id=1,
        title="t",
        severity=Severity.SEV2,
        status=Status.REPORTED,
        declared_at=NOW,
        declared_by="alice",
        updated_at=NOW,
        last_event_id=1,
    )
    return IncidentState(
        incident=inc,
        roles=tuple(Assignment(role=r, person=p, assigned_at=NOW) for r, p in roles),
    )


def test_anyone_may_command_while_no_commander() -> None:
    state = _state((Role.RESPONDER, "bob"))
    assert rules.can_command(state, "bob")
    assert rules.can_command(state, "stranger")
    rules.require_command(state, "stranger", "change severity")


def test_only_commander_or_deputy_once_assigned() -> None:
    state = _state((Role.COMMANDER, "alice"), (Role.DEPUTY, "dave"), (Role.RESPONDER, "bob"))
    assert rules.can_command(state, "alice")
    assert rules.can_command(state, "dave")
    assert not rules.can_command(state, "bob")
    assert not rules.can_command(state, "Alice")  # names are exact
    with pytest.raises(
        RuleViolation,
        match=r"only the commander or deputy may change status on INC-1 \(alice, dave\); you are bob",
    ):
        rules.require_command(state, "bob", "change status")


def test_deputy_alone_does_not_lock_command() -> None:
    state = _state((Role.DEPUTY, "dave"))
    assert rules.can_command(state, "bob")


# -------------------------------------------------------------- transitions


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (Status.REPORTED, Status.TRIAGED),
        (Status.REPORTED, Status.RESOLVED),  # forward skip
        (Status.TRIAGED, Status.CLOSED),
        (Status.CONTAINED, Status.CONTAINED),  # same status: both land
    ],
)
def test_forward_and_same_need_no_reason(current: Status, new: Status) -> None:
    rules.check_transition(current, new, None)
    rules.check_transition(current, new, "")


@pytest.mark.parametrize("reason", [None, "", "   \n"])
def test_moving_back_needs_a_reason(reason: str | None) -> None:
    with pytest.raises(RuleViolation, match="moving back from contained to triaged is a re-open"):
        rules.check_transition(Status.CONTAINED, Status.TRIAGED, reason)


def test_moving_back_with_a_reason() -> None:
    rules.check_transition(Status.CLOSED, Status.REPORTED, "customer reports it again")
    rules.check_transition(Status.RESOLVED, Status.RECOVERING, "error rate back up")


def test_every_backward_pair_is_refused_without_reason() -> None:
    for cur in Status:
        for new in Status:
            if new.rank < cur.rank:
                with pytest.raises(RuleViolation):
                    rules.check_transition(cur, new, None)
            else:
                rules.check_transition(cur, new, None)


@given(
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=300),
    st.integers(min_value=1, max_value=400),
)
def test_clipped_text_fits_keeps_its_head_and_says_it_was_cut(text: str, limit: int) -> None:
    got = rules.clip_text(text, limit, "kept whole elsewhere")
    assert len(got.encode()) <= limit or got == text  # fits, as valid UTF-8
    if len(text.encode()) <= limit:
        assert got == text
        return
    note = f" … [cut at {limit} bytes: kept whole elsewhere]"
    if len(note.encode()) < limit:
        assert got.endswith(note)
        got = got.removesuffix(note)
    assert text.startswith(got)
    assert len(got.encode()) > limit - len(note.encode()) - 4  # a split character: at most 3
