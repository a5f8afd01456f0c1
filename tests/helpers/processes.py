"""Other processes a test runs beside the one it checks: a holder of the write
lock (released through a pipe, never after a sleep) and `ircmd log --stdin --echo`
fed line by line. The fixtures make sure none outlives its test."""

from __future__ import annotations

import queue
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

import pytest

from .cli import IRCMD, clean_env

DEADLINE = 30.0  # generous: each wait ends as soon as its condition holds
HOLDER = r"""
import sqlite3, sys
from ircmd.store.postgres import POSTGRESQL, is_url
if is_url(sys.argv[1]):  # the advisory lock every PostgreSQL write transaction takes
    import psycopg
    conn = psycopg.connect(sys.argv[1], autocommit=True)
    conn.execute(POSTGRESQL.begin_write)
else:
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()  # hold the write lock until the test writes a line
conn.execute("ROLLBACK")
print("released", flush=True)
sys.stdin.readline()
"""


def _pump(stream: IO[bytes], into: queue.Queue[str | None]) -> None:
    for raw in stream:
        into.put(raw.decode("utf-8", errors="replace").rstrip("\n"))
    into.put(None)


def _lines(stream: IO[bytes] | None) -> queue.Queue[str | None]:
    """The stream's lines as they come, read by a thread (None at EOF)."""
    assert stream is not None
    q: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(stream, q), daemon=True).start()
    return q


def _next(q: queue.Queue[str | None], what: str) -> str | None:
    try:
        return q.get(timeout=DEADLINE)
    except queue.Empty:
        raise AssertionError(f"no {what} within {DEADLINE} s") from None


class Holder:
    """Another process holding the write lock on `db` (BEGIN IMMEDIATE on SQLite, the
    advisory lock on PostgreSQL) until `release()`."""

    def __init__(self, db: Path | str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        assert self.proc.stdout.readline() == "locked\n"

    def release(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline() == "released\n"

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=DEADLINE)


@pytest.fixture(name="holder_of")
def holder_of_fixture(tmp_path: Path) -> Iterator[type[Holder]]:
    made: list[Holder] = []

    class Tracked(Holder):
        def __init__(self, db: Path | str) -> None:
            super().__init__(db)
            made.append(self)

    yield Tracked
    for h in made:
        h.close()


class Feeder:
    """`ircmd log INC-1 --stdin --echo` running, fed line by line through a pipe."""

    def __init__(self, db: Path, home: Path, env: Mapping[str, str] | None = None) -> None:
        extra = {"IRCMD_DB": str(db), "IRCMD_USER": "alice", **(env or {})}
        self.proc = subprocess.Popen(
            [*IRCMD, "log", "INC-1", "--stdin", "--echo"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(home, extra),
        )
        self.out = _lines(self.proc.stdout)
        self.err = _lines(self.proc.stderr)

    def send(self, line: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + b"\n")
        self.proc.stdin.flush()

    def ack(self) -> int:
        """The next acknowledged event id: the line is committed."""
        line = _next(self.out, "acknowledgement")
        assert line is not None and line.startswith("#"), f"{line!r}; stderr: {self.stderr()}"
        return int(line[1:])

    def err_line(self) -> str:
        line = _next(self.err, "line on stderr")
        assert line is not None, "stderr closed"
        return line

    def stderr(self) -> list[str]:
        """What is on stderr so far, without waiting."""
        got: list[str] = []
        while True:
            try:
                line = self.err.get_nowait()
            except queue.Empty:
                return got
            if line is not None:
                got.append(line)

    def finish(self, close_stdin: bool = True) -> tuple[int, list[str], list[str]]:
        """Exit status, and the rest of stdout and stderr."""
        assert self.proc.stdin is not None
        if close_stdin:
            self.proc.stdin.close()
        code = self.proc.wait(timeout=DEADLINE)
        return code, rest(self.out), rest(self.err)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=DEADLINE)


def rest(q: queue.Queue[str | None]) -> list[str]:
    got: list[str] = []
    while (line := _next(q, "end of output")) is not None:
        got.append(line)
    return got


@pytest.fixture(name="feeder")
def feeder_fixture(tmp_path: Path) -> Iterator[type[Feeder]]:
    made: list[Feeder] = []

    class Tracked(Feeder):
        def __init__(self, db: Path, env: Mapping[str, str] | None = None) -> None:
            super().__init__(db, tmp_path / "home", env)
            made.append(self)

    yield Tracked
    for f in made:
        f.kill()


def notes(db: Path, *, main_file_only: bool = False) -> dict[int, str]:
    """The notes in `db`; `main_file_only` ignores a -wal beside it (one left by
    the file that stood there before a replacement would otherwise be read too)."""
    target = f"file:{db}?immutable=1" if main_file_only else f"file:{db}"
    conn = sqlite3.connect(target, uri=True)
    try:
        return dict(conn.execute("SELECT id, text FROM events WHERE kind = 'note' ORDER BY id"))
    finally:
        conn.close()
