"""The entry point opens the screen without click when the command line holds only
root options, and reads them exactly as click's root group would; everything else,
and every client command line of a locked session, goes to click."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ircmd.cli import cli
from ircmd.root import ROOT_OPTIONS, screen_options

pytestmark = pytest.mark.sqlite_only

SCREEN_LINES = [
    [],
    ["--db", "x.db"],
    ["--db=x.db", "--as", "bob"],
    ["--as=bob", "--read-only", "--timeout", "2.5"],
    ["--playbooks", "pb", "--force-time", "--timeout=7"],
    ["--db", ""],
]
CLICK_LINES = [
    ["log", "INC-1", "hello"],
    ["--db", "x.db", "list"],
    ["--help"],
    ["-h"],
    ["--version"],
    ["--timeout", "soon"],
    ["--db", "a.db", "--db", "b.db"],
    ["--read-only=yes"],
    ["--db"],
    ["--db", "--as", "bob"],
    ["--d", "x.db"],
    ["--", "--db"],
]


def click_params(argv: list[str]) -> dict[str, Any]:
    """What click's root group makes of `argv`: the options given, by name."""
    ctx = cli.make_context("ircmd", list(argv), resilient_parsing=True)
    return {k: v for k, v in ctx.params.items() if v is not None}


@pytest.mark.parametrize("argv", SCREEN_LINES)
def test_a_screen_command_line_is_read_as_click_reads_it(argv: list[str]) -> None:
    assert screen_options(argv, {}) == click_params(argv)


@pytest.mark.parametrize("argv", CLICK_LINES)
def test_anything_but_root_options_goes_to_click(argv: list[str]) -> None:
    assert screen_options(argv, {}) is None


def test_click_and_the_fast_start_have_the_same_root_options() -> None:
    flags = {opt for p in cli.params for opt in p.opts if opt.startswith("--")}
    assert flags - {"--version", "--help"} == {o.flag for o in ROOT_OPTIONS}


def test_a_locked_session_opens_fast_only_on_the_administrators_bare_command() -> None:
    locked = {"IRCMD_LOCK_USER": "alice"}
    assert screen_options([], locked) == {}
    assert screen_options(["--as", "alice"], locked) is None
    assert screen_options([], locked | {"SSH_ORIGINAL_COMMAND": "ircmd"}) is None
    assert screen_options([], locked | {"SSH_ORIGINAL_COMMAND": "  "}) == {}


# The entry point as the console script runs it, with the screen replaced by a probe
# that says whether click was loaded and what configuration the screen would get.
PROBE = """
import sys
import ircmd.app
ircmd.app.run_app = lambda cfg, **kw: print("click" in sys.modules, cfg.user, cfg.read_only)
sys.argv = ["ircmd", *sys.argv[1:]]
from ircmd.launch import main
main()
"""


def _entry(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, "--db", str(tmp_path / "t.db"), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": ":".join(sys.path)},
    )


def test_the_screen_opens_without_importing_click(tmp_path: Path) -> None:
    r = _entry(tmp_path, "--as", "bob", "--read-only")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "bob", "True"]


def test_a_refused_option_is_one_line_on_the_fast_start_too(tmp_path: Path) -> None:
    r = _entry(tmp_path, "--as", "  ")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == "ircmd: error: --as needs a name (it is empty)\n"
