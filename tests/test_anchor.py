"""The anchor: the chain's head kept outside the database, so that a record rewritten
whole, cut short, replaced or emptied by someone who can write the file is caught.

Every attack is done as it would be done (tests/helpers/attacker.py: the sqlite3 shell, the
append-only triggers dropped and put back, the chain re-hashed and the projections
rebuilt, so that the record checks against itself), and each is caught by
`ircmd verify` naming the first anchor that no longer holds.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.attacker import cut_tail, drop_triggers, remove_files, rewrite, sql
from helpers.cli import RunCli, assert_error, assert_ok
from helpers.screen import NOW, running, until

from ircmd.anchor import Anchor, AutoAnchor, db_key, newest, write_anchor
from ircmd.config import AnchorSettings
from ircmd.models import Kind, Role, Severity, StorageError
from ircmd.store import Store
from ircmd.widgets.header import IncidentHeader

DEADLINE = 30.0  # seconds a screen test waits for a condition (generous: CI is shared)


def default_log(tmp_path: Path) -> Path:
    """Where `ircmd anchor` writes by default in run_cli's home (XDG_STATE_HOME)."""
    return tmp_path / "home" / "state" / "ircmd" / "anchors.jsonl"


def lines(log: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in log.read_text().splitlines() if x.strip()]


def stored_hash(db: Path, event_id: int) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("SELECT hash FROM events WHERE id = ?", (event_id,)).fetchone()[0])


async def _first_half(db: Path) -> None:
    async with await Store.open(db) as s:
        await s.declare("Payments down", actor="alice", severity=Severity.SEV2, commander="")  # 1
        await s.log(1, "first note", actor="alice")  # 2
        await s.log(1, "restarted the pool", actor="alice", kind=Kind.DECISION)  # 3
        await s.assign(1, Role.COMMANDER, "alice", actor="alice")  # 4


async def _second_half(db: Path) -> None:
    async with await Store.open(db) as s:
        await s.add_item(1, "block the bad IPs", actor="alice")  # 5
        await s.log(1, "second note", actor="alice")  # 6
        await s.declare("Disk full", actor="bob")  # 7
        await s.log(2, "cleaned /var", actor="bob")  # 8


@pytest.fixture
def anchored(run_cli: RunCli, db_path: Path, tmp_path: Path) -> Path:
    """Events #1..#4, anchor (line 1), #5..#8, anchor (line 2); everything verifies."""
    asyncio.run(_first_half(db_path))
    assert_ok(run_cli("anchor"))
    asyncio.run(_second_half(db_path))
    assert_ok(run_cli("anchor"))
    assert [a["head_id"] for a in lines(default_log(tmp_path))] == [4, 8]
    assert "2 anchors" in assert_ok(run_cli("verify"))
    return db_path


def assert_fooled_without_anchors(run_cli: RunCli, tmp_path: Path) -> None:
    """The tampering was thorough: with no anchor to hold it to, verify says ok."""
    elsewhere = {"IRCMD_ANCHOR_LOG": str(tmp_path / "nowhere" / "anchors.jsonl")}
    assert "ok: chain intact" in assert_ok(run_cli("verify", env=elsewhere))


# ----------------------------------------------------------------- the head


def test_verify_prints_the_head(run_cli: RunCli, db_path: Path, tmp_path: Path) -> None:
    asyncio.run(_first_half(db_path))
    out = assert_ok(run_cli("verify"))
    assert out == (
        f"ok: chain intact: 4 events (all incidents); head #4 {stored_hash(db_path, 4)};"
        f" no anchor yet in {default_log(tmp_path)} (see `ircmd anchor`)\n"
    )


