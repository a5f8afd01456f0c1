"""A record the screen cannot read whole: one line and exit status 1, never a traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from helpers.screen import running
from test_screen_commands import declared

from ircmd.app import IrcmdApp


@pytest.mark.sqlite_only
async def test_a_corrupt_page_behind_the_first_frame_ends_the_screen_with_one_line(
    db_ref: Path,
) -> None:
    """The file opens (its header, the schema and the chain's head are sound) but a
    table the first frame reads is garbage: the screen ends as it does for a record
    it cannot open, with the store's one line and exit status 1."""
    db = await declared(db_ref)
    with sqlite3.connect(db) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        roots = conn.execute(  # the table's and its indexes' (the query may use either)
            "SELECT rootpage FROM sqlite_master WHERE tbl_name = 'alert_incidents' AND rootpage > 0"
        ).fetchall()
    conn.close()
    with db.open("r+b") as f:
        for (root,) in roots:
            f.seek((root - 1) * size)
            f.write(b"\xff" * size)
    async with running(db) as pilot:
        app = pilot.app
        assert isinstance(app, IrcmdApp)
        while app.is_running:  # it ends by itself; the test's timeout bounds the wait
            await pilot.pause(0.05)
    assert app.return_code == 1
    assert app.error is not None and "corrupt" in app.error, app.error
    assert "\n" not in app.error
