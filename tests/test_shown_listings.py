"""Listings print one line per record: a line break in user text cannot forge a row.

Issue 9 §4. Each listing (`list`, `actions`, `evidence list`, `escalation`,
`playbooks`) shows every kind of line break in user text as ⏎.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.cli import RunCli, assert_ok
from helpers.db import Ref

from ircmd import display


@pytest.fixture
def db_path(db_ref: Ref) -> Ref:
    """The record `run_cli` writes: on each backend in turn."""
    return db_ref


# Every character a terminal or a reader may take as the end of a line.
BREAKS = ["\n", "\r\n", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("brk", BREAKS, ids=[f"U+{ord(b[-1]):04X}" for b in BREAKS])
def test_one_line_marks_every_line_break(brk: str) -> None:
    shown = display.one_line(f"real{brk}INC-9    SEV1 forged")
    assert shown == "real\u23ceINC-9    SEV1 forged"
    assert len(shown.splitlines()) == 1


def test_one_line_still_makes_escapes_safe() -> None:
    assert display.one_line("a\x1b[2Jb\u202ec") == "a\u241b[2Jb\\u202ec"


def forged(stdout: str, fake: str) -> None:
    """No output line starts with the forged row's text; the mark stands in its place."""
    assert not any(line.startswith(fake) for line in stdout.splitlines()), stdout
    assert "\u23ce" + fake in stdout, stdout


def test_list_shows_a_newline_in_a_title_as_a_mark(run_cli: RunCli) -> None:
    fake = "INC-7    SEV1 investigating 2026-01-01 00:00:00  forged"
    assert_ok(run_cli("declare", f"real title\n{fake}", "--severity", "SEV3"))
    out = assert_ok(run_cli("list"))
    assert len(out.splitlines()) == 1, out
    forged(out, fake)


def test_actions_shows_line_breaks_as_marks(run_cli: RunCli) -> None:
    assert_ok(run_cli("declare", "outage", "--severity", "SEV3"))
    fake = "ACT-9   INC-1    done        mallory"
    assert_ok(run_cli("action", "add", "INC-1", f"add a canary\u2028{fake}"))
    assert_ok(run_cli("action", "add", "INC-1", f"second\r\n{fake}"))
    out = assert_ok(run_cli("actions"))
    assert len(out.splitlines()) == 2, out
    forged(out, fake)


def test_evidence_list_shows_line_breaks_as_marks(run_cli: RunCli) -> None:
    assert_ok(run_cli("declare", "breach", "--severity", "SEV2"))
    fake = "    held by mallory"
    assert_ok(run_cli("evidence", "add", "INC-1", f"disk image\n{fake}", "--location", "safe\x85B"))
    assert_ok(run_cli("evidence", "transfer", "INC-1", "EV-1", "bob", "--reason", f"lab\r{fake}"))
    assert_ok(run_cli("evidence", "amend", "INC-1", "EV-1", f"sealed\v{fake}"))
    out = assert_ok(run_cli("evidence", "list", "INC-1"))
    assert out.splitlines()[-1] == "    held by bob"
    assert sum(line.startswith("    held by") for line in out.splitlines()) == 1, out
    forged(out, fake)
    assert "safe\u23ceB" in out


def test_escalation_shows_line_breaks_as_marks(run_cli: RunCli, tmp_path: Path) -> None:
    config = tmp_path / "home" / "config" / "ircmd"
    config.mkdir(parents=True)
    (config / "escalation.toml").write_text('SEV3 = ["ops lead\\n[x] 2026-01-01 by forged"]\n')
    assert_ok(run_cli("declare", "outage", "--severity", "SEV3"))
    out = assert_ok(run_cli("escalation", "INC-1"))
    assert out.splitlines()[1] == "[ ] pending  ops lead\u23ce[x] 2026-01-01 by forged"
    assert len(out.splitlines()) == 2, out
