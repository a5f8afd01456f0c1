"""`ircmd serve` as a real process, driven over real HTTP on 127.0.0.1: tokens,
malformed payloads, routing, dedup, out-of-order and resolved alerts, a storm,
concurrent POSTs written together, a serve killed mid-batch, and two serves on one
database."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers.cli import assert_ok, ircmd
from helpers.db import Ref, rows
from helpers.processes import DEADLINE, Holder
from helpers.serve import (
    GRAFANA_TOKEN,
    JSON_TOKEN,
    TOKEN,
    Server,
    alertmanager,
    am_alert,
    grafana,
    write_config,
)

from ircmd.models import Severity
from ircmd.store import Store

Start = type[Server]


@pytest.fixture
def db_path(db_ref: Ref) -> Ref:
    """serve's behaviour is the same on both backends: every test here runs on each."""
    return db_ref


def alert_events(db: Path) -> list[tuple[int, str, str]]:
    """(incident, fingerprint, status) of every alert event, in order."""
    found = rows(db, "SELECT incident_id, data FROM events WHERE kind = 'alert' ORDER BY id")
    return [(n, json.loads(d)["fingerprint"], json.loads(d)["status"]) for n, d in found]


def incidents(db: Path) -> list[tuple[int, str, str, str, str]]:
    return rows(db, "SELECT id, title, severity, status, type FROM incidents ORDER BY id")


def untriaged(db: Path) -> set[int]:
    async def read() -> set[int]:
        async with await Store.open(db, read_only=True) as store:
            return await store.untriaged()

    return asyncio.run(read())


def verified(tmp_path: Path, db: Path) -> None:
    out = assert_ok(ircmd("verify", db=db, home=tmp_path / "home"))
    assert out.startswith("ok: chain intact")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


def test_a_token_that_is_missing_wrong_or_another_sources_is_refused(
    server: Start, db_path: Path, config: Path
) -> None:
    s = server(db_path, config)
    payload = alertmanager(am_alert("fp1"))
    for token in (None, "wrong-token-0123456789", GRAFANA_TOKEN, TOKEN + "x", TOKEN[:-1]):
        r = s.post("alertmanager", payload, token=token)
        assert r.status == 401, (token, r.body)
        assert "token" in r.json()["error"]
    assert s.post("nosuchsource", payload).status == 404  # to a holder of a source's token
    assert s.post("nosuchsource", payload, token="wrong-token-0123456789").status == 401
    assert s.post("nosuchsource", payload, token=None).status == 401  # names are not probed
    assert rows(db_path, "SELECT count(*) FROM events") == [(0,)]
    # Refusals are in serve's log too, one JSON line each.
    assert s.post("alertmanager", payload).status == 200
    s.stop()
    log = [json.loads(line) for line in s.log()]
    assert [entry.get("status") for entry in log[:8]] == [401] * 5 + [404, 401, 401]
    assert log[-1]["recorded"] == 1


@pytest.mark.parametrize(
    ("source", "token", "body", "says"),
    [
        ("alertmanager", TOKEN, b"{not json", "not JSON"),
        ("alertmanager", TOKEN, b"\xff\xfe", "not JSON"),
        ("alertmanager", TOKEN, json.dumps({"version": "4", "alerts": 3}).encode(), "alerts"),
        (
            "alertmanager",
            TOKEN,
            json.dumps({"version": "4", "alerts": [{"status": "firing", "labels": []}]}).encode(),
            "labels",
        ),
        (
            "alertmanager",
            TOKEN,
            json.dumps(alertmanager(am_alert("a"), {**am_alert("b"), "startsAt": 5})).encode(),
            "startsAt",
        ),
        ("alertmanager", TOKEN, json.dumps({**alertmanager(), "version": "3"}).encode(), "version"),
        ("alertmanager", TOKEN, json.dumps(alertmanager(am_alert("\udc00"))).encode(), "surrogate"),
        ("own", JSON_TOKEN, json.dumps({"title": "x", "colour": "red"}).encode(), "colour"),
        ("own", JSON_TOKEN, b"[" * 100_000, "nested too deeply"),  # was a 500, a traceback
        ("own", JSON_TOKEN, json.dumps({"title": "   "}).encode(), "title"),
        ("own", JSON_TOKEN, json.dumps({"title": "x", "starts_at": "12:00"}).encode(), "starts_at"),
        (
            "own",
            JSON_TOKEN,
            json.dumps({"title": "x", "starts_at": "2026-12-01T10:00:00"}).encode(),
            "time zone",
        ),
        (
            "grafana",
            GRAFANA_TOKEN,
            json.dumps({"alerts": [{"status": "pending"}]}).encode(),
            "status",
        ),
    ],
)
def test_a_malformed_payload_is_a_4xx_with_one_line_and_writes_nothing(
    server: Start, db_path: Path, config: Path, source: str, token: str, body: bytes, says: str
) -> None:
    s = server(db_path, config)
    r = s.post(source, body, token=token)
    assert r.status == 400, r.body
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.body.count(b"\n") == 0
    assert says.lower() in r.json()["error"].lower()
    assert rows(db_path, "SELECT count(*) FROM events") == [(0,)]


