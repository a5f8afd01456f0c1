"""The garbage collector is paused for start-up only: the `ircmd` entry point pauses
it, a command resumes it as it starts and the screen once it has painted, so no
long-running process (serve, deliver, the screen) runs without it."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ircmd import collector
from tests.helpers.screen import ready, running, seeded, until

pytestmark = pytest.mark.sqlite_only

# The entry point as the console script runs it, reporting the collector's state
# when the command has run.
ENTRY = """
import atexit, gc, sys
atexit.register(lambda: print("enabled" if gc.isenabled() else "PAUSED", gc.get_freeze_count() > 0))
sys.argv = ["ircmd", *sys.argv[1:]]
from ircmd.launch import main
main()
"""


@pytest.fixture
def paused() -> Iterator[None]:
    """The collector paused as the entry point leaves it; restored afterwards."""
    collector.pause()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def test_a_command_runs_with_the_collector_resumed(tmp_path: Path) -> None:
    db = tmp_path / "ircmd.db"
    r = subprocess.run(
        [sys.executable, "-c", ENTRY, "--db", str(db), "--as", "alice", "declare", "Checkout down"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "enabled True"


def test_resume_is_idempotent_and_harmless_unpaused(paused: None) -> None:
    collector.resume()
    frozen = gc.get_freeze_count()
    collector.resume()  # a second call freezes nothing more
    assert gc.isenabled() and gc.get_freeze_count() == frozen > 0


async def test_the_screen_resumes_it_once_it_has_painted(tmp_path: Path, paused: None) -> None:
    db = await seeded(tmp_path)
    async with running(db) as pilot:
        await until(pilot, lambda: gc.isenabled())
        screen = await ready(pilot)
        assert pilot.app.screen is screen
        assert screen.timeline.rows  # the frame painted had the record
