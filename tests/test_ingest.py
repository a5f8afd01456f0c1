"""Alert ingestion without a socket: the payload formats, routing, the dedup verdict,
config.toml, and `ircmd ingest` from standard input (locked sessions included)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.cli import Cli
from helpers.db import Ref
from helpers.serve import CONFIG, alertmanager, am_alert, grafana, write_config

from ircmd.ingest import (
    Alert,
    AlertStatus,
    PayloadError,
    Route,
    Seen,
    Verdict,
    group_key,
    parse,
    route,
    verdict,
)
from ircmd.models import Format, InvalidInput, Severity
from ircmd.settings import load_settings

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
T1 = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)


def body(payload: object) -> bytes:
    return json.dumps(payload).encode()


def test_alertmanager_and_grafana_payloads_become_the_same_alerts() -> None:
    payload = alertmanager(
        am_alert("fp1"), am_alert("fp2", status="resolved", ends="2026-12-01T10:05:00Z")
    )
    am = parse(body(payload), Format.ALERTMANAGER)
    assert parse(body(grafana(*payload["alerts"])), Format.GRAFANA) == am
    first, second = am
    assert (first.fingerprint, first.status, first.title) == (
        "fp1",
        AlertStatus.FIRING,
        "5xx rate high",
    )
    assert first.starts_at == T0 and first.ends_at is None  # Go's zero time: none
    assert second.status is AlertStatus.RESOLVED and second.ends_at == T0.replace(minute=5)
    assert first.text == "HighErrorRate on checkout"


def test_an_alert_without_a_fingerprint_gets_one_from_its_labels() -> None:
    a = {**am_alert(""), "labels": {"b": "2", "a": "1"}}
    b = {**am_alert(""), "labels": {"a": "1", "b": "2"}}
    c = {**am_alert(""), "labels": {"a": "1", "b": "3"}}
    fps = [parse(body(alertmanager(x)), Format.ALERTMANAGER)[0].fingerprint for x in (a, b, c)]
    assert fps[0] == fps[1] != fps[2]


@pytest.mark.parametrize(
    ("payload", "fmt", "says"),
    [
        (b"[", Format.JSON, "not JSON"),
        (body({"version": "4"}), Format.ALERTMANAGER, "alerts"),
        (body([{"title": "x"}, {"title": 3}]), Format.JSON, "1.title"),
        (body({"title": "x", "labels": {"a": 1}}), Format.JSON, "labels.a"),
        (body({"title": "x", "ends_at": 1700000000}), Format.JSON, "RFC 3339"),
        (b" " * (1024 * 1024 + 1), Format.JSON, "larger than"),
        (body({"title": "x", "labels": {"a": "\ud800"}}), Format.JSON, "lone surrogate"),
        (b"[" * 100_000, Format.JSON, "nested too deeply"),  # the parser's stack, not a 500
    ],
)
def test_a_bad_payload_is_refused_whole_with_one_line(
    payload: bytes, fmt: Format, says: str
) -> None:
    with pytest.raises(PayloadError) as e:
        parse(payload, fmt)
    assert says in str(e.value) and "\n" not in str(e.value)


def alert(**labels: str) -> Alert:
    return Alert(fingerprint="f", status=AlertStatus.FIRING, title="t", labels=labels)


def test_the_first_matching_route_decides_else_the_defaults() -> None:
    routes = [
        Route(
            match={"team": "payments", "env": "prod"}, severity=Severity.SEV1, group_by=("service",)
        ),
        Route(match={"team": "payments"}, severity=Severity.SEV2, type="outage"),
        Route(match={"alertname": "Watchdog"}, drop=True),
    ]
    defaults = Route(type="unknown")
    prod = route(alert(team="payments", env="prod", service="api"), routes, defaults)
    assert prod is not None and prod.severity is Severity.SEV1 and prod.matched
    assert prod.group == '{"service":"api"}' and prod.service == "api"
    staging = route(alert(team="payments", env="staging"), routes, defaults)
    assert staging is not None and (staging.severity, staging.type) == (Severity.SEV2, "outage")
    assert route(alert(alertname="Watchdog"), routes, defaults) is None
    other = route(alert(team="search"), routes, defaults)
    assert other is not None and not other.matched and other.type == "unknown"
    assert other.severity is Severity.SEV3


@pytest.mark.parametrize(
    ("said", "sev"),
    [("critical", Severity.SEV1), ("SEV2", Severity.SEV2), ("2", Severity.SEV2),
     ("warning", Severity.SEV3), ("info", Severity.SEV4), ("", Severity.SEV3), ("weird", Severity.SEV3)],
)  # fmt: skip
def test_an_alerts_own_severity_is_used_when_its_route_gives_none(said: str, sev: Severity) -> None:
    a = alert().model_copy(update={"severity": said})
    routed = route(a, [], Route())
    assert routed is not None and routed.severity is sev


def test_group_keys_cannot_collide_through_label_values() -> None:
    a = alert(alertname="a,service=b", service="")
    b = alert(alertname="a", service="b")
    assert group_key(a, ["alertname", "service"]) != group_key(b, ["alertname", "service"])


@pytest.mark.parametrize(
    ("seen", "status", "starts", "expected"),
    [
        (None, "firing", T0, Verdict.NEW),
        (None, "resolved", T0, Verdict.NEW),
        (("firing", T0), "firing", T0, Verdict.DUPLICATE),
        (("firing", T0), "resolved", T0, Verdict.NEW),
        (("resolved", T0), "resolved", T0, Verdict.DUPLICATE),
        (("resolved", T0), "firing", T0, Verdict.STALE),  # the firing, delivered late
        (("resolved", T0), "firing", T1, Verdict.NEW),  # fired again
        (("firing", T1), "resolved", T0, Verdict.STALE),  # an older episode's end
        (("firing", None), "firing", None, Verdict.DUPLICATE),
        (("firing", None), "resolved", None, Verdict.NEW),
    ],
)
def test_the_dedup_verdict(
    seen: tuple[str, datetime | None] | None,
    status: str,
    starts: datetime | None,
    expected: Verdict,
) -> None:
    before = Seen(status=AlertStatus(seen[0]), starts_at=seen[1], incident_id=1) if seen else None
    a = Alert(fingerprint="f", status=AlertStatus(status), title="t", starts_at=starts)
    assert verdict(before, a) is expected


# ------------------------------------------------------------------ config.toml


def test_config_toml_is_read_from_the_config_dir_or_ircmd_config(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    settings = load_settings({"IRCMD_CONFIG": str(path)})
    assert settings.serve.listen == "127.0.0.1:0"
    assert sorted(settings.ingest.sources) == ["alertmanager", "grafana", "own"]
    assert settings.ingest.routes[0].playbook == "service-outage"


@pytest.mark.parametrize(
    ("text", "mode", "says"),
    [
        (CONFIG, 0o640, "chmod 600"),
        (CONFIG, 0o604, "chmod 600"),
        ("[serve]\nlisten = 8080\n", 0o600, "serve.listen"),
        ("[serve]\nlisten = \n", 0o600, "not valid TOML"),
        ('[ingest.sources.x]\nformat = "nagios"\ntoken = "0123456789abcdef"\n', 0o600, "format"),
        ('[ingest.sources.x]\nformat = "json"\ntoken = "short"\n', 0o600, "token"),
        ("[[ingest.routes]]\nmatchers = {}\n", 0o600, "matchers"),
    ],
)
def test_a_bad_or_open_config_is_refused_with_one_line(
    tmp_path: Path, text: str, mode: int, says: str
) -> None:
    path = write_config(tmp_path, text, mode)
    with pytest.raises(InvalidInput) as e:
        load_settings({"IRCMD_CONFIG": str(path)})
    assert says in str(e.value) and "\n" not in str(e.value)


def test_a_config_without_tokens_may_be_readable(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[status]\ntitle = "Acme status"\n', 0o644)
    assert load_settings({"IRCMD_CONFIG": str(path)}).status.title == "Acme status"


def test_ircmd_config_naming_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        load_settings({"IRCMD_CONFIG": str(tmp_path / "nope.toml")})


# ------------------------------------------------------------------ the CLI


def configured(tmp_path: Path, db: Ref) -> Cli:
    cli = Cli(tmp_path, db)
    write_config(cli.user_config())  # config.toml in the config directory
    return cli


def test_ingest_from_stdin_routes_and_dedups_like_serve(tmp_path: Path, db_ref: Ref) -> None:
    cli = configured(tmp_path, db_ref)
    payload = json.dumps(alertmanager(am_alert("fp1"), am_alert("fp2", pod="b")))
    r = cli.ok("ingest", "--format", "alertmanager", input=payload)
    assert json.loads(r.out)["opened"] == ["INC-1"] and json.loads(r.out)["recorded"] == 2
    assert (
        json.loads(cli.ok("ingest", "--format", "alertmanager", input=payload).out)["duplicates"]
        == 2
    )
    shown = cli.ok("show", "INC-1", "--json").json()
    assert shown["incident"]["declared_by"] == "alice"
    assert shown["incident"]["severity"] == "SEV2"


def test_ingest_of_a_bad_payload_writes_nothing(tmp_path: Path, db_ref: Ref) -> None:
    cli = configured(tmp_path, db_ref)
    r = cli("ingest", "--format", "alertmanager", input='{"version": "4", "alerts": [{}]}')
    assert r.code == 1 and r.err.startswith("ircmd: error: alerts.0.status")
    assert r.err.count("\n") == 1
    assert "INC-1" not in cli.ok("list", "--all").out


def test_a_blank_summary_is_none_and_the_alertname_titles_the_alert() -> None:
    """A summary template that rendered nothing still sends the key; refusing the
    alert as untitled would lose it, since Alertmanager does not retry a 4xx."""
    for summary in ("", "  \n"):
        (got,) = parse(body(alertmanager(am_alert("fp1", summary=summary))), Format.ALERTMANAGER)
        assert got.title == "HighErrorRate"


@pytest.mark.parametrize("zero", ["0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z"])
def test_a_zero_start_is_no_start(zero: str) -> None:
    """Go's zero time and Unix's both mean "not set", not an impact in year 1 or 1970."""
    (got,) = parse(body(alertmanager(am_alert("fp1", starts=zero))), Format.ALERTMANAGER)
    assert got.starts_at is None
    (later,) = parse(
        body(alertmanager(am_alert("fp1", starts="1970-01-01T00:00:01Z"))), Format.ALERTMANAGER
    )
    assert later.starts_at == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)


def test_a_huge_title_or_description_is_cut_and_kept_whole_in_the_alert(
    tmp_path: Path, db_ref: Ref
) -> None:
    """Sent text is not refused for its size: the incident's title and summary are
    cut to the text limit with a note, the alert event holds every byte."""
    cli = configured(tmp_path, db_ref)
    title = "ü" * 40_000  # 80,000 bytes: the cut must not split a character
    long = am_alert("fp1", summary=title)
    wordy = am_alert("fp2", service="search")
    wordy["annotations"]["description"] = "d" * 70_000
    blank = am_alert("fp3", pod="b", summary=" ")
    r = cli.ok(
        "ingest", "--format", "alertmanager", input=json.dumps(alertmanager(long, wordy, blank))
    )
    assert json.loads(r.out)["recorded"] == 3 and json.loads(r.out)["opened"] == ["INC-1", "INC-2"]
    first = cli.ok("show", "INC-1", "--json").json()
    cut = first["incident"]["title"]
    assert cut.startswith("ü" * 100) and cut.endswith("the alert's data holds it whole]")
    assert len(cut.encode()) <= 64 * 1024
    alerts = [e for e in first["events"] if e["kind"] == "alert"]
    assert [e["text"] for e in alerts] == [cut, "HighErrorRate"]
    assert alerts[0]["data"]["title"] == title and "title" not in alerts[1]["data"]
    second = cli.ok("show", "INC-2", "--json").json()
    summary = second["incident"]["summary"]
    assert summary.startswith("d" * 100) and "the alert that opened it holds it whole" in summary
    (alert,) = [e for e in second["events"] if e["kind"] == "alert"]
    assert alert["data"]["text"] == "d" * 70_000


def test_a_nul_in_an_alert_is_recorded_on_either_database(tmp_path: Path, db_ref: Ref) -> None:
    """PostgreSQL's text cannot hold a NUL: refused, the alert would fail on every retry.
    Its title and summary show it as ␀; the event's data keeps what was sent."""
    cli = configured(tmp_path, db_ref)
    sent = am_alert("fp1", summary="disk \x00 full")
    sent["annotations"]["description"] = "nul \x00 inside"
    r = cli.ok("ingest", "--format", "alertmanager", input=json.dumps(alertmanager(sent)))
    assert json.loads(r.out)["recorded"] == 1
    shown = cli.ok("show", "INC-1", "--json").json()
    assert shown["incident"]["title"] == "disk \u2400 full"
    assert shown["incident"]["summary"] == "nul \u2400 inside"
    (alert,) = [e for e in shown["events"] if e["kind"] == "alert"]
    assert alert["text"] == "disk \u2400 full" and alert["data"]["title"] == "disk \x00 full"
    assert alert["data"]["text"] == "nul \x00 inside"


def test_a_locked_session_may_ingest_as_itself_but_not_serve_or_write_the_page(
    tmp_path: Path, db_ref: Ref
) -> None:
    cli = configured(tmp_path, db_ref)
    locked = {"IRCMD_LOCK_USER": "bob"}
    payload = json.dumps({"title": "Disk full", "labels": {"alertname": "DiskFull"}})
    r = cli("ingest", input=payload, env=locked, user=None)
    assert r.code == 0, r.err
    assert cli.ok("show", "INC-1", "--json").json()["incident"]["declared_by"] == "bob"
    for args in (("serve",), ("status-page", "--out", str(tmp_path / "site"))):
        r = cli(*args, env=locked, user=None)
        assert r.code != 0 and "refused" in r.err, r.err
    assert not (tmp_path / "site").exists()
    # The public title is a record verb like `update`: allowed, as bob.
    assert cli("public-title", "INC-1", "Storage trouble", env=locked, user=None).code == 0