def test_a_body_over_one_mebibyte_is_refused_unread(
    server: Start, db_path: Path, config: Path
) -> None:
    s = server(db_path, config)
    big = alertmanager(am_alert("fp", summary="x" * (1024 * 1024)))
    r = s.post("alertmanager", big)
    assert r.status == 413
    assert "larger than" in r.json()["error"]
    assert rows(db_path, "SELECT count(*) FROM events") == [(0,)]


def test_a_firing_alert_opens_a_reported_incident_by_its_route(
    server: Start, db_path: Path, config: Path, tmp_path: Path
) -> None:
    s = server(db_path, config)
    before = datetime.now(UTC).replace(microsecond=0)
    r = s.post("alertmanager", alertmanager(am_alert("fp1", starts="2026-12-01T10:00:00Z")))
    assert r.status == 200
    assert r.json()["opened"] == ["INC-1"]
    assert incidents(db_path) == [(1, "5xx rate high", "SEV2", "reported", "outage")]
    started, detected, declared_by = rows(
        db_path, "SELECT started_at, detected_at, declared_by FROM incidents"
    )[0]
    assert started.startswith("2026-12-01T10:00:00")
    assert datetime.fromisoformat(detected) >= before
    assert declared_by == "alerts:alertmanager"
    assert rows(db_path, "SELECT role, person FROM roles") == []  # triage names the lead
    # The route's playbook is applied.
    assert rows(db_path, "SELECT name FROM playbooks_applied") == [("service-outage",)]
    # Re-sent: one event, not two. Another pod of the same group: attached.
    assert s.post("alertmanager", alertmanager(am_alert("fp1"))).json()["duplicates"] == 1
    r = s.post("alertmanager", alertmanager(am_alert("fp2", pod="b")))
    assert r.json()["opened"] == [] and r.json()["incidents"] == ["INC-1"]
    # Another service is another group: another incident.
    assert s.post("alertmanager", alertmanager(am_alert("fp3", service="search"))).json()[
        "opened"
    ] == ["INC-2"]
    assert alert_events(db_path) == [
        (1, "fp1", "firing"),
        (1, "fp2", "firing"),
        (2, "fp3", "firing"),
    ]
    assert untriaged(db_path) == {1, 2}
    verified(tmp_path, db_path)


def test_resolved_duplicate_and_out_of_order_alerts(
    server: Start, db_path: Path, config: Path, tmp_path: Path
) -> None:
    s = server(db_path, config)
    first = am_alert("fp1", starts="2026-12-01T10:00:00Z")
    resolved = am_alert(
        "fp1", status="resolved", starts="2026-12-01T10:00:00Z", ends="2026-12-01T10:20:00Z"
    )
    assert s.post("alertmanager", alertmanager(first)).json()["recorded"] == 1
    assert s.post("alertmanager", alertmanager(resolved)).json()["recorded"] == 1
    # The firing delivered late (after its resolution) and the resolution re-sent.
    assert s.post("alertmanager", alertmanager(first)).json()["stale"] == 1
    assert s.post("alertmanager", alertmanager(resolved)).json()["duplicates"] == 1
    # An older episode's resolution arriving after a newer episode fired: stale.
    again = am_alert("fp1", starts="2026-12-01T11:00:00Z")
    assert s.post("alertmanager", alertmanager(again)).json()["recorded"] == 1
    assert s.post("alertmanager", alertmanager(resolved)).json()["stale"] == 1
    assert alert_events(db_path) == [
        (1, "fp1", "firing"),
        (1, "fp1", "resolved"),
        (1, "fp1", "firing"),
    ]
    assert len(incidents(db_path)) == 1
    verified(tmp_path, db_path)


