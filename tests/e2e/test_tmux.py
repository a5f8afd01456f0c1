"""The command screen in a real terminal: tmux at 80x24, keys in, screen text out.

tmux is required (CI installs it): without it this test fails rather than skips,
so a missing terminal can never pass as a green run.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import pytest
from helpers.tmux import Tmux

pytestmark = pytest.mark.e2e

IRCMD = Path(sys.executable).with_name("ircmd")


def started(tmp_path: Path) -> tuple[Tmux, Path]:
    """alice's screen on a new database, at 80x24, with a home of the test's own."""
    db = tmp_path / "e2e.db"
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRCMD_")}
    env |= {"HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "TERM": "xterm-256color"}
    tmux = Tmux(tmp_path / "tmux.sock")
    tmux.start(f"{IRCMD} --db {db} --as alice", env)
    return tmux, db


def test_declare_note_assign_check_in_a_real_terminal(tmp_path: Path) -> None:
    tmux, db = started(tmp_path)
    try:
        tmux.wait(lambda s: "no incident open" in s, "the empty screen")

        def enter(line: str, expect: str) -> str:
            tmux.type(line)
            tmux.wait(lambda s: line[:40] in s, f"{line!r} echoed in the bar")
            tmux.key("Enter")
            return tmux.wait(lambda s: expect in s, expect)

        enter("/declare SEV2 e2e checkout outage", "INC-1 declared")
        enter("first note from the scribe", "#2 added")
        enter("/assign scribe carol", "carol is scribe")
        enter("/add isolate the bad host", "step 1 added")
        enter("/check 1", "step 1 checked")
        # The panes follow through the change feed, a moment after the confirmation.
        screen = tmux.wait(
            lambda s: "[x]" in s and "carol" in s and "first note from the scribe" in s,
            "the checklist, roles and timeline to show the changes",
        )

        lines = screen.splitlines()
        assert len(lines) <= 24 and all(len(line) <= 80 for line in lines)
        assert "INC-1 SEV2" in lines[0] and "e2e checkout outage" in lines[0]
        assert "scribe" in screen and "carol" in screen
        assert "[x]" in screen and "isolate the bad host" in screen
        assert "first note from the scribe" in screen
        assert "Help" in lines[-1]  # the footer survived

        # F8 and `a` arriving in one read: the tab takes the `a`, the bar does not.
        tmux.key("F8", "a")
        tmux.wait(lambda s: "Follow-up action" in s, "the action form from F8 a")
        tmux.key("Escape")
        screen = tmux.wait(lambda s: "Follow-up action" not in s, "the form closed")
        assert "▊  a " not in screen, "the `a` leaked into the entry bar"

        tmux.quit("ircmd did not exit on Ctrl+Q (an open Store keeps it alive)")
    finally:
        if tmux.alive():
            tmux.run("kill-server")

    with sqlite3.connect(db) as conn:
        kinds = [r[0] for r in conn.execute("SELECT kind FROM events ORDER BY id")]
        presence = conn.execute("SELECT count(*) FROM presence").fetchone()[0]
    assert kinds == ["declare", "note", "assign", "item_add", "check"]
    assert presence == 0, "the session left presence on exit"


def test_a_paste_with_escapes_in_it_records_nothing_by_itself(tmp_path: Path) -> None:
    """A log line copied with its colour codes and a CR, pasted (bracketed, as tmux
    `paste-buffer -p` does for an app that asked for it): nothing goes on the record
    until the user says so, and the text arrives whole, its ESCs shown as ␛."""
    tmux, db = started(tmp_path)
    try:
        tmux.wait(lambda s: "no incident open" in s, "the empty screen")
        tmux.type("/declare SEV2 paste test")
        tmux.wait(lambda s: "/declare SEV2 paste test" in s, "the line in the bar")
        tmux.key("Enter")
        tmux.wait(lambda s: "INC-1 declared" in s, "the declaration")
        paste = tmp_path / "paste.txt"
        paste.write_bytes(b"err \x1b[31mFATAL\x1b[0m \x1b[1;2 x\x1bq\rnext")
        tmux.run("load-buffer", str(paste))
        tmux.run("paste-buffer", "-p")
        screen = tmux.wait(lambda s: "Escape: one note" in s or "Note" in s, "the note form")
        assert "FATAL" in screen
        tmux.key("Escape")
        tmux.wait(lambda s: "FATAL" not in s, "the form closed")
        tmux.quit("ircmd did not exit on Ctrl+Q")
    finally:
        if tmux.alive():
            tmux.run("kill-server")
    with sqlite3.connect(db) as conn:
        kinds = [r[0] for r in conn.execute("SELECT kind FROM events ORDER BY id")]
    assert kinds == ["declare"], "a pasted escape sequence put an entry on the record"
