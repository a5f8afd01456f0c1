"""`log --stdin` loses nothing, and loses nothing silently.

On both backends except where the file itself is the subject. Real processes on
real files: a writer fed through a pipe (`--echo` acknowledges
each committed line), another process holding the write lock (released through
a pipe, never after a sleep), SIGKILL mid-stream, invalid UTF-8, a database file
replaced or deleted under a running writer.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import db
from helpers.cli import IRCMD, RunCli, assert_ok, clean_env
from helpers.db import Ref
from helpers.processes import DEADLINE, Feeder, Holder, rest
from helpers.processes import notes as file_notes

from ircmd.models import DatabaseReplaced
from ircmd.store import Store

# Short lock waits and retry pauses keep the tests fast; the code paths are the real ones.
FAST = {"IRCMD_TIMEOUT": "0.2", "IRCMD_RETRY_DELAY": "0.01"}


@pytest.fixture
def db_path(db_ref: Ref) -> Ref:
    """The record `run_cli` writes: on each backend in turn."""
    return db_ref


@pytest.fixture
def lock_holder(holder_of: type[Holder]) -> Iterator[Callable[[Ref], Any]]:
    """Another writer holding the write lock of a record until `.release()`."""
    made: list[db.PgLockHolder] = []

    def hold(ref: Ref) -> Any:
        if not db.is_pg(ref):
            return holder_of(Path(ref))
        made.append(db.PgLockHolder(str(ref)))
        return made[-1]

    yield hold
    for h in made:
        h.close()


def notes(ref: Ref, *, main_file_only: bool = False) -> dict[int, str]:
    if not db.is_pg(ref):
        return file_notes(Path(ref), main_file_only=main_file_only)
    return {
        int(i): str(t)
        for i, t in db.rows(ref, "SELECT id, text FROM events WHERE kind = 'note' ORDER BY id")
    }


@pytest.fixture
def inc1(run_cli: RunCli, db_path: Ref) -> Ref:
    assert_ok(run_cli("declare", "Checkout down", "--severity", "2"))
    return db_path


def verified(run_cli: RunCli, db: Ref) -> str:
    return assert_ok(run_cli("verify", db=db))


# ------------------------------------------------------------------ lock contention


def test_a_busy_lock_is_waited_out_and_the_line_lands(
    inc1: Ref, run_cli: RunCli, feeder: type[Feeder], lock_holder: Callable[[Ref], Any]
) -> None:
    f = feeder(inc1, {**FAST, "IRCMD_RETRIES": "100"})
    f.send(b"before the lock")
    first = f.ack()
    assert notes(inc1) == {first: "before the lock"}  # committed while stdin is still open
    holder = lock_holder(inc1)
    f.send(b"while locked")
    warning = f.err_line()  # the writer says why it waits...
    assert warning.startswith("ircmd: warning: line 2: ") and "locked" in warning, warning
    assert "retry 1 of 100" in warning
    holder.release()  # ...and once the lock is free the line is written
    second = f.ack()
    f.send(b"after")
    third = f.ack()
    code, out, err = f.finish()
    assert code == 0 and out == [], (out, err)
    assert all(line.startswith("ircmd: warning: line 2: ") for line in err), err
    assert notes(inc1) == {first: "before the lock", second: "while locked", third: "after"}
    assert "chain intact" in verified(run_cli, inc1)


def test_a_line_that_still_cannot_be_written_is_printed_and_the_next_is_tried(
    inc1: Ref, feeder: type[Feeder], lock_holder: Callable[[Ref], Any]
) -> None:
    holder = lock_holder(inc1)
    f = feeder(inc1, {**FAST, "IRCMD_RETRIES": "2"})
    f.send(b'the "first"\tline')
    assert "retry 1 of 2" in f.err_line()
    assert "retry 2 of 2" in f.err_line()
    lost = f.err_line()
    # Its number, why, and its exact text as a JSON string: nothing lost silently.
    assert lost.startswith("ircmd: error: line 1 not written: "), lost
    assert "locked by another writer" in lost
    assert lost.endswith(' "the \\"first\\"\\tline"'), lost
    holder.release()
    f.send(b"second")
    ack = f.ack()
    code, out, err = f.finish()
    assert code == 1, "a line was not written: the exit status says so"
    assert out == [] and err == []
    assert notes(inc1) == {ack: "second"}


def test_a_refused_line_is_reported_and_not_retried(inc1: Ref, run_cli: RunCli) -> None:
    r = run_cli(
        "log",
        "INC-1",
        "--stdin",
        input="fine\n" + "y" * 70_000 + "\nalso fine\n",
        env={"IRCMD_RETRY_DELAY": "5"},
    )
    assert r.returncode == 1
    (line,) = r.stderr.splitlines()  # no retry warning: the rules refuse it every time
    assert line.startswith("ircmd: error: line 2 not written: text is 70000 bytes")
    assert list(notes(inc1).values()) == ["fine", "also fine"]


# ------------------------------------------------------------------- invalid UTF-8


def test_invalid_utf8_is_stored_with_replacement_characters_and_a_warning(
    inc1: Ref, tmp_path: Path
) -> None:
    env = clean_env(tmp_path / "home", {"IRCMD_DB": str(inc1), "IRCMD_USER": "alice"})
    r = subprocess.run(
        [*IRCMD, "log", "INC-1", "--stdin"],
        input=b"plain\n\xffbad\xfe bytes\n\ncaf\xc3\xa9\n",
        capture_output=True,
        env=env,
        timeout=DEADLINE,
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr.decode().splitlines() == [
        "ircmd: warning: line 2 is not valid UTF-8: stored with U+FFFD for the bad bytes"
    ]
    assert list(notes(inc1).values()) == ["plain", "\ufffdbad\ufffd bytes", "café"]


# --------------------------------------------------------------------------- SIGKILL


def test_sigkill_mid_stream_keeps_every_acknowledged_line(
    inc1: Ref, run_cli: RunCli, feeder: type[Feeder]
) -> None:
    rng = random.Random(7)
    acked: dict[int, str] = {}
    for round_no in range(4):
        f = feeder(inc1)
        sent: list[str] = []
        stop = threading.Event()

        def pour(
            f: Feeder = f,
            sent: list[str] = sent,
            round_no: int = round_no,
            stop: threading.Event = stop,
        ) -> None:
            k = 0
            while not stop.is_set():
                text = f"round {round_no} line {k}"
                sent.append(text)
                try:
                    f.send(text.encode())
                except (BrokenPipeError, ValueError):
                    return
                k += 1

        pourer = threading.Thread(target=pour)
        pourer.start()
        ids = [f.ack() for _ in range(rng.randint(5, 40))]
        os.kill(f.proc.pid, signal.SIGKILL)  # somewhere in the middle of the next line
        stop.set()
        pourer.join(timeout=DEADLINE)
        f.proc.wait(timeout=DEADLINE)
        ids += [int(x[1:]) for x in rest(f.out)]  # complete lines only: a cut one has no "\n"
        # Acknowledgements come in input order: the k-th is line k.
        acked |= {i: sent[k] for k, i in enumerate(ids)}
        present = notes(inc1)
        lost = {i: t for i, t in acked.items() if present.get(i) != t}
        assert not lost, f"round {round_no}: acknowledged but not in the file: {lost}"
    assert "chain intact" in verified(run_cli, inc1)


# -------------------------------------------------------------- a replaced file


@pytest.mark.sqlite_only
def test_a_writer_refuses_once_its_file_is_replaced(
    inc1: Path, tmp_path: Path, run_cli: RunCli, feeder: type[Feeder]
) -> None:
    other = tmp_path / "other.db"
    assert_ok(run_cli("declare", "Another record", db=other))
    assert_ok(run_cli("log", "INC-1", "only in the other record", db=other))
    f = feeder(inc1)
    f.send(b"into the first file")
    f.ack()
    os.replace(other, inc1)  # what a careless restore by hand does
    f.send(b"after the swap")
    lost = f.err_line()
    assert lost.startswith("ircmd: error: line 2 not written: "), lost
    assert "was replaced by another file" in lost and lost.endswith(': "after the swap"')
    assert f.err_line() == "ircmd: error: stopped after line 2; later lines not read"
    code, out, err = f.finish(close_stdin=False)  # it stops by itself
    assert code == 1 and out == [] and err == [], (out, err)
    # Nothing reported written is missing from the file at the path. (The first
    # file's -wal is still beside it: one reason a replacement by hand is unsafe.)
    assert list(notes(inc1, main_file_only=True).values()) == ["only in the other record"]
    assert "after the swap" not in notes(inc1).values()


@pytest.mark.sqlite_only
def test_a_writer_refuses_once_its_file_is_deleted(
    inc1: Path, feeder: type[Feeder], tmp_path: Path
) -> None:
    f = feeder(inc1)
    f.send(b"into the file")
    f.ack()
    inc1.unlink()
    f.send(b"into nothing")
    lost = f.err_line()
    assert lost.startswith("ircmd: error: line 2 not written: "), lost
    assert "was deleted after this process opened it" in lost
    assert f.err_line() == "ircmd: error: stopped after line 2; later lines not read"
    code, out, _ = f.finish(close_stdin=False)
    assert code == 1 and out == []
    assert not inc1.exists()


async def test_every_write_checks_the_file_after_taking_the_lock(tmp_path: Path) -> None:
    db, other = tmp_path / "a.db", tmp_path / "b.db"
    async with await Store.open(other) as s:
        await s.declare("other", actor="bob")
    async with await Store.open(db) as store:
        await store.declare("mine", actor="alice")
        os.replace(other, db)
        with pytest.raises(DatabaseReplaced, match="replaced by another file"):
            await store.log(1, "a note", actor="alice")  # the one-hop path
        with pytest.raises(DatabaseReplaced, match="replaced by another file"):
            await store.declare("again", actor="alice")  # every other verb (_tx)
        with pytest.raises(DatabaseReplaced):
            await store.heartbeat("s", None, "alice", "host")
    conn = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
    try:
        assert conn.execute("SELECT actor, kind FROM events").fetchall() == [("bob", "declare")]
    finally:
        conn.close()