def test_a_resolution_before_any_firing_opens_nothing_and_is_counted(
    server: Start, db_path: Path, config: Path
) -> None:
    s = server(db_path, config)
    resolved = am_alert("fp9", status="resolved", ends="2026-12-01T10:05:00Z")
    r = s.post("alertmanager", alertmanager(resolved))
    assert r.status == 200 and r.json()["resolved_unknown"] == 1 and r.json()["received"] == 1
    assert incidents(db_path) == []
    s.stop()
    assert json.loads(s.log()[-1])["resolved_unknown"] == 1


def test_resolving_an_incident_by_hand_logs_later_resolutions_on_it_and_a_new_firing_opens_another(
    server: Start, db_path: Path, config: Path, tmp_path: Path
) -> None:
    s = server(db_path, config)
    s.post("alertmanager", alertmanager(am_alert("fp1")))
    assert_ok(ircmd("status", "INC-1", "resolved", db=db_path, home=tmp_path / "home"))
    gone = am_alert("fp1", status="resolved", ends="2026-12-01T10:30:00Z")
    assert s.post("alertmanager", alertmanager(gone)).json()["incidents"] == ["INC-1"]
    back = am_alert("fp1", starts="2026-12-01T12:00:00Z")
    assert s.post("alertmanager", alertmanager(back)).json()["opened"] == ["INC-2"]
    # A person changed the status of INC-1: triaged; INC-2 is not yet.
    assert untriaged(db_path) == {2}


def test_unmatched_and_dropped_alerts_are_counted_in_the_answer_and_the_log(
    server: Start, db_path: Path, config: Path
) -> None:
    s = server(db_path, config)
    payload = alertmanager(
        am_alert("w", alertname="Watchdog", team="infra"),
        am_alert("d", alertname="DiskFull", team="infra", service="db"),
    )
    r = s.post("alertmanager", payload).json()
    assert (r["dropped"], r["unmatched"], r["recorded"], r["received"]) == (1, 1, 1, 2)
    # The defaults: SEV3, grouped by alertname alone, no type.
    assert incidents(db_path) == [(1, "5xx rate high", "SEV3", "reported", "")]
    s.stop()
    logged = json.loads(s.log()[-1])
    assert (logged["dropped"], logged["unmatched"]) == (1, 1)


def test_grafana_and_ircmd_json_payloads(server: Start, db_path: Path, config: Path) -> None:
    s = server(db_path, config)
    r = s.post("grafana", grafana(am_alert("g1", service="api")), token=GRAFANA_TOKEN)
    assert r.json()["opened"] == ["INC-1"]
    own = [
        {"title": "Queue backlog", "severity": "critical", "labels": {"alertname": "Backlog"}},
        {
            "title": "Queue backlog",
            "severity": "SEV1",
            "labels": {"alertname": "Backlog"},
            "fingerprint": "q2",
            "status": "firing",
            "starts_at": "2026-12-01T09:00:00Z",
            "ends_at": None,
            "text": "depth 10k",
        },
    ]
    r = s.post("own", own, token=JSON_TOKEN)
    assert r.json()["opened"] == ["INC-2"] and r.json()["recorded"] == 2
    assert incidents(db_path)[1] == (2, "Queue backlog", "SEV1", "reported", "")


def test_an_alert_storm_is_one_incident_and_one_event_per_fingerprint(
    server: Start, db_path: Path, config: Path, tmp_path: Path
) -> None:
    s = server(db_path, config)
    storm = [am_alert(f"fp{i:03}", pod=str(i)) for i in range(300)]
    assert s.post("alertmanager", alertmanager(*storm)).json()["recorded"] == 300
    # Then the same storm re-sent in overlapping batches by 10 clients at once.
    batches = [storm[i : i + 40] for i in range(0, 300, 20)]
    with ThreadPoolExecutor(10) as pool:
        replies = list(pool.map(lambda b: s.post("alertmanager", alertmanager(*b)), batches))
    assert all(
        r.status == 200 and r.json()["duplicates"] == len(b)
        for r, b in zip(replies, batches, strict=True)
    )
    assert len(incidents(db_path)) == 1
    assert len(alert_events(db_path)) == 300
    assert {fp for _, fp, _ in alert_events(db_path)} == {f"fp{i:03}" for i in range(300)}
    verified(tmp_path, db_path)


