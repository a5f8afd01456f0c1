"""Deliveries through real processes: writers of other users that have no config,
`ircmd deliver` and `ircmd serve` as the deliverer, a real receiver on 127.0.0.1,
`ircmd deliveries` to look and retry, and SIGKILL in the middle of a send.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import pytest
from helpers.cli import RunCli, assert_error, assert_ok
from helpers.db import stored_bytes
from helpers.processes import DEADLINE
from helpers.receivers import SECRET, SLACK_TOKEN, Receiver, Reply
from helpers.serve import Deliver, Server, write_config

from ircmd.hooks.outbox import Route
from ircmd.store import Store


@pytest.fixture
def db_path(db_ref: Path | str) -> Path | str:
    """Delivery by process is the same on both backends: every test here runs on each."""
    return db_ref


def hooks_config(receiver: Receiver, timeout: float = 10) -> str:
    return f"""
[serve]
listen = "127.0.0.1:0"

[[hooks]]
name = "ops"
kind = "webhook"
url = "{receiver.url}"
secret = "{SECRET}"
events = ["declare", "update", "notify", "close"]
timeout = {timeout}

[[hooks]]
name = "chat"
kind = "slack"
url = "{receiver.slack_url}"
events = ["update"]
audience = "external"

[contacts."Legal"]
hook = "ops"
address = "legal@example.com"
"""


@pytest.fixture
def config(tmp_path: Path, receiver: Receiver) -> Path:
    root = tmp_path / "admin"
    root.mkdir()
    return write_config(root, hooks_config(receiver))


def once(run_cli: RunCli, config: Path) -> str:
    r = run_cli("deliver", "--once", env={"IRCMD_CONFIG": str(config)}, user="admin")
    assert_ok(r)
    return r.stderr


def test_writers_queue_and_deliver_once_sends(
    run_cli: RunCli, config: Path, receiver: Receiver, db_path: Path
) -> None:
    once(run_cli, config)  # the routing is in the record now; nothing was waiting
    # Writers have no config.toml at all: the record tells them what to queue.
    assert_ok(run_cli("declare", "Checkout down", "--severity", "SEV2"))
    assert_ok(run_cli("update", "INC-1", "external", "We are rolling back"))
    told = run_cli("notify", "INC-1", "legal", user="bob")
    assert_ok(told)
    assert told.stderr.startswith("legal notified; sending via ops\n"), (
        told.stderr
    )  # as typed: SEV2 lists no Legal
    listed = assert_ok(run_cli("deliveries"))
    assert listed.count("queued") == 4, listed
    log = once(run_cli, config)
    assert len(log.splitlines()) == 4 and all('"sent"' in line for line in log.splitlines())
    got = receiver.wait_for(4)
    assert {a.path for a in got} == {"/hook", f"/services/{SLACK_TOKEN}"}
    shown = json.loads(assert_ok(run_cli("deliveries", "INC-1", "--json")))
    assert [(d["event"], d["hook"], d["state"]) for d in shown] == [
        (1, "ops", "sent"),
        (2, "chat", "sent"),  # queued in the hooks' name order
        (2, "ops", "sent"),
        (3, "ops", "sent"),
    ]
    assert shown[3]["address"] == "legal@example.com"
    assert assert_ok(run_cli("deliveries", "--failed")) == ""
    # The outcomes are on the record, and every reader copes with them.
    report = assert_ok(run_cli("report", "INC-1"))
    assert "delivery of #2 to chat: sent" in report
    timeline = json.loads(assert_ok(run_cli("show", "INC-1", "--json")))["events"]
    assert [e["kind"] for e in timeline].count("delivery") == 4
    assert "chain intact" in assert_ok(run_cli("verify"))
    for out in (listed, log, report, json.dumps(timeline), json.dumps(shown)):
        assert SECRET not in out and SLACK_TOKEN not in out
    raw = stored_bytes(db_path)
    assert SECRET.encode() not in raw and SLACK_TOKEN.encode() not in raw
    # Not even the receiver's address (its port alone is 5 digits that a stored
    # microsecond or hash can hold by chance).
    assert f"127.0.0.1:{receiver.port}".encode() not in raw


def test_notify_of_a_contact_with_no_channel_says_it_is_recorded_only(
    run_cli: RunCli, db_path: Path
) -> None:
    assert_ok(run_cli("declare", "Checkout down", "--severity", "SEV1"))
    told = run_cli("notify", "INC-1", "CTO")
    assert_ok(told)
    assert told.stderr.startswith("CTO notified\n"), told.stderr  # no hooks: nothing to say

    async def route() -> None:  # as a deliverer whose hooks hear no notify writes it
        async with await Store.open(db_path) as store:
            await store.set_routes([Route("ops", "webhook", ("update",))], [])

    asyncio.run(route())
    told = run_cli("notify", "INC-1", "legal")
    assert_ok(told)
    assert told.stderr.startswith(
        "Legal notified (recorded only: no channel for Legal in config.toml's [contacts])\n"
    ), told.stderr
    assert assert_ok(run_cli("deliveries")) == ""


def test_a_failed_delivery_is_listed_and_retried_by_a_person(
    run_cli: RunCli, config: Path, receiver: Receiver
) -> None:
    once(run_cli, config)
    assert_ok(run_cli("declare", "Checkout down"))
    receiver.answer(Reply(400, body="unknown field"))
    once(run_cli, config)
    failed = assert_ok(run_cli("deliveries", "--failed"))
    assert (
        failed.startswith("DLV-1 ") and "failed (1 tries) 400 Bad Request: unknown field" in failed
    )
    assert_error(run_cli("--read-only", "deliveries", "retry", "DLV-1"), "read-only")
    assert_error(run_cli("deliveries", "retry", "DLV-7"), "no delivery DLV-7")
    for garbage in ("abc", "DLV-0", "99999999999999999999999", "DLV-\u0663", "1 2", "DLV-1\n2"):
        assert_error(run_cli("deliveries", "retry", garbage), "not a delivery id")
    assert_ok(run_cli("deliveries", "retry", "dlv-1", user="bob"))
    assert_error(run_cli("deliveries", "retry", "1"), "is queued")
    once(run_cli, config)
    assert len(receiver.wait_for(2)) == 2
    assert "sent (2 tries)" in assert_ok(run_cli("deliveries", "INC-1"))
    events = json.loads(assert_ok(run_cli("show", "INC-1", "--json")))["events"]
    said = [(e["actor"], e["data"]["outcome"]) for e in events if e["kind"] == "delivery"]
    assert said == [("deliverer", "failed"), ("bob", "requeued"), ("deliverer", "sent")]


def test_deliver_is_refused_to_locked_and_read_only_sessions(run_cli: RunCli, config: Path) -> None:
    once(run_cli, config)
    assert_ok(run_cli("declare", "Checkout down"))
    env = {"IRCMD_CONFIG": str(config)}
    assert_error(run_cli("--read-only", "deliver", "--once", env=env), "read-only")
    locked = {"IRCMD_LOCK_USER": "mallory", **env}
    assert_error(run_cli("deliver", env=locked, user=None), "deliver refused")
    # Looking is fine: no secret is in the outbox.
    listed = assert_ok(run_cli("deliveries", env=locked, user=None))
    assert "queued" in listed and SECRET not in listed


def test_deliver_runs_until_stopped_and_sends_at_once(
    tmp_path: Path, run_cli: RunCli, config: Path, receiver: Receiver, db_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    assert_ok(run_cli("declare", "Checkout down"))  # before any routing: nothing queued
    d = Deliver(db_path, home, config)
    try:
        assert d.first == "ircmd deliver: sending for ops, chat"
        asyncio.run(d.routed())  # the updates below are queued for it
        assert_ok(run_cli("update", "INC-1", "internal", "one"))
        assert_ok(run_cli("update", "INC-1", "external", "two"))
        assert [o["outcome"] for o in d.outcomes(3)] == ["sent"] * 3
        texts = [a.body["event"]["text"] for a in receiver.got() if a.path == "/hook"]
        assert texts == ["one", "two"]
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(DEADLINE) == 0
    finally:
        d.kill()


def test_serve_killed_mid_send_delivers_after_restart_with_one_duplicate(
    tmp_path: Path, run_cli: RunCli, receiver: Receiver, db_path: Path, server: type[Server]
) -> None:
    (tmp_path / "admin2").mkdir()
    config = write_config(tmp_path / "admin2", hooks_config(receiver, timeout=30))
    first = server(db_path, config)
    assert_ok(run_cli("declare", "Checkout down"))
    [declared] = receiver.wait_for(1)
    receiver.hold()  # the next request arrives and is not answered
    assert_ok(run_cli("update", "INC-1", "internal", "rolling back"))
    receiver.wait_for(2)
    first.kill()
    receiver.release()
    assert "sending" in assert_ok(run_cli("deliveries"))
    server(db_path, config)  # its lease died with its process: sent again at once
    got = receiver.wait_for(3)
    assert [a.body["event"]["text"] for a in got] == ["Checkout down", *["rolling back"] * 2]
    assert got[1].key == got[2].key != declared.key  # the duplicate says it is one
    # The receiver notes an arrival before it answers, and the deliverer records the
    # outcome after the answer: wait until no delivery is still in flight.
    end = time.monotonic() + DEADLINE
    while True:
        rows = json.loads(assert_ok(run_cli("deliveries", "--json")))
        if all(r["state"] not in ("queued", "sending") for r in rows):
            break
        assert time.monotonic() < end, f"deliveries still in flight: {rows}"
        time.sleep(0.05)
    assert [(r["state"], r["attempts"]) for r in rows] == [("sent", 1), ("sent", 2)]
    events = json.loads(assert_ok(run_cli("show", "INC-1", "--json")))["events"]
    sent = [e["data"]["of"] for e in events if e["kind"] == "delivery"]
    assert sent == [1, 3]  # each delivery's outcome once (#2 is the first's)
