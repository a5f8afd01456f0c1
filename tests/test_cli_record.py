"""The record through the real `ircmd` command, as separate processes.

Each verb of the record, then bad input and database faults: every failure is
exactly one line `ircmd: error: ...` on stderr with a non-zero exit, and nothing
already written is lost. Every test runs on a SQLite file and on a PostgreSQL
database (`db_path` is `db_ref` here), except those marked `sqlite_only`: they are
about the file (its directory, its pages, its mode, its backup copy).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import db
from helpers.cli import IRCMD, UNPRIVILEGED, RunCli, assert_error, assert_ok, clean_env, event_count
from helpers.db import Ref

from ircmd import rules
from ircmd.jsondump import jsonable
from ircmd.models import VerifyResult
from ircmd.store import Store, schema
from ircmd.store.rows import event_from_row


def show(run_cli: RunCli, inc: str = "INC-1", **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(assert_ok(run_cli("show", inc, "--json", **kw)))
    return data


def notes(run_cli: RunCli, inc: str = "INC-1", **kw: Any) -> list[str]:
    events = show(run_cli, inc, **kw)["events"]
    return [e["text"] for e in events if e["kind"] in ("note", "decision")]


@pytest.fixture
def db_path(db_ref: Ref) -> Ref:
    """The record `run_cli` writes: on each backend in turn."""
    return db_ref


@pytest.fixture
def inc1(run_cli: RunCli, db_path: Ref) -> Ref:
    """INC-1 declared by alice, with one note (events #1, #2)."""
    assert assert_ok(run_cli("declare", "Checkout failing", "--severity", "SEV2")) == "INC-1\n"
    assert assert_ok(run_cli("log", "INC-1", "first note")) == "#2\n"
    return db_path


def assert_intact(run_cli: RunCli, db: Ref, events: int) -> None:
    """Nothing written before the failure is lost: same events, chain and projections
    intact (checked in-process: `ircmd verify` itself is tested below)."""
    assert event_count(db) == events

    async def check() -> VerifyResult:
        async with await Store.open(db, read_only=True) as store:
            return await store.verify()

    result = asyncio.run(check())
    assert result.ok and result.events == events, result.message


# ------------------------------------------------------------------ the verbs


def test_declare_prints_the_id_and_numbers_sequentially(run_cli: RunCli) -> None:
    r = run_cli("declare", "Checkout failing", "--severity", "sev2")
    assert r.stdout == "INC-1\n" and r.returncode == 0
    r = run_cli("declare", "Search slow", "--impact", "low", "--urgency", "high")
    assert r.stdout == "INC-2\n"
    # The severity suggested by impact and urgency is explained.
    assert r.stderr == "severity SEV3 (moderate: degraded or partial impact with a workaround)\n"
    inc = show(run_cli, "INC-2")["incident"]
    assert (inc["severity"], inc["status"], inc["declared_by"]) == ("SEV3", "reported", "alice")


def test_log_appends_notes_and_decisions(run_cli: RunCli, inc1: Ref) -> None:
    assert assert_ok(run_cli("log", "inc-1", "second")) == "#3\n"
    assert assert_ok(run_cli("log", "1", "we roll back", "--kind", "decision")) == "#4\n"
    events = show(run_cli)["events"]
    assert [(e["id"], e["kind"], e["text"]) for e in events[1:]] == [
        (2, "note", "first note"),
        (3, "note", "second"),
        (4, "decision", "we roll back"),
    ]
    assert all(e["actor"] == "alice" for e in events)


def test_log_stdin_commits_each_line_as_it_arrives(
    run_cli: RunCli, inc1: Ref, tmp_path: Path
) -> None:
    env = clean_env(tmp_path / "home", {"IRCMD_DB": str(inc1), "IRCMD_USER": "scribe1"})
    proc = subprocess.Popen(
        [*IRCMD, "log", "INC-1", "--stdin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdin is not None
    try:
        for i, line in enumerate(["paged db on-call", "   ", "[/] failover started", "done"]):
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
            if not line.strip():
                continue  # blank lines are skipped, not errors
            deadline = time.monotonic() + 15
            while True:  # the entry lands while stdin is still open
                texts = [r[0] for r in db.rows(inc1, "SELECT text FROM events WHERE id > 2")]
                if line in texts:
                    break
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, f"line {i} not committed: {texts}"
                time.sleep(0.02)
    except BaseException:
        proc.kill()
        raise
    _, err = proc.communicate(timeout=30)  # closes stdin: the command ends
    assert proc.returncode == 0, err
    assert err == ""
    assert notes(run_cli)[1:] == ["paged db on-call", "[/] failover started", "done"]
    assert {e["actor"] for e in show(run_cli)["events"][2:]} == {"scribe1"}


def test_log_stdin_reports_bad_lines_and_keeps_good_ones(run_cli: RunCli, inc1: Ref) -> None:
    r = run_cli("log", "INC-1", "--stdin", input="good one\n" + "x" * 70_000 + "\nalso good\n")
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "ircmd: error: line 2 not written: text is 70000 bytes; the limit is 65536 (64 KiB):"
        f' "{"x" * 70_000}"'
    ]
    assert notes(run_cli)[1:] == ["good one", "also good"]


def test_log_needs_text_or_stdin(run_cli: RunCli, inc1: Ref) -> None:
    assert_error(run_cli("log", "INC-1"), "nothing to log: give the entry's TEXT or --stdin")
    assert_error(run_cli("log", "INC-1", "x", "--stdin", input="y\n"), "TEXT or --stdin, not both")
    assert_error(run_cli("log", "INC-9", "--stdin", input="y\n"), "no incident INC-9")
    assert_intact(run_cli, inc1, 2)


def test_severity_status_assign(run_cli: RunCli, inc1: Ref) -> None:
    assert_ok(run_cli("severity", "INC-1", "1", "--reason", "all regions"))  # alice commands
    assert_ok(run_cli("assign", "INC-1", "responder", "bob"))
    assert_ok(run_cli("assign", "INC-1", "responder", "carol"))
    assert_ok(run_cli("status", "INC-1", "contained"))
    assert_ok(run_cli("status", "INC-1", "triaged", "--reason", "it spread"))
    state = show(run_cli)
    assert state["incident"]["severity"] == "SEV1"
    assert state["incident"]["status"] == "triaged"
    assert sorted((a["role"], a["person"]) for a in state["roles"]) == [
        ("commander", "alice"),
        ("responder", "bob"),
        ("responder", "carol"),
    ]
    kinds = [(e["kind"], e["data"]) for e in state["events"][2:]]
    assert kinds[0] == ("severity", {"from": "SEV2", "to": "SEV1"})
    assert kinds[-1] == ("status", {"from": "contained", "to": "triaged"})
    # bob is not the commander now
    assert_error(run_cli("severity", "INC-1", "SEV3", user="bob"), "only the commander or deputy")
    assert_intact(run_cli, inc1, 7)


def test_checklist_add_check_uncheck(run_cli: RunCli, inc1: Ref) -> None:
    assert assert_ok(run_cli("checklist", "add", "INC-1", "block bad IPs")) == "1\n"
    r = run_cli("checklist", "add", "INC-1", "restore replica", "--recovery", "--assignee", "bob")
    assert assert_ok(r) == "2\n"
    assert_ok(run_cli("check", "INC-1", "1", user="bob"))
    assert_ok(run_cli("check", "INC-1", "2"))
    assert_ok(run_cli("uncheck", "INC-1", "2"))
    items = show(run_cli)["checklist"]
    assert [(i["n"], i["phase"], i["done"], i["done_by"], i["assignee"]) for i in items] == [
        (1, "containment", True, "bob", None),
        (2, "recovery", False, None, "bob"),
    ]
    assert_error(run_cli("check", "INC-1", "3"), "no checklist item 3")
    assert_error(run_cli("check", "INC-1", "x"), "")
    assert_intact(run_cli, inc1, 7)


def test_list_with_nothing_active_says_so_on_stderr(run_cli: RunCli, inc1: Ref) -> None:
    assert_ok(run_cli("status", "INC-1", "closed", "--override", "false alarm"))
    r = run_cli("list")
    assert (r.returncode, r.stdout) == (0, "")  # scripts reading stdout see no incidents
    assert r.stderr == "no active incidents (--all lists closed ones)\n"
    assert assert_ok(run_cli("list", "--all")).startswith("INC-1 ")
    assert json.loads(assert_ok(run_cli("list", "--json"))) == []


def test_list_and_list_json(run_cli: RunCli, inc1: Ref) -> None:
    assert_ok(run_cli("declare", "Disk [red]full[/red]"))
    assert_ok(run_cli("status", "INC-2", "closed", "--override", "false alarm"))
    text = assert_ok(run_cli("list"))
    assert text.startswith("INC-1 ") and "Checkout failing" in text and "INC-2" not in text
    everything = json.loads(assert_ok(run_cli("list", "--all", "--json")))
    assert [(i["key"], i["status"], i["title"]) for i in everything] == [
        ("INC-1", "reported", "Checkout failing"),
        ("INC-2", "closed", "Disk [red]full[/red]"),
    ]
    assert json.loads(assert_ok(run_cli("list", "--json")))[0]["key"] == "INC-1"


def test_show_text_and_json(run_cli: RunCli, inc1: Ref) -> None:
    text = assert_ok(run_cli("show", "INC-1"))
    assert "INC-1" in text and "Checkout failing" in text and "first note" in text
    data = show(run_cli)
    assert data["incident"]["key"] == "INC-1"
    assert [e["id"] for e in data["events"]] == [1, 2]
    assert_error(run_cli("show", "INC-2"), "no incident INC-2")
    assert_error(run_cli("show", "nonsense"), "not an incident id")


def test_verify_all_and_one(run_cli: RunCli, inc1: Ref) -> None:
    assert_ok(run_cli("declare", "other"))
    assert assert_ok(run_cli("verify")).startswith(
        "ok: chain intact: 3 events (all incidents); head #"
    )
    assert assert_ok(run_cli("verify", "INC-1")).startswith(
        "ok: chain intact: 2 events (INC-1); head #"
    )
    assert_error(run_cli("verify", "INC-5"), "no incident INC-5")


@pytest.mark.sqlite_only
def test_backup_copy_opens_and_verifies(run_cli: RunCli, inc1: Ref, tmp_path: Path) -> None:
    dest = tmp_path / "backups" / "copy.db"
    assert "backed up to" in assert_ok(run_cli("backup", str(dest)))
    assert_ok(run_cli("log", "INC-1", "after the backup"))
    r = run_cli("--db", str(dest), "--read-only", "verify")
    assert assert_ok(r).startswith("ok: chain intact: 2 events (all incidents); head #")
    assert notes(run_cli, db=dest) == ["first note"]
    assert_error(run_cli("backup", str(dest)), "already exists")


def test_at_with_iso_and_hhmm(run_cli: RunCli, inc1: Ref) -> None:
    # Long before the incident: only with --force-time (tests/test_shown_time.py).
    assert_ok(run_cli("--force-time", "log", "INC-1", "iso", "--at", "2026-01-02T03:04:05+01:00"))
    before = datetime.now(UTC)
    hhmm = (before - timedelta(hours=3)).strftime("%H:%M")
    assert_ok(run_cli("log", "INC-1", "clock", "--at", hhmm))
    after = datetime.now(UTC)
    events = show(run_cli)["events"]
    iso, clock = events[-2], events[-1]
    assert datetime.fromisoformat(iso["occurred_at"]) == datetime(2026, 1, 2, 2, 4, 5, tzinfo=UTC)
    expected = {rules.parse_at(hhmm, before), rules.parse_at(hhmm, after)}
    assert datetime.fromisoformat(clock["occurred_at"]) in expected
    assert datetime.fromisoformat(clock["recorded_at"]) >= before - timedelta(seconds=1)
    assert_error(run_cli("log", "INC-1", "x", "--at", "25:00"), "not a time of day")
    assert_error(run_cli("log", "INC-1", "x", "--at", "2999-01-01"), "future")


def test_a_time_of_day_taken_as_yesterday_is_said(run_cli: RunCli, inc1: Ref) -> None:
    """`--at HH:MM` later than now means yesterday: the CLI says which day it took, on
    stderr, and says nothing when it took today. Two hours ahead is yesterday except in
    the last two hours of the day, when it wraps to an earlier time today: the expected
    day comes from the same rule, so either way the message must match it."""
    now = datetime.now(UTC)
    ahead = (now + timedelta(hours=2)).strftime("%H:%M")
    taken = rules.parse_at(ahead, now)
    r = run_cli("log", "INC-1", "typed hours later", "--at", ahead)
    assert_ok(r)
    if taken.date() != now.date():
        assert r.stderr == (
            f"ircmd: warning: --at {ahead} taken as {taken:%Y-%m-%d %H:%M:%S} UTC, yesterday\n"
        )
    else:
        assert r.stderr == ""
    earlier = (now - timedelta(minutes=10)).strftime("%H:%M")
    r = run_cli("log", "INC-1", "typed minutes later", "--at", earlier)
    if rules.parse_at(earlier, now).date() == now.date():
        assert assert_ok(r) and r.stderr == ""
    assert_error(run_cli("log", "INC-1", "x", "--at", "yesterday"), "not a time")
    assert_intact(run_cli, inc1, 4)


def test_as_flag_beats_ircmd_user(run_cli: RunCli, inc1: Ref) -> None:
    assert_ok(run_cli("log", "INC-1", "by env", user="dana"))
    assert_ok(run_cli("--as", "erin", "log", "INC-1", "by flag", user="dana"))
    actors = [e["actor"] for e in show(run_cli)["events"]]
    assert actors == ["alice", "alice", "dana", "erin"]
    assert_error(run_cli("--as", "bad\x1bname", "log", "INC-1", "x"), "control characters")
    assert_error(run_cli("--as", "  ", "log", "INC-1", "x"), "--as needs a name")
    assert_intact(run_cli, inc1, 4)


@pytest.mark.sqlite_only
def test_ircmd_db_and_the_default_database(run_cli: RunCli, tmp_path: Path) -> None:
    home = tmp_path / "home"
    # No IRCMD_DB: the platform data dir (XDG_DATA_HOME on Linux), created on first use.
    assert assert_ok(run_cli("declare", "default db", db=None)) == "INC-1\n"
    default = home / "data" / "ircmd" / "ircmd.db"
    assert default.exists()
    # IRCMD_DB elsewhere is a different record; --db beats IRCMD_DB.
    other = tmp_path / "elsewhere" / "x.db"
    assert assert_ok(run_cli("declare", "env db", db=other)) == "INC-1\n"
    third = tmp_path / "third.db"
    assert assert_ok(run_cli("--db", str(third), "declare", "flag db", db=other)) == "INC-1\n"
    assert show(run_cli, db=None)["incident"]["title"] == "default db"
    titles = {}
    for path in (default, other, third):
        titles[path.name] = db.rows(path, "SELECT title FROM incidents")
    assert titles == {
        "ircmd.db": [("default db",)],
        "x.db": [("env db",)],
        "third.db": [("flag db",)],
    }


# ------------------------------------------------------------------ bad input


BAD_INPUT = [
    (("log", "INC-7", "x"), "no incident INC-7"),
    (("log", "INC-x", "x"), "not an incident id"),
    (("assign", "INC-1", "boss", "bob"), "unknown role 'boss'"),
    (("status", "INC-1", "fixed"), "unknown status 'fixed'"),
    (("severity", "INC-1", "SEV9"), "unknown severity 'SEV9'"),
    (("declare", "x", "--severity", "SEV0"), "unknown severity 'SEV0'"),
    (("log", "INC-1", ""), "text is empty"),
    (("log", "INC-1", " \t "), "text is empty"),
    (("log", "INC-1", "x" * 65_537), "limit is 65536"),
    (("declare", "   "), "title is empty"),
    (("assign", "INC-1", "ic", "bo\x07b"), "control characters"),
    (("checklist", "add", "INC-1", ""), "step is empty"),
    (("log", "INC-1", "x", "--kind", "severity"), "'severity' is not one of 'note', 'decision'"),
    (("frobnicate",), "no such command"),
    (("--timeout", "-1", "list"), "out of range"),
    (("amend", "INC-1", "99999999999999999999", "fix"), "no entry #99999999999999999999"),
    (("amend", "INC-1", "7", "fix"), "no entry #7"),
    (("log", "INC-1", "x", "--at", "9999-12-31T23:59:59-23:59"), "out of range"),
    (("log", "INC-1", "x", "--at", "0001-01-01T00:00+01:00"), "out of range"),
]


def test_bad_input_is_one_error_line_and_loses_nothing(run_cli: RunCli, inc1: Ref) -> None:
    for args, needle in BAD_INPUT:
        assert_error(run_cli(*args), needle)
        assert event_count(inc1) == 2, args
    assert_intact(run_cli, inc1, 2)


def test_moving_back_without_reason_is_refused(run_cli: RunCli, inc1: Ref) -> None:
    assert_ok(run_cli("status", "INC-1", "resolved"))
    assert_error(run_cli("status", "INC-1", "contained"), "re-open: give a reason")
    assert_error(run_cli("status", "INC-1", "contained", "--reason", "  "), "reason")
    assert show(run_cli)["incident"]["status"] == "resolved"
    assert_intact(run_cli, inc1, 3)


MARKUP = [
    "[/]",
    "[@click=app.quit]x",
    "[bold red]alarm[/]",
    "\x1b[31mred\x1b[0m",
    "\x1b]0;pwned\x07title",
    "bell\x07 del\x7f c1\x9b",
    "tab\tand\r\ncrlf",
    "rtl \u202e evil",
    "\\[escaped\\]",
]


def test_markup_and_control_characters_are_stored_byte_for_byte(run_cli: RunCli, inc1: Ref) -> None:
    for text in MARKUP:
        assert_ok(run_cli("log", "INC-1", text))
    assert notes(run_cli)[1:] == MARKUP
    # Plain-text output never lets a stored escape reach the terminal.
    plain = assert_ok(run_cli("show", "INC-1"))
    assert "\x1b" not in plain and "\x07" not in plain and "\x9b" not in plain
    assert "[@click=app.quit]x" in plain and "[/]" in plain
    assert_intact(run_cli, inc1, 2 + len(MARKUP))


def test_markup_in_stdin_lines_is_stored_too(run_cli: RunCli, inc1: Ref) -> None:
    r = run_cli("log", "INC-1", "--stdin", input="[/]\n\x1b[2J clear\n[@click=app.quit]x\n")
    assert_ok(r)
    assert notes(run_cli)[1:] == ["[/]", "\x1b[2J clear", "[@click=app.quit]x"]


def test_error_messages_never_echo_raw_escapes(run_cli: RunCli, inc1: Ref) -> None:
    line = assert_error(run_cli("log", "INC-\x1b[31m1", "x"), "not an incident id")
    assert "\x1b" not in line


# ------------------------------------------------------------------ the database


@pytest.mark.sqlite_only
def test_missing_directory_is_created(run_cli: RunCli, tmp_path: Path) -> None:
    db = tmp_path / "no" / "such" / "dir" / "ircmd.db"
    assert assert_ok(run_cli("declare", "x", db=db)) == "INC-1\n"
    assert db.exists()


@pytest.mark.sqlite_only
def test_not_a_sqlite_file(run_cli: RunCli, tmp_path: Path) -> None:
    db = tmp_path / "notes.txt"
    db.write_text("shopping list: eggs, milk\n" * 50)
    for args in (("list",), ("declare", "x"), ("verify",)):
        assert_error(run_cli(*args, db=db), "not a SQLite database")
    assert db.read_text().startswith("shopping list")  # untouched


@pytest.mark.sqlite_only
def test_a_corrupt_database(run_cli: RunCli, inc1: Ref) -> None:
    file = Path(inc1)  # SQLite only: the file itself
    lines = "".join(f"{i} {'z' * 900}\n" for i in range(80))
    assert_ok(run_cli("log", "INC-1", "--stdin", input=lines))
    assert file.stat().st_size > 40_000
    with file.open("r+b") as f:  # overwrite pages in the middle with garbage
        f.seek(4096 * 3)
        f.write(os.urandom(4096 * 4))
    for args in (("verify",), ("log", "INC-1", "x"), ("show", "INC-1")):
        assert_error(run_cli(*args), "corrupt", "restore it from a backup")


@pytest.mark.sqlite_only
def test_a_directory_instead_of_a_file(run_cli: RunCli, tmp_path: Path) -> None:
    assert_error(run_cli("list", db=tmp_path), "is a directory")


def test_schema_newer_than_the_program(run_cli: RunCli, inc1: Ref) -> None:
    db.set_schema_version(inc1, 99)
    assert_error(run_cli("log", "INC-1", "x"), "schema version 99", "upgrade ircmd")
    assert_error(run_cli("list"), "schema version 99")
    assert_error(run_cli("--read-only", "list"), "schema version 99")
    db.set_schema_version(inc1, schema.SCHEMA_VERSION)
    assert_intact(run_cli, inc1, 2)


def test_locked_by_another_writer_longer_than_the_timeout(run_cli: RunCli, inc1: Ref) -> None:
    with db.write_lock_held(inc1):
        start = time.monotonic()
        r = run_cli("log", "INC-1", "blocked", env={"IRCMD_TIMEOUT": "0.5"})
        assert_error(r, "locked by another writer for more than 0.5 s")
        assert time.monotonic() - start >= 0.5
        r = run_cli("--timeout", "0.2", "log", "INC-1", "blocked", env={"IRCMD_TIMEOUT": "30"})
        assert_error(r, "more than 0.2 s")  # the flag beats the variable
        # Readers are not blocked by a writer (WAL on SQLite; MVCC on PostgreSQL).
        assert "first note" in notes(run_cli)
    assert_intact(run_cli, inc1, 2)
    assert_ok(run_cli("log", "INC-1", "after the lock", env={"IRCMD_TIMEOUT": "0.5"}))


def test_a_lock_shorter_than_the_timeout_is_waited_out(
    run_cli: RunCli, inc1: Ref, tmp_path: Path
) -> None:
    env = {"IRCMD_DB": str(inc1), "IRCMD_USER": "alice", "IRCMD_TIMEOUT": "600"}
    with db.write_lock_held(inc1):
        proc = subprocess.Popen(
            [*IRCMD, "log", "INC-1", "waited"],
            env=clean_env(tmp_path / "home", env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # The writer has the database open (then it reads and waits for the lock); it
        # cannot finish while the lock is held, however long that takes.
        deadline = time.monotonic() + 30
        while not _waits_or_has_open(proc.pid, inc1):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the writer never opened the database"
            time.sleep(0.02)
        # More of the lock to wait out. No outcome depends on this pause: a slow start
        # only shortens the wait, and the writer cannot finish before the release.
        time.sleep(0.5)
        assert proc.poll() is None, "the writer finished while the lock was held"
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out, err) == (0, "#3\n", "")


def _waits_or_has_open(pid: int, ref: Ref) -> bool:
    """Whether process `pid` holds SQLite file `ref` open (Linux /proc), or, on
    PostgreSQL, some session waits for the advisory write lock."""
    if db.is_pg(ref):
        return bool(
            db.scalar(
                ref,
                # The whole server's locks: only this test's database counts.
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
        )
    path = Path(ref)
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.path.realpath(fd) == str(path.resolve()) for fd in fds.iterdir())
    except (FileNotFoundError, PermissionError):
        return False


def test_bad_timeout_variable(run_cli: RunCli, inc1: Ref) -> None:
    assert_error(run_cli("list", env={"IRCMD_TIMEOUT": "soon"}), "IRCMD_TIMEOUT")


def test_read_only_refuses_writes(run_cli: RunCli, inc1: Ref) -> None:
    for args in (
        ("--read-only", "log", "INC-1", "x"),
        ("--read-only", "declare", "x"),
        ("--read-only", "check", "INC-1", "1"),
    ):
        assert_error(run_cli(*args), "read-only")
    assert_error(run_cli("log", "INC-1", "x", env={"IRCMD_READ_ONLY": "1"}), "read-only")
    assert "first note" in assert_ok(run_cli("--read-only", "show", "INC-1"))
    assert_ok(run_cli("--read-only", "verify"))
    assert_intact(run_cli, inc1, 2)


@pytest.mark.sqlite_only
def test_read_only_on_a_missing_database(run_cli: RunCli, tmp_path: Path) -> None:
    db = tmp_path / "nothing-here.db"
    assert_error(run_cli("--read-only", "list", db=db), "no such database")
    assert not db.exists()


@pytest.mark.sqlite_only
def test_read_only_file_without_the_flag(run_cli: RunCli, inc1: Ref) -> None:
    """A database the user may not write: one clear line, nothing half-written. The
    CLI runs without privilege (as root too, where file modes would not bind it)."""
    file = Path(inc1)  # SQLite only: the file itself
    file.chmod(0o444)
    try:
        # The process the CLI runs as really cannot open the file for writing.
        probe = subprocess.run(
            [*UNPRIVILEGED, sys.executable, "-c", f"open({str(file)!r}, 'r+b')"],
            capture_output=True,
            text=True,
        )
        assert probe.returncode != 0 and "PermissionError" in probe.stderr, probe.stderr
        r = run_cli("log", "INC-1", "x", unprivileged=True)
        line = assert_error(r, f"{file} is read-only: cannot write", "permissions")
        assert "session is read-only" not in line  # the file's mode, not --read-only
        # Reading it stays possible.
        assert "first note" in assert_ok(run_cli("show", "INC-1", unprivileged=True))
    finally:
        file.chmod(0o644)
    assert_intact(run_cli, inc1, 2)


def test_events_in_show_json_round_trip_to_the_stored_rows(run_cli: RunCli, inc1: Ref) -> None:
    assert_ok(run_cli("log", "INC-1", "\x1b[31m[/]"))
    rows = db.rows(
        inc1,
        "SELECT id, incident_id, occurred_at, recorded_at, actor, kind, text, data,"
        " prev_hash, hash FROM events ORDER BY id",
    )
    stored = [jsonable(event_from_row(r)) for r in rows]
    assert show(run_cli)["events"] == stored


def test_timeout_resolution_flag_env_default(tmp_path: Path) -> None:
    from ircmd.config import DEFAULT_TIMEOUT, resolve
    from ircmd.models import InvalidInput

    db = str(tmp_path / "x.db")
    assert resolve(db=db, env={}).timeout == DEFAULT_TIMEOUT == 5.0
    assert resolve(db=db, env={"IRCMD_TIMEOUT": "0.25"}).timeout == 0.25
    assert resolve(db=db, timeout=2, env={"IRCMD_TIMEOUT": "0.25"}).timeout == 2
    for bad in ("soon", "nan", "-1", "1e9"):
        with pytest.raises(InvalidInput):
            resolve(db=db, env={"IRCMD_TIMEOUT": bad})


def test_json_output_round_trips_text_without_raw_bidi_or_c1(run_cli: RunCli, inc1: Ref) -> None:
    tricky = "access granted\u202e;ti llik\u202c \x9b2J 👩‍💻"
    assert_ok(run_cli("log", "INC-1", tricky))
    for args in (("show", "INC-1", "--json"), ("report", "INC-1", "--format", "json")):
        out = assert_ok(run_cli(*args))
        assert "\u202e" not in out and "\x9b" not in out and "👩‍💻" in out
        assert [e["text"] for e in json.loads(out)["events"]][-1] == tricky  # exact data


def test_the_declarer_commands_unless_told_otherwise(run_cli: RunCli, db_path: Ref) -> None:
    assert_ok(run_cli("declare", "mine", "-s", "SEV2"))
    assert_ok(run_cli("declare", "carols", "-s", "SEV2", "--commander", "carol"))
    assert_ok(run_cli("declare", "nobodys yet", "-s", "SEV2", "--commander", ""))
    leads = []
    for n in (1, 2, 3):
        shown = json.loads(assert_ok(run_cli("show", f"INC-{n}", "--json")))
        leads.append([r["person"] for r in shown["roles"] if r["role"] == "commander"])
    assert leads == [["alice"], ["carol"], []]


def test_a_read_only_session_neither_serves_nor_writes_a_status_page(
    run_cli: RunCli, db_path: Ref, tmp_path: Path
) -> None:
    """Both name host paths (--cert/--key, --out); serve would also write alerts."""
    assert_ok(run_cli("declare", "x", "-s", "SEV2"))
    cert = tmp_path / "cert.pem"
    r = run_cli("--read-only", "serve", "--cert", str(cert), "--key", str(cert), timeout=30)
    assert_error(r, "read-only", "serve refused")
    assert_error(run_cli("--read-only", "status-page", "--out", str(tmp_path / "p")), "read-only")
    assert not cert.exists() and not (tmp_path / "p").exists()