def test_concurrent_posts_are_written_together_and_each_answered_as_if_alone(
    server: Start, db_path: Path, config: Path, tmp_path: Path, holder_of: type[Holder]
) -> None:
    # While another process holds the write lock, serve's first transaction waits
    # for it and every later POST queues: they are written together once it is free.
    s = server(db_path, config, {"IRCMD_TIMEOUT": str(DEADLINE)})
    holder = holder_of(db_path)
    fresh = [alertmanager(am_alert(f"fp{i}", pod=str(i))) for i in range(20)]
    resent = fresh[:5]
    too_long = alertmanager(am_alert("long", summary="x" * 70_000))  # cut, not refused
    lone = json.dumps(alertmanager(am_alert("\udc00"))).encode()  # refused when parsed
    payloads: list[Any] = [*fresh, *resent, too_long, lone]
    with ThreadPoolExecutor(len(payloads)) as pool:
        pending = [pool.submit(s.post, "alertmanager", p) for p in payloads]
        _wait_for_connections(s, len(payloads) - 1)  # `lone` is answered at once
        holder.release()
        replies = [p.result() for p in pending]
    ok = [r.json() for r in replies[:-1]]
    assert all(r.status == 200 for r in replies[:-1])
    assert sum(r["recorded"] for r in ok) == 21 and sum(r["duplicates"] for r in ok) == 5
    for first, again in zip(ok[:5], ok[20:25], strict=True):  # either may have come first
        assert sorted([first["recorded"], again["recorded"]]) == [0, 1]
    assert sum(len(r["opened"]) for r in ok) == 1
    assert replies[-1].status == 400 and "surrogate" in replies[-1].json()["error"]
    assert len(incidents(db_path)) == 1
    expected = sorted([*(f"fp{i}" for i in range(20)), "long"])
    assert sorted(fp for _, fp, _ in alert_events(db_path)) == expected
    verified(tmp_path, db_path)


def test_a_serve_killed_mid_batch_leaves_nothing_half_written_and_the_retries_are_deduplicated(
    server: Start, db_path: Path, config: Path, tmp_path: Path, holder_of: type[Holder]
) -> None:
    s = server(db_path, config)
    # Four payloads of 50 alerts, each of its own service: four incidents to open.
    payloads = [
        alertmanager(*(am_alert(f"{svc}-{i}", service=svc) for i in range(50)))
        for svc in ("checkout", "cart", "search", "login")
    ]
    holder = holder_of(db_path)  # serve will wait for the write lock with all four in hand
    with ThreadPoolExecutor(len(payloads)) as pool:
        pending = [pool.submit(_post_or_error, s, p) for p in payloads]
        _wait_for_connections(s, len(payloads))
        s.kill()
        assert [p.result(DEADLINE) for p in pending] == ["connection lost"] * 4
    holder.release()
    assert incidents(db_path) == [] and alert_events(db_path) == []
    # The senders retry against a new serve: each written once; the retries of
    # those (their answers lost) change nothing.
    t = server(db_path, config)
    with ThreadPoolExecutor(len(payloads)) as pool:
        first = list(pool.map(lambda p: t.post("alertmanager", p).json(), payloads))
        again = list(pool.map(lambda p: t.post("alertmanager", p).json(), payloads))
    assert [(r["recorded"], len(r["opened"])) for r in first] == [(50, 1)] * 4
    assert [r["duplicates"] for r in again] == [50] * 4
    assert len(incidents(db_path)) == 4 and len(alert_events(db_path)) == 200
    verified(tmp_path, db_path)


