"""What holds on PostgreSQL in its own way: the write lock is an advisory lock of the
server's, not a file lock, so these run real processes against a real server.

- Many writer processes: the chain stays one line (every id once, every event after
  the one before it), none lost, `verify` intact.
- A writer killed with SIGKILL in the middle of its transaction, holding the lock:
  the server rolls it back whole and the next writer goes on.
- Edits made past ircmd with SQL: a projection row changed, and an event row
  changed by a superuser who dropped the append-only trigger first; `verify` names
  what was changed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from helpers import db, pg
from helpers.cli import IRCMD, assert_error, assert_ok, clean_env, ircmd

from ircmd.domain import StorageError
from ircmd.store import postgres, schema
from ircmd.store.postgres import WRITE_LOCK_KEY

WRITERS = 20
LINES = 40


def _chain_faults(url: str) -> list[tuple[int, int]]:
    """Pairs of neighbouring ids whose link is broken, read with plain SQL."""
    rows = db.rows(
        url,
        "SELECT e.id, p.id FROM events e LEFT JOIN events p ON p.id = e.id - 1"
        " WHERE e.id > 1 AND (p.id IS NULL OR e.prev_hash <> p.hash)",
    )
    return [(int(a), int(b or 0)) for a, b in rows]


def test_twenty_writer_processes_keep_one_chain(pg_url: str, tmp_path: Path) -> None:
    """Twenty `ircmd log --stdin` processes at once, each committing its lines one by
    one: every line lands exactly once, in each writer's order, on one chain."""
    home = tmp_path / "home"
    assert_ok(ircmd("declare", "load on postgres", db=pg_url, home=home))
    procs = []
    for k in range(WRITERS):
        env = clean_env(home, {"IRCMD_DB": pg_url, "IRCMD_USER": f"w{k:02d}"})
        env["IRCMD_TIMEOUT"] = "120"
        procs.append(
            subprocess.Popen(
                [*IRCMD, "log", "INC-1", "--stdin"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        )
    lines = {k: [f"w{k:02d} line {i}" for i in range(LINES)] for k in range(WRITERS)}
    # Every process has its whole input before any is waited for: they write together.
    for k, p in enumerate(procs):
        assert p.stdin is not None
        p.stdin.write("".join(f"{line}\n" for line in lines[k]))
        p.stdin.close()
    for p in procs:
        p.wait(timeout=300)
    for p in procs:
        err = p.stderr.read() if p.stderr else ""
        assert p.returncode == 0, err
        assert "Traceback" not in err and "error" not in err, err

    total = 1 + WRITERS * LINES
    assert db.scalar(pg_url, "SELECT count(*) FROM events") == total
    assert db.scalar(pg_url, "SELECT max(id) FROM events") == total  # no gap
    assert db.scalar(pg_url, "SELECT count(DISTINCT prev_hash) FROM events") == total
    assert _chain_faults(pg_url) == []
    notes = db.rows(pg_url, "SELECT actor, text FROM events WHERE kind = 'note' ORDER BY id")
    for k in range(WRITERS):
        assert [t for a, t in notes if a == f"w{k:02d}"] == lines[k]  # in order, none lost
    out = assert_ok(ircmd("verify", db=pg_url, home=home))
    assert out.startswith(f"ok: chain intact: {total} events (all incidents)")


# A real ircmd write, stopped after the event and its projections are written and
# before COMMIT: it prints the id it appended, then waits to be killed.
STUCK_WRITER = r"""
import sys, time
from ircmd.store.sync import SyncStore
from ircmd.store.verbs import incident

def stuck(tx, *args, **kw):
    ev = incident.log(tx, *args, **kw)
    tx.execute("UPDATE incidents SET title = 'half-written' WHERE id = 1")
    print(ev.id, flush=True)
    time.sleep(600)

with SyncStore.open(sys.argv[1]) as store:
    store.run(stuck, "INC-1", "never committed", actor="killed")
"""


def _waiting_for_the_lock(url: str) -> int:
    """Sessions waiting for ircmd's write lock right now."""
    return int(
        db.scalar(
            url,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND objid = ? AND database = (SELECT oid FROM pg_database"
            " WHERE datname = current_database())",
            (WRITE_LOCK_KEY,),
        )
    )


def _holding_the_lock(url: str) -> int:
    return int(
        db.scalar(
            url,
            # pg_locks is the whole server's: other tests' databases take the same key.
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND objid = ? AND database = (SELECT oid FROM pg_database"
            " WHERE datname = current_database())",
            (WRITE_LOCK_KEY,),
        )
    )


def test_a_writer_killed_holding_the_lock_leaves_nothing_and_others_go_on(
    pg_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    assert_ok(ircmd("declare", "Checkout down", db=pg_url, home=home))
    assert_ok(ircmd("log", "INC-1", "first", db=pg_url, home=home))
    before = db.dump(pg_url)
    stuck = subprocess.Popen(
        [sys.executable, "-c", STUCK_WRITER, pg_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(home),
    )
    waiter: subprocess.Popen[str] | None = None
    try:
        assert stuck.stdout is not None
        assert stuck.stdout.readline() == "3\n", stuck.stderr.read() if stuck.stderr else ""
        assert _holding_the_lock(pg_url) == 1
        # Readers are not held up by the open write, and see none of it.
        assert db.dump(pg_url) == before
        env = clean_env(home, {"IRCMD_DB": pg_url, "IRCMD_USER": "bob", "IRCMD_TIMEOUT": "120"})
        waiter = subprocess.Popen(
            [*IRCMD, "log", "INC-1", "after the kill"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        deadline = time.monotonic() + 60
        while not _waiting_for_the_lock(pg_url):  # the next writer queues for the lock
            assert waiter.poll() is None, waiter.communicate()
            assert time.monotonic() < deadline, "the second writer never waited for the lock"
            time.sleep(0.02)
        assert waiter.poll() is None  # it cannot pass the stuck writer
        os.kill(stuck.pid, signal.SIGKILL)
        stuck.wait(timeout=30)
        out, err = waiter.communicate(timeout=120)
        assert (waiter.returncode, out, err) == (0, "#3\n", "")  # id 3 was never taken
    finally:
        for p in (stuck, waiter):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    assert stuck.returncode == -signal.SIGKILL
    rows = db.rows(pg_url, "SELECT id, actor, text FROM events ORDER BY id")
    assert [(i, a, t) for i, a, t in rows][2:] == [(3, "bob", "after the kill")]
    assert db.scalar(pg_url, "SELECT title FROM incidents WHERE id = 1") == "Checkout down"
    assert _holding_the_lock(pg_url) == 0
    assert assert_ok(ircmd("verify", db=pg_url, home=home)).startswith("ok: chain intact: 3 events")


def test_a_schema_committed_while_a_session_waits_for_the_lock_is_seen(pg_url: str) -> None:
    """Two sessions opening a new database at once, made deterministic: one holds the
    write lock with the schema written but not committed; the other looks (no record
    yet), queues for the lock, and must find the committed schema once it has the lock.
    Its first look had cached "no ircmd_meta"; read through that cache, the second look
    said "no record" while the tables were there: "not an ircmd one" (a CI flake)."""
    creator = postgres.Connection(psycopg.connect(pg_url, autocommit=True), pg_url)
    opened: list[str] = []

    def open_it() -> None:
        try:
            postgres.connect(pg_url, read_only=False, timeout=60).close()
            opened.append("opened")
        except StorageError as e:
            opened.append(str(e))

    try:
        creator.execute(postgres.POSTGRESQL.begin_write)
        for stmt in postgres.ddl():
            creator.execute(stmt)
        creator.execute(
            "INSERT INTO ircmd_meta (key, value) VALUES ('schema_version', %s)",
            (str(schema.SCHEMA_VERSION),),
        )
        other = threading.Thread(target=open_it)
        other.start()
        deadline = time.monotonic() + 60
        while not _waiting_for_the_lock(pg_url):
            assert other.is_alive(), opened
            assert time.monotonic() < deadline, "the second session never waited for the lock"
            time.sleep(0.02)
        creator.execute("COMMIT")
        other.join(timeout=60)
    finally:
        creator.close()
    assert opened == ["opened"]


def test_verify_names_a_projection_row_edited_with_sql(pg_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert_ok(ircmd("declare", "Checkout down", "--severity", "SEV2", db=pg_url, home=home))
    assert_ok(ircmd("checklist", "add", "INC-1", "roll back", db=pg_url, home=home))
    assert_ok(ircmd("verify", db=pg_url, home=home))
    db.execute(pg_url, "UPDATE checklist SET done = 1, done_by = 'mallory' WHERE n = 1")
    assert_error(
        ircmd("verify", db=pg_url, home=home),
        "verify failed",
        "table checklist does not match the record (edited outside ircmd)",
    )


@pytest.mark.parametrize("trigger_put_back", [False, True])
def test_verify_names_an_event_changed_past_the_append_only_trigger(
    pg_url: str, tmp_path: Path, trigger_put_back: bool
) -> None:
    """The trigger refuses the edit; a superuser who drops it can change the row, and
    the chain names the event, whether or not the trigger is put back after."""
    home = tmp_path / "home"
    assert_ok(ircmd("declare", "Checkout down", db=pg_url, home=home))
    assert_ok(ircmd("log", "INC-1", "we roll back", db=pg_url, home=home))
    assert_ok(ircmd("log", "INC-1", "rolled back", db=pg_url, home=home))
    import psycopg

    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        db.execute(pg_url, "UPDATE events SET text = 'we do nothing' WHERE id = 2")
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        db.execute(pg_url, "DELETE FROM events WHERE id = 3")
    assert_ok(ircmd("verify", db=pg_url, home=home))
    db.execute(pg_url, "DROP TRIGGER events_append_only ON events")
    db.execute(pg_url, "UPDATE events SET text = 'we do nothing' WHERE id = 2")
    if trigger_put_back:
        db.execute(
            pg_url,
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON events"
            " FOR EACH STATEMENT EXECUTE FUNCTION ircmd_events_append_only()",
        )
    assert_error(
        ircmd("verify", db=pg_url, home=home),
        "verify failed",
        "event #2 was altered: the chain is broken there",
    )


def test_a_missing_trigger_alone_is_named(pg_url: str, tmp_path: Path) -> None:
    """No row changed, but the append-only guard is gone: verify says so."""
    home = tmp_path / "home"
    assert_ok(ircmd("declare", "Checkout down", db=pg_url, home=home))
    db.execute(pg_url, "DROP TRIGGER events_append_only ON events")
    assert_error(
        ircmd("verify", db=pg_url, home=home),
        "trigger events_append_only is missing from the schema (dropped outside ircmd)",
    )


def test_nul_in_text_is_one_error_line_naming_no_path(pg_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert_ok(ircmd("declare", "Checkout down", db=pg_url, home=home))
    line = assert_error(
        ircmd("log", "INC-1", "--stdin", db=pg_url, home=home, input="a\x00b\n"),
        "NUL",
    )
    assert "/" not in line.partition("NUL")[2]
    assert db.event_count(pg_url) == 1
    assert_ok(ircmd("verify", db=pg_url, home=home))


def test_a_database_holding_other_tables_is_refused(pg_url: str, tmp_path: Path) -> None:
    db.execute(pg_url, "CREATE TABLE cats (name TEXT)")
    assert_error(
        ircmd("declare", "x", db=pg_url, home=tmp_path / "home"),
        "is a PostgreSQL database but not an ircmd one",
    )
    assert db.tables(pg_url) == ["cats"]


def test_backup_is_pg_dump_and_restore_points_to_pg_restore(pg_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert_ok(ircmd("declare", "Checkout down", db=pg_url, home=home))
    dest = tmp_path / "bk" / "record.dump"
    assert "backed up to" in assert_ok(ircmd("backup", str(dest), db=pg_url, home=home))
    assert dest.read_bytes().startswith(b"PGDMP")  # pg_dump's custom format
    assert_error(ircmd("backup", str(dest), db=pg_url, home=home), "already exists")
    assert_error(
        ircmd("restore", str(dest), db=pg_url, home=home),
        "in place of a SQLite file",
        "pg_restore",
    )
    assert db.event_count(pg_url) == 1


def test_a_missing_database_is_one_line_that_shows_no_password(pg_url: str, tmp_path: Path) -> None:
    head, _, _ = pg_url.rpartition("/")
    scheme, _, rest_ = head.partition("://")
    user, _, host = rest_.partition("@")
    url = f"{scheme}://{user}:s3cret-pw@{host}/no_such_database_here"
    for args in (("list",), ("declare", "x"), ("--read-only", "verify")):
        line = assert_error(ircmd(*args, db=url, home=tmp_path / "home"), "no_such_database_here")
        assert "s3cret-pw" not in line, line


@pytest.fixture
def language_collated_url() -> Iterator[str]:
    """A new database whose default collation is a language's (ICU en-US), where
    '_ops' < 'alice' < 'Bob', unlike code point order ('Bob' < '_ops' < 'alice')."""
    from conftest import pg_admin_url

    admin = pg_admin_url()
    name = f"t_icu_{os.getpid()}_{time.monotonic_ns()}"
    with db.connect(admin) as conn:
        conn.execute(
            f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu"
            " ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
        )
    url = pg.with_database(admin, name)
    try:
        yield url
    finally:
        pg.drop_database(admin, url)


def test_names_sort_as_on_sqlite_whatever_the_servers_collation(
    language_collated_url: str, tmp_path: Path
) -> None:
    url = language_collated_url
    order = "SELECT x FROM (VALUES ('Bob'), ('alice'), ('_ops')) v(x) ORDER BY x"
    assert [r[0] for r in db.rows(url, order)] == ["_ops", "alice", "Bob"]  # the server's
    shown = {}
    for ref in (url, tmp_path / "ircmd.db"):
        home = tmp_path / "home"
        at = "2026-01-05T09:00Z"
        assert_ok(ircmd("declare", "x", "--at", at, "--commander", "", db=ref, home=home))
        for who in ("alice", "_ops", "Bob"):
            assert_ok(ircmd("assign", "INC-1", "responder", who, "--at", at, db=ref, home=home))
        data = json.loads(assert_ok(ircmd("show", "INC-1", "--json", db=ref, home=home)))
        shown[str(ref)] = [r["person"] for r in data["roles"]]
    assert list(shown.values()) == [["Bob", "_ops", "alice"]] * 2