def test_show_and_report_carry_the_whole_chains_head(anchored: Path, run_cli: RunCli) -> None:
    """INC-1's last event is #6, but the head is the database's: #8."""
    head = {"count": 8, "id": 8, "hash": stored_hash(anchored, 8)}
    assert json.loads(assert_ok(run_cli("show", "INC-1", "--json")))["head"] == head
    assert json.loads(assert_ok(run_cli("report", "INC-1", "--format", "json")))["head"] == head
    md = assert_ok(run_cli("report", "INC-1"))
    assert "\n\n## Record\n- chain head when read:" in md  # a heading, not a list item's line
    assert md.rstrip().endswith(
        f"- chain head when read: 8 events; head #8 {head['hash']} (whole database)"
    )


async def test_a_report_stops_its_timeline_at_the_head_it_read(db_path: Path) -> None:
    """Another process commits after the report read the head: the streamed timeline
    stops at that head, so the head the report prints belongs with the events shown."""
    await _first_half(db_path)
    async with await Store.open(db_path) as s, await Store.open(db_path) as other:
        head = await s.head()
        await other.log(1, "written meanwhile", actor="bob")
        shown = [e.id async for c in s.event_chunks(1, upto=head.id) for e in c]
        everything = [e.id async for c in s.event_chunks(1) for e in c]
    assert shown == [1, 2, 3, 4] == everything[:-1] and head.id == head.count == 4
    assert everything[-1] == 5


# ---------------------------------------------------------------- ircmd anchor


def test_anchor_appends_one_private_line_per_call(
    run_cli: RunCli, db_path: Path, tmp_path: Path
) -> None:
    asyncio.run(_first_half(db_path))
    link = tmp_path / "link.db"
    link.symlink_to(db_path)
    out = assert_ok(run_cli("anchor", db=link))
    log = default_log(tmp_path)
    assert out == f"anchored 4 events; head #4 {stored_hash(db_path, 4)} in {log}\n"
    assert_ok(run_cli("log", "INC-1", "one more"))
    assert_ok(run_cli("anchor"))
    first, second = lines(log)
    assert first["db"] == second["db"] == str(db_path.resolve())
    assert (first["count"], first["head_id"], first["head_hash"]) == (
        4,
        4,
        stored_hash(db_path, 4),
    )
    assert (second["count"], second["head_id"]) == (5, 5)
    at = datetime.fromisoformat(str(second["at"]))
    assert abs(datetime.now(UTC) - at) < timedelta(minutes=5)
    assert "sig" not in first
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700


def test_anchor_log_beside_the_database_is_refused(
    run_cli: RunCli, db_path: Path, tmp_path: Path
) -> None:
    asyncio.run(_first_half(db_path))
    beside = tmp_path / "anchors.jsonl"
    assert_error(run_cli("anchor", env={"IRCMD_ANCHOR_LOG": str(beside)}), "database's directory")
    assert_error(run_cli("anchor", "--log", str(beside)), "database's directory")
    assert not beside.exists()
    # A log given with --log elsewhere is used.
    elsewhere = tmp_path / "safe" / "anchors.jsonl"
    assert_ok(run_cli("anchor", "--log", str(elsewhere)))
    assert [a["head_id"] for a in lines(elsewhere)] == [4]


@pytest.mark.parametrize(
    "args",
    [
        ["--log", "{tmp}/mine.jsonl"],
        ["--log={tmp}/mine.jsonl"],
        ["--sign", "{tmp}/keys/anchor_ed25519"],
        ["--sign={tmp}/keys/anchor_ed25519"],
    ],
)
def test_a_locked_session_names_no_log_and_no_key(
    run_cli: RunCli, db_path: Path, tmp_path: Path, ssh_key: Path, args: list[str]
) -> None:
    asyncio.run(_first_half(db_path))
    locked = {"IRCMD_LOCK_USER": "alice"}
    given = [a.format(tmp=tmp_path) for a in args]
    assert_error(run_cli("anchor", *given, env=locked), "locked", args[0].split("=")[0], "refused")
    assert not (tmp_path / "mine.jsonl").exists()
    assert not default_log(tmp_path).exists()