def test_a_serve_killed_while_writing_leaves_every_payload_whole_or_absent(
    server: Start, db_path: Path, config: Path, tmp_path: Path
) -> None:
    s = server(db_path, config)
    payloads = [
        alertmanager(*(am_alert(f"s{n}-{i}", service=f"svc{n}") for i in range(100)))
        for n in range(40)
    ]
    with ThreadPoolExecutor(8) as pool:
        pending = [pool.submit(_post_or_error, s, p) for p in payloads]
        deadline = time.monotonic() + DEADLINE
        while not alert_events(db_path) and time.monotonic() < deadline:
            time.sleep(0.001)
        s.kill()  # one transaction has committed; others are being written or queued
        for p in pending:
            p.result(DEADLINE)
    # Each payload's incident has all its 100 alerts or does not exist.
    per_incident = rows(
        db_path, "SELECT incident_id, count(*) FROM events WHERE kind = 'alert' GROUP BY 1"
    )
    assert per_incident and all(count == 100 for _, count in per_incident)
    assert len(incidents(db_path)) == len(per_incident)
    verified(tmp_path, db_path)
    t = server(db_path, config)
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda p: t.post("alertmanager", p).json(), payloads))
    assert sum(r["recorded"] + r["duplicates"] for r in replies) == 4000
    assert len(incidents(db_path)) == 40 and len(alert_events(db_path)) == 4000
    verified(tmp_path, db_path)


def _post_or_error(s: Server, payload: Any) -> Any:
    try:
        return s.post("alertmanager", payload)
    except OSError:
        return "connection lost"


def _wait_for_connections(s: Server, count: int) -> None:
    """Until serve has accepted `count` connections (and so has their bytes)."""
    proc = psutil.Process(s.proc.pid)
    port = int(s.url.rsplit(":", 1)[1])
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        conns = proc.net_connections(kind="tcp")
        if (
            sum(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port for c in conns)
            >= count
        ):
            return
        time.sleep(0.01)
    raise AssertionError(f"serve never accepted {count} connections")


def test_two_serves_on_one_database_open_one_incident(
    server: Start, db_path: Path, config: Path, tmp_path: Path
) -> None:
    a, b = server(db_path, config), server(db_path, config)
    payloads = [alertmanager(am_alert(f"fp{i % 30}", pod=str(i % 30))) for i in range(120)]
    with ThreadPoolExecutor(8) as pool:
        replies = list(
            pool.map(
                lambda ip: (a if ip[0] % 2 else b).post("alertmanager", ip[1]), enumerate(payloads)
            )
        )
    assert all(r.status == 200 for r in replies)
    assert sum(r.json()["recorded"] for r in replies) == 30
    assert sum(len(r.json()["opened"]) for r in replies) == 1
    assert len(incidents(db_path)) == 1 and len(alert_events(db_path)) == 30
    verified(tmp_path, db_path)


def test_serve_stops_on_sigterm_and_leaves_the_presence_line(
    server: Start, db_path: Path, config: Path
) -> None:
    s = server(db_path, config)
    deadline = time.monotonic() + DEADLINE
    while not rows(db_path, "SELECT person FROM presence") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert rows(db_path, "SELECT person FROM presence") == [("serve",)]
    assert s.stop() == 0
    assert rows(db_path, "SELECT person FROM presence") == []


def test_a_config_file_others_can_read_is_refused(tmp_path: Path, db_path: Path) -> None:
    path = write_config(tmp_path, mode=0o644)
    r = ircmd("serve", db=db_path, home=tmp_path / "home", env={"IRCMD_CONFIG": str(path)})
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1
    assert "chmod 600" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.sqlite_only
def test_a_record_replaced_under_serve_is_a_503_and_serve_stops_with_the_error(
    server: Start, db_path: Path, config: Path, tmp_path: Path
) -> None:
    """`ircmd restore` swaps another file in: each alert is a 503 (its sender retries),
    and serve stops at its next heartbeat with the error, rather than refuse alerts
    until someone notices; started again, it opens the file now at the path."""
    s = server(db_path, config)
    assert s.post("alertmanager", alertmanager(am_alert("fp1"))).status == 200
    other = tmp_path / "other.db"
    asyncio.run(_declared(other))
    other.replace(db_path)
    r = s.post("alertmanager", alertmanager(am_alert("fp2")))
    assert r.status == 503 and "replaced by another file" in r.json()["error"], r.body
    assert r.json()["error"].count("nothing was written") == 1
    code = s.proc.wait(timeout=DEADLINE)  # its heartbeat (every 10 s) finds it
    assert code == 1
    assert any("ircmd: error:" in line and "replaced" in line for line in s.log())


async def _declared(db: Path) -> None:
    async with await Store.open(db) as store:
        await store.declare("elsewhere", actor="bob", severity=Severity.SEV3)
