"""Reports show what was written: CSV safe for spreadsheets and terminals, streamed
output identical to the whole, and 100,000 entries in bounded memory. Issue 9 §4."""

from __future__ import annotations

import csv
import io
import os
import pty
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.cli import IRCMD, RunCli, assert_ok, clean_env

from bench.seed import build
from ircmd import display, report
from ircmd.escalation import load_escalation
from ircmd.models import Role, Severity, Status
from ircmd.store import Store

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
FORMULAS = ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\tlead tab", "\rlead cr"]


def csv_cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


async def test_csv_neutralises_formula_cells_and_keeps_the_record(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "r.db", clock=lambda: T0) as store:
        await store.declare('=HYPERLINK("http://x")', actor="alice", severity=Severity.SEV3)
        for text in FORMULAS:
            await store.log(1, text, actor="alice")
        await store.log(1, "plain - text = fine", actor="alice")
        events = await store.events(1)
    rows = csv_cells(report.incident_csv(events))
    assert rows[1][5] == '\'=HYPERLINK("http://x")'
    assert [r[5] for r in rows[2:8]] == ["'" + t for t in FORMULAS]
    assert [r[6] for r in rows[2:8]] == ["'" + t for t in FORMULAS]  # description of a note
    assert rows[8][5] == "plain - text = fine"
    assert [e.text for e in events[1:7]] == FORMULAS  # the record itself is unchanged


def run_on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run the CLI with its standard output on a pseudo-terminal; what it wrote."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [*IRCMD, *args], env=env, stdout=slave, stderr=subprocess.PIPE, timeout=60
        )
    finally:
        os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other end is closed and drained
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.returncode == 0, proc.stderr
    return b"".join(chunks).decode()


HOSTILE = "\x1b]0;owned\x07\x1b[2J \u202eevil\x9b"


def test_csv_to_a_terminal_escapes_control_characters(run_cli: RunCli, tmp_path: Path) -> None:
    assert_ok(run_cli("declare", "outage", "--severity", "SEV3"))
    assert_ok(run_cli("log", "INC-1", HOSTILE))
    env = clean_env(tmp_path / "home", {"IRCMD_DB": str(tmp_path / "ircmd.db")})
    shown = run_on_a_terminal(["report", "INC-1", "--format", "csv"], env)
    for raw in ("\x1b", "\x07", "\u202e", "\x9b"):
        assert raw not in shown, repr(raw)
    assert display.printable(HOSTILE) in shown
    # Piped or to a file, the CSV is exact data.
    piped = assert_ok(run_cli("report", "INC-1", "--format", "csv"))
    assert csv_cells(piped)[2][5] == HOSTILE


async def small_incident(path: Path) -> None:
    """A little of everything, with a back-dated entry so time order is not id order."""
    now = [T0]
    async with await Store.open(path, clock=lambda: now[0]) as store:
        inc = await store.declare(
            "Payments\n# down", actor="alice", severity=Severity.SEV1, started_at=T0
        )
        await store.assign(inc.id, Role.COMMANDER, "ian", actor="alice")
        now[0] = T0 + timedelta(minutes=30)
        await store.log(
            inc.id, "remembered \x1b[31m later", actor="bob", at=T0 + timedelta(minutes=5)
        )
        await store.log(inc.id, "multi\nline \u202e", actor="bob")
        await store.set_status(inc.id, Status.CONTAINED, actor="ian")
        await store.add_evidence(inc.id, "logs", actor="rex", sha256="f" * 64)


@pytest.mark.parametrize(
    "args",
    [
        ("show", "INC-1"),
        ("show", "INC-1", "--json"),
        ("report", "INC-1"),
        ("report", "INC-1", "--format", "json"),
        ("report", "INC-1", "--format", "csv"),
    ],
)
async def test_streamed_output_is_the_whole_report(
    run_cli: RunCli, db_path: Path, args: tuple[str, ...]
) -> None:
    await small_incident(db_path)
    async with await Store.open(db_path, read_only=True) as store:
        state, events, head = await store.state(1), await store.events(1), await store.head()
    out = assert_ok(run_cli(*args))
    # `now` is the wall clock in the CLI: long past the incident's due update.
    now = datetime.now(UTC)
    if "--json" in args or "json" in args:
        whole = display.json_text(
            report.incident_json(state, events, now, load_escalation(None), head=head)
        )
        assert out == whole + "\n"
    elif "csv" in args:
        whole = report.incident_csv(events) + "\n"  # read in text mode: CRLF reads as LF
        assert out == whole.replace("\r\n", "\n").replace("\r", "\n")
    else:
        whole = report.incident_markdown(state, events, now, load_escalation(None), head=head)
        assert (
            out
            == (display.printable(whole, keep_newlines=True) if "show" in args else whole) + "\n"
        )


def peak_rss_mb(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Peak resident memory of one CLI run (measured by a fresh parent whose only
    child it is) and the number of lines it printed."""
    probe = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE)\n"
        "assert p.returncode == 0, p.returncode\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.stdout.count(b'\\n'))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", probe, *IRCMD, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    kib, lines = r.stdout.split()
    return int(kib) / 1024, int(lines)


def test_show_and_report_of_100k_entries_stay_under_300_mb(tmp_path: Path) -> None:
    db = tmp_path / "big.db"
    build(db, incidents=1, big_events=100_000)
    env = clean_env(tmp_path / "home", {"IRCMD_DB": str(db), "IRCMD_USER": "alice"})
    for args, min_lines in (
        (["show", "INC-1"], 100_000),
        (["show", "INC-1", "--json"], 1_000_000),
        (["report", "INC-1"], 100_000),
        (["report", "INC-1", "--format", "json"], 1_000_000),
        (["report", "INC-1", "--format", "csv"], 100_001),
        (["metrics", "INC-1"], 5),
    ):
        peak, lines = peak_rss_mb(args, env)
        assert lines >= min_lines, (args, lines)
        assert peak < 300, f"{' '.join(args)}: peak RSS {peak:.0f} MB"


@pytest.mark.parametrize("fmt", ["md", "json", "csv"])
def test_a_reader_that_stops_early_gets_no_traceback(tmp_path: Path, fmt: str) -> None:
    """`ircmd report INC-1 | head -1`: the stream of chunks is closed before the
    store, so the pipe closing mid-report leaves nothing on stderr."""
    db = tmp_path / "big.db"
    build(db, incidents=1, big_events=5_000)  # far more than a pipe's buffer
    env = clean_env(tmp_path / "home", {"IRCMD_DB": str(db)})
    proc = subprocess.Popen(
        [*IRCMD, "report", "INC-1", "--format", fmt],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert err == b"", err.decode()