def test_a_locked_session_anchors_where_the_administrator_said(
    run_cli: RunCli, db_path: Path, tmp_path: Path
) -> None:
    asyncio.run(_first_half(db_path))
    admin_log = tmp_path / "admin" / "anchors.jsonl"
    env = {"IRCMD_LOCK_USER": "alice", "IRCMD_ANCHOR_LOG": str(admin_log)}
    assert_ok(run_cli("anchor", env=env))
    assert [a["head_id"] for a in lines(admin_log)] == [4]


def test_a_read_only_session_anchors_nothing(
    run_cli: RunCli, db_path: Path, tmp_path: Path
) -> None:
    asyncio.run(_first_half(db_path))
    assert_error(run_cli("--read-only", "anchor"), "read-only")
    assert_error(run_cli("anchor", env={"IRCMD_READ_ONLY": "1"}), "read-only")
    assert not default_log(tmp_path).exists()


def test_anchor_refuses_to_bless_a_rewritten_record(
    anchored: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    log = default_log(tmp_path)
    before = log.read_bytes()
    rewrite(anchored, 6, "text", "nothing happened")
    assert_error(run_cli("anchor"), "does not match its newest anchor", "nothing anchored")
    assert log.read_bytes() == before


# ------------------------------------------------------------------ tampering


@pytest.mark.parametrize(
    ("event", "column", "value", "named", "not_named"),
    [
        # Between the two anchors: the second one, after it, catches it.
        (6, "text", "nothing happened", ("line 2", "head #8", "hash differs"), ("line 1",)),
        # Before the first anchor: the first one is named.
        (2, "actor", "mallory", ("line 1", "head #4"), ()),
    ],
    ids=["after-the-first-anchor", "before-the-first-anchor"],
)
def test_a_rewritten_and_rehashed_event_is_caught_by_the_first_anchor_after_it(
    anchored: Path,
    run_cli: RunCli,
    tmp_path: Path,
    event: int,
    column: str,
    value: str,
    named: tuple[str, ...],
    not_named: tuple[str, ...],
) -> None:
    rewrite(anchored, event, column, value)
    assert_fooled_without_anchors(run_cli, tmp_path)
    line = assert_error(run_cli("verify"), "verify failed", *named)
    for needle in not_named:
        assert needle not in line


def test_truncated_tail_is_caught(anchored: Path, run_cli: RunCli, tmp_path: Path) -> None:
    cut_tail(anchored, keep=6)
    assert_fooled_without_anchors(run_cli, tmp_path)
    assert_error(run_cli("verify"), "verify failed", "line 2", "event #8 is gone")


def test_truncated_tail_written_over_is_caught(
    anchored: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    """Cut to #6, then two new events: #8 exists again, but it is not the one anchored."""
    cut_tail(anchored, keep=6)
    assert_ok(run_cli("log", "INC-1", "a different seventh"))
    assert_ok(run_cli("log", "INC-1", "a different eighth"))
    assert_fooled_without_anchors(run_cli, tmp_path)
    assert_error(run_cli("verify"), "verify failed", "line 2", "event #8", "hash differs")


def test_replaced_file_is_caught(anchored: Path, run_cli: RunCli, tmp_path: Path) -> None:
    remove_files(anchored)
    asyncio.run(_first_half(anchored))
    asyncio.run(_second_half(anchored))  # the same story, at other times: other hashes
    assert_fooled_without_anchors(run_cli, tmp_path)
    assert_error(run_cli("verify"), "verify failed", "line 1", "event #4", "hash differs")


def test_emptied_file_is_caught(anchored: Path, run_cli: RunCli, tmp_path: Path) -> None:
    remove_files(anchored)
    anchored.write_bytes(b"")
    r = run_cli("verify")
    assert_error(r, "verify failed", "is empty", "anchor at line 1", "does not hold")


def test_anchors_count_events_not_only_the_head(
    anchored: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    """An anchor whose head still matches but whose count is higher than the record's
    (events deleted before the head, ids re-numbered and re-hashed) does not hold."""
    log = default_log(tmp_path)
    records = lines(log)
    records[1]["count"] = 9
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert_error(run_cli("verify"), "line 2", "holds 8 events, fewer than the 9")


def test_planted_trigger_rewriting_inserted_events_is_caught(
    anchored: Path, run_cli: RunCli
) -> None:
    drop_triggers(anchored)
    sql(
        anchored,
        "CREATE TRIGGER quiet AFTER INSERT ON events WHEN new.kind = 'note'"
        " BEGIN UPDATE events SET text = 'all quiet' WHERE id = new.id; END;",
    )
    assert_ok(run_cli("log", "INC-1", "exfiltration seen from web-3"))
    with sqlite3.connect(anchored) as conn:
        assert conn.execute("SELECT text FROM events WHERE id = 9").fetchone()[0] == "all quiet"
    assert_error(run_cli("verify"), "verify failed", "#9 was altered")


@pytest.mark.parametrize(
    ("attack", "needle"),
    [
        (
            "CREATE TRIGGER tidy AFTER INSERT ON checklist"
            " BEGIN UPDATE checklist SET done = 1, done_by = 'alice'"
            " WHERE incident_id = new.incident_id AND n = new.n; END;",
            "trigger tidy is not part of ircmd's schema",
        ),
        (
            "ALTER TABLE incidents RENAME TO incidents_kept;"
            " CREATE VIEW incidents AS SELECT id, title, 'SEV4' AS severity, status, type,"
            " impact, urgency, summary, declared_at, declared_by, detected_at, started_at,"
            " resolved_at, updated_at, last_event_id FROM incidents_kept;",
            "view incidents is not part of ircmd's schema",
        ),
        (
            "CREATE VIEW events_seen AS SELECT * FROM events;",
            "view events_seen is not part of ircmd's schema",
        ),
    ],
    ids=["trigger-on-a-projection", "view-in-a-tables-place", "extra-view"],
)
def test_planted_schema_objects_are_caught(
    anchored: Path, run_cli: RunCli, attack: str, needle: str
) -> None:
    sql(anchored, attack)
    if "VIEW incidents " in attack:  # the lie works: reads now say SEV4
        assert (
            json.loads(assert_ok(run_cli("show", "INC-1", "--json")))["incident"]["severity"]
            == "SEV4"
        )
    assert_error(run_cli("verify"), "verify failed", needle)


# ------------------------------------------------------------------ signatures


@pytest.fixture
def ssh_key(tmp_path: Path) -> Path:
    key = tmp_path / "keys" / "anchor_ed25519"
    key.parent.mkdir()
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "anchor", "-f", str(key)],
        check=True,
        timeout=30,
    )
    return key


def signers_file(tmp_path: Path, name: str, key: Path) -> Path:
    path = tmp_path / "keys" / f"{name}_allowed_signers"
    path.write_text(f"admin@ircmd {key.with_suffix('.pub').read_text()}")
    return path


def test_signed_anchor_verifies_and_a_forged_one_does_not(
    run_cli: RunCli, db_path: Path, tmp_path: Path, ssh_key: Path
) -> None:
    asyncio.run(_first_half(db_path))
    assert "(signed)" in assert_ok(run_cli("anchor", "--sign", str(ssh_key)))
    asyncio.run(_second_half(db_path))
    assert "(signed)" in assert_ok(run_cli("anchor", env={"IRCMD_ANCHOR_KEY": str(ssh_key)}))
    log = default_log(tmp_path)
    assert all(str(a["sig"]).startswith("-----BEGIN SSH SIGNATURE-----") for a in lines(log))
    allowed = signers_file(tmp_path, "admin", ssh_key)
    assert "2 anchors" in assert_ok(run_cli("verify"))
    assert "2 anchors" in assert_ok(run_cli("verify", env={"IRCMD_ANCHOR_SIGNERS": str(allowed)}))
    # The attacker rewrites the record and edits the anchor to match: the signature breaks.
    rewrite(db_path, 6, "text", "nothing happened")
    records = lines(log)
    records[1]["head_hash"] = stored_hash(db_path, 8)
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert_error(run_cli("verify"), "line 2", "signature does not match")


def test_anchor_signed_by_another_key_fails_against_allowed_signers(
    run_cli: RunCli, db_path: Path, tmp_path: Path, ssh_key: Path
) -> None:
    asyncio.run(_first_half(db_path))
    assert_ok(run_cli("anchor", "--sign", str(ssh_key)))
    other = tmp_path / "keys" / "other_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    allowed = signers_file(tmp_path, "other", other)
    assert_error(
        run_cli("verify", env={"IRCMD_ANCHOR_SIGNERS": str(allowed)}),
        "line 1",
        "not signed by a key in",
    )


def test_unsigned_anchor_fails_when_signers_are_required(
    run_cli: RunCli, db_path: Path, tmp_path: Path, ssh_key: Path
) -> None:
    asyncio.run(_first_half(db_path))
    assert_ok(run_cli("anchor"))
    allowed = signers_file(tmp_path, "admin", ssh_key)
    assert_error(run_cli("verify", env={"IRCMD_ANCHOR_SIGNERS": str(allowed)}), "unsigned")


def test_a_key_that_cannot_sign_appends_nothing(
    run_cli: RunCli, db_path: Path, tmp_path: Path
) -> None:
    asyncio.run(_first_half(db_path))
    assert_error(run_cli("anchor", "--sign", str(tmp_path / "no-such-key")), "cannot sign")
    assert not default_log(tmp_path).exists()


# -------------------------------------------------------- an honest long record


async def _honest(db: Path, other: Path, log: Path) -> None:
    settings = AnchorSettings(log=log)
    async with await Store.open(db) as s, await Store.open(other) as o:
        await s.declare("Long incident", actor="alice")
        await o.declare("Elsewhere", actor="bob")
        for i in range(300):
            await s.log(1, f"note {i}", actor="alice")
            await write_anchor(s, settings, datetime.now(UTC))
            if i % 10 == 0:  # another database anchors into the same log
                await o.log(1, f"other {i}", actor="bob")
                await write_anchor(o, settings, datetime.now(UTC))


def test_an_honest_record_with_300_anchors_verifies(
    run_cli: RunCli, db_path: Path, tmp_path: Path
) -> None:
    log = tmp_path / "anchors" / "anchors.jsonl"
    other = tmp_path / "other" / "other.db"
    asyncio.run(_honest(db_path, other, log))
    env = {"IRCMD_ANCHOR_LOG": str(log)}
    out = assert_ok(run_cli("verify", env=env))
    assert out.startswith("ok: chain intact: 301 events (all incidents); head #301 ")
    assert out.endswith(f"; 300 anchors in {log} match\n")
    assert "; 30 anchors in" in assert_ok(run_cli("verify", env=env, db=other))
    r = run_cli("list", env=env)
    assert_ok(r)
    assert r.stderr == ""


# ------------------------------------------------------- the check on opening


def test_every_command_warns_when_the_newest_anchor_does_not_match(
    anchored: Path, run_cli: RunCli
) -> None:
    honest = run_cli("list")
    assert honest.returncode == 0 and honest.stderr == ""
    cut_tail(anchored, keep=6)
    r = run_cli("list")
    assert assert_ok(r).startswith("INC-1")
    (warning,) = r.stderr.splitlines()
    assert warning.startswith("ircmd: warning: the record does not match its newest anchor")
    assert "head #8" in warning and "event #8 is gone" in warning
    r = run_cli("log", "INC-1", "still writes")  # a warning, not a refusal
    assert assert_ok(r) == "#7\n"
    assert len(r.stderr.splitlines()) == 1 and "warning" in r.stderr


def test_newest_reads_back_from_the_end_past_other_databases(tmp_path: Path) -> None:
    log = tmp_path / "anchors.jsonl"
    mine, theirs = tmp_path / "mine.db", tmp_path / "theirs.db"

    def anchor(db: Path, n: int) -> bytes:
        return Anchor(db=db_key(db), count=n, head_id=n, head_hash="h", at="t").line()

    body = anchor(mine, 1) + anchor(mine, 2) + b"".join(anchor(theirs, n) for n in range(500))
    log.write_bytes(body + b'{"torn')  # a line cut short by a crash
    found = newest(log, mine)
    assert found is not None and found.head_id == 2
    assert newest(log, tmp_path / "never.db") is None
    assert newest(tmp_path / "missing.jsonl", mine) is None


# --------------------------------------------------------- anchoring by itself


async def test_auto_anchor_every_n_events_and_every_m_minutes(tmp_path: Path) -> None:
    log = tmp_path / "anchors" / "anchors.jsonl"
    now = [NOW]
    settings = AnchorSettings(log=log, every_events=3, every_minutes=10)
    async with await Store.open(tmp_path / "ircmd.db", clock=lambda: now[0]) as s:
        auto = AutoAnchor(s, settings, lambda: now[0])
        await s.declare("x", actor="alice")
        await s.log(1, "two", actor="alice")
        assert await auto.tick(2) is None  # 2 events < 3, 0 minutes < 10
        await s.log(1, "three", actor="alice")
        made = await auto.tick(3)
        assert made is not None and made.head_id == 3
        now[0] += timedelta(minutes=11)
        assert await auto.tick() is None  # the head did not move: an idle screen adds nothing
        await s.log(1, "four", actor="alice")
        made = await auto.tick(4)  # one event, but 11 minutes since the last anchor
        assert made is not None and made.head_id == 4
        await s.log(1, "five", actor="alice")
        assert await auto.tick(5) is None  # one event, no time since the last anchor...
        now[0] += timedelta(minutes=9, seconds=59)
        assert await auto.tick() is None
        now[0] += timedelta(seconds=1)
        made = await auto.tick()  # ...until ten minutes after it
        assert made is not None and made.head_id == 5
    assert [a["head_id"] for a in lines(log)] == [3, 4, 5]


async def test_auto_anchor_with_both_periods_zero_never_anchors(tmp_path: Path) -> None:
    log = tmp_path / "anchors" / "anchors.jsonl"
    now = [NOW]
    async with await Store.open(tmp_path / "ircmd.db") as s:
        auto = AutoAnchor(s, AnchorSettings(log=log), lambda: now[0])
        await s.declare("x", actor="alice")
        now[0] += timedelta(days=1)
        assert await auto.tick(1) is None
    assert not log.exists()


async def test_auto_anchor_refuses_over_a_record_that_no_longer_matches(tmp_path: Path) -> None:
    db, log = tmp_path / "ircmd.db", tmp_path / "anchors" / "anchors.jsonl"
    settings = AnchorSettings(log=log, every_events=1)
    async with await Store.open(db) as s:
        await s.declare("x", actor="alice")
        await s.log(1, "two", actor="alice")
        await write_anchor(s, settings, NOW)
    cut_tail(db, keep=1)
    async with await Store.open(db) as s:
        await s.log(1, "another two", actor="alice")
        auto = AutoAnchor(s, settings, lambda: NOW, last_id=1)
        with pytest.raises(StorageError, match="does not match its newest anchor"):
            await auto.tick(2)
    assert len(lines(log)) == 1


# ------------------------------------------------------------------ the screen


@pytest.mark.parametrize("read_only", [False, True])
async def test_the_screen_header_warns_in_red(tmp_path: Path, read_only: bool) -> None:
    db, log = tmp_path / "ircmd.db", tmp_path / "anchors" / "anchors.jsonl"
    await _first_half(db)
    await _second_half(db)
    async with await Store.open(db) as s:
        await write_anchor(s, AnchorSettings(log=log), NOW)
    cut_tail(db, keep=6)
    async with running(db, anchor=AnchorSettings(log=log), read_only=read_only) as pilot:
        app = pilot.app
        await until(
            pilot,
            lambda: app.command_screen is not None and app.command_screen.is_mounted,
            timeout=DEADLINE,
        )
        header = app.command_screen.query_one(IncidentHeader)
        await until(pilot, lambda: "WARNING" in str(header.render()), timeout=DEADLINE)
        text = str(header.render())
        assert "does not match its newest anchor" in text and "event #8 is gone" in text
        assert header.has_class("-warning")
        span_styles = [str(s.style) for s in header.build(NOW).spans]
        assert any("$text-error" in st for st in span_styles)
        assert header.region.height >= 3  # the warning line is on screen, not cut off
        assert (app.session.anchoring is None) is read_only


async def test_the_screen_has_no_warning_on_an_honest_record(tmp_path: Path) -> None:
    db, log = tmp_path / "ircmd.db", tmp_path / "anchors" / "anchors.jsonl"
    await _first_half(db)
    async with await Store.open(db) as s:
        await write_anchor(s, AnchorSettings(log=log), NOW)
    async with running(db, anchor=AnchorSettings(log=log)) as pilot:
        app = pilot.app
        await until(
            pilot,
            lambda: app.command_screen is not None and app.command_screen.is_mounted,
            timeout=DEADLINE,
        )
        header = app.command_screen.query_one(IncidentHeader)
        await until(pilot, lambda: "Payments down" in str(header.render()), timeout=DEADLINE)
        assert header.warning is None and "WARNING" not in str(header.render())


async def test_the_screen_anchors_every_n_events(tmp_path: Path) -> None:
    db, log = tmp_path / "ircmd.db", tmp_path / "anchors" / "anchors.jsonl"
    await _first_half(db)
    async with running(db, anchor=AnchorSettings(log=log, every_events=3)) as pilot:
        app = pilot.app
        await until(
            pilot, lambda: app.session is not None and app.session.feed.watching, timeout=DEADLINE
        )
        async with await Store.open(db) as other:  # another process's writes count too
            for text in ("five", "six", "seven"):
                await other.log(1, text, actor="bob")
        await until(
            pilot, lambda: log.exists() and log.read_bytes().endswith(b"\n"), timeout=DEADLINE
        )
        assert lines(log)[0]["head_id"] == 7
        assert lines(log)[0]["head_hash"] == stored_hash(db, 7)


async def test_the_screen_anchors_every_m_minutes_of_its_clock(tmp_path: Path) -> None:
    db, log = tmp_path / "ircmd.db", tmp_path / "anchors" / "anchors.jsonl"
    await _first_half(db)
    now = [NOW]
    settings = AnchorSettings(log=log, every_events=0, every_minutes=10)
    async with running(db, anchor=settings, clock=lambda: now[0], heartbeat=0.05) as pilot:
        app = pilot.app
        await until(
            pilot, lambda: app.session is not None and app.session.feed.watching, timeout=DEADLINE
        )
        async with await Store.open(db) as other:
            await other.log(1, "five", actor="bob")
        await until(
            pilot, lambda: 5 in {r.id for r in app.command_screen.timeline.rows}, timeout=DEADLINE
        )
        now[0] += timedelta(minutes=10)
        await until(
            pilot, lambda: log.exists() and log.read_bytes().endswith(b"\n"), timeout=DEADLINE
        )
        assert [a["head_id"] for a in lines(log)] == [5]


def test_the_log_is_appended_with_o_append(tmp_path: Path) -> None:
    """A log written by another process meanwhile keeps its lines: we append, never rewrite."""
    from ircmd.anchor import append

    log = tmp_path / "anchors.jsonl"
    log.write_bytes(b'{"someone":"else"}')  # no newline: the next line must not join it
    os.chmod(log, 0o600)
    append(log, Anchor(db="/x.db", count=1, head_id=1, head_hash="h", at="t"))
    assert log.read_bytes().splitlines()[0] == b'{"someone":"else"}'
    assert json.loads(log.read_bytes().splitlines()[1])["head_id"] == 1
