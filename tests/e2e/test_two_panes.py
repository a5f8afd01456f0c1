"""Two real terminals on one database: a note typed in one shows up in the other.

Runs `ircmd --db X --as alice` and `ircmd --db X --as bob` in two tmux sessions (on a
private tmux server, `-S socket` under tmp_path), types into one with send-keys and reads
the other with capture-pane until the note appears or the deadline passes. tmux is a
requirement of this test, not an option: without it the test fails.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cli import IRCMD, RunCli, assert_ok, clean_env
from helpers.db import rows

from ircmd.store.postgres import is_url

pytestmark = pytest.mark.e2e

DEADLINE = 20.0


class Tmux:
    def __init__(self, socket: Path) -> None:
        tmux = shutil.which("tmux")
        assert tmux, "tmux is required for the end-to-end tests (apt-get install tmux)"
        self.base = [tmux, "-S", str(socket)]

    def run(self, *args: str) -> str:
        r = subprocess.run([*self.base, *args], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, f"tmux {args}: {r.stderr}"
        return r.stdout

    def capture(self, target: str) -> str:
        return self.run("capture-pane", "-p", "-t", target)

    def until(self, target: str, needle: str, deadline: float = DEADLINE) -> str:
        end = time.monotonic() + deadline
        while True:
            screen = self.capture(target)
            if needle in screen:
                return screen
            if time.monotonic() > end:
                raise AssertionError(f"{needle!r} not on {target} after {deadline}s:\n{screen}")
            time.sleep(0.05)  # capture interval, not a wait for the result


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    t = Tmux(tmp_path / "tmux.sock")
    try:
        yield t
    finally:
        subprocess.run([*t.base, "kill-server"], capture_output=True, timeout=10)


def _start(tmux: Tmux, name: str, user: str, db: Path | str, home: Path) -> None:
    env = clean_env(home, {"TERM": "xterm-256color"})
    keep = ("PATH", "HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "LANG", "TERM")
    assigns = " ".join(f"{k}={shlex.quote(env[k])}" for k in keep if k in env)
    cmd = f"env {assigns} {shlex.join(IRCMD)} --db {shlex.quote(str(db))} --as {user}"
    tmux.run("new-session", "-d", "-s", name, "-x", "120", "-y", "40", cmd)


@pytest.fixture
def db_path(db_ref: Path | str) -> Path | str:
    """One SQLite file, or one PostgreSQL database, shared by the two terminals."""
    return db_ref


def other_address(db: Path | str) -> Path | str:
    """The same database reached from another client address: on PostgreSQL, bob
    connects through the server's unix socket while alice uses TCP on 127.0.0.1, as
    two machines would connect from two addresses."""
    if not is_url(db):
        return db
    [(sockets, port)] = rows(
        db, "SELECT current_setting('unix_socket_directories'), current_setting('port')"
    )
    name = str(db).rpartition("/")[2]
    return f"postgresql://postgres@/{name}?host={sockets.split(',')[0].strip()}&port={port}"


def test_note_typed_in_one_terminal_appears_in_the_other(
    tmux: Tmux, run_cli: RunCli, db_path: Path | str, tmp_path: Path
) -> None:
    assert_ok(run_cli("declare", "Two panes", "--severity", "SEV2"))
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    _start(tmux, "alice", "alice", db_path, home)
    _start(tmux, "bob", "bob", other_address(db_path), home)
    for pane in ("alice", "bob"):
        tmux.until(pane, "INC-1")
        tmux.until(pane, "type a note")

    tmux.run("send-keys", "-t", "alice", "-l", "hello from alice")
    tmux.run("send-keys", "-t", "alice", "Enter")
    tmux.until("bob", "hello from alice")

    tmux.run("send-keys", "-t", "bob", "-l", "bob here too")
    tmux.run("send-keys", "-t", "bob", "Enter")
    screen = tmux.until("alice", "bob here too")
    assert "hello from alice" in screen
    # The record has both, each written by the person at that terminal.
    shown = json.loads(assert_ok(run_cli("show", "INC-1", "--json")))
    notes = [(e["actor"], e["text"]) for e in shown["events"] if e["kind"] == "note"]
    assert notes == [("alice", "hello from alice"), ("bob", "bob here too")]
    if is_url(db_path):  # two sessions from two client addresses: TCP and the unix socket
        name = str(db_path).rpartition("/")[2]
        peers = rows(
            db_path,
            "SELECT DISTINCT coalesce(host(client_addr), 'local') FROM pg_stat_activity"
            " WHERE datname = ? AND application_name = 'ircmd'",
            (name,),
        )
        assert sorted(p for (p,) in peers) == ["127.0.0.1", "local"], peers
