"""A long, two-phase incident replayed from three real terminals, then read back.

A commander (100x30), a scribe and a responder (80x24) each run `ircmd --db DB --as
NAME` in their own tmux session on one database. Phase 1 is load trouble on checkout
(SEV3): declared late and back-dated, roles given (one wrong, taken back), a wrong
notification withdrawn, steps checked, skipped and owned, contained. Phase 2, hours
later: primary data is found deleted: SEV1, the worse impact re-marked, a retitle,
structured impact, an overnight commander hand-off, updates, decisions, the review,
follow-up actions, resolved and closed through the gate (no override).

Every time is intended: minutes after T0 (20 h before the test starts, to the
minute), typed as `/at HH:MM` (the latest such moment). The report must then order
the timeline by those times and measure the metrics between them. Every wait is on
the screen or the database with a deadline; nothing sleeps to let things happen.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import IRCMD, clean_env

from ircmd.entry import COMMAND_NAMES

pytestmark = pytest.mark.e2e

DEADLINE = 20.0
# Every slash command the replay types (the test fails at once if one is gone).
TYPED: tuple[str, ...] = (
    *("declare", "at", "assign", "unassign", "add", "recovery", "notify", "unnotify"),
    *("check", "own", "skip", "status", "update", "decision", "ic", "sev", "mark"),
    *("title", "impact", "action", "act", "close"),
)


def hhmm(at: datetime) -> str:
    return at.strftime("%H:%M")


@dataclass
class Session:
    """One person's terminal: a tmux session on the shared private server."""

    base: list[str]
    name: str
    db: Path
    intended: dict[int, datetime]  # shared: event id -> when it was meant to happen

    def run(self, *args: str) -> str:
        r = subprocess.run([*self.base, *args], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, f"tmux {args}: {r.stderr}"
        return r.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.name)

    def wait(self, needle: str, what: str = "", timeout: float = DEADLINE) -> str:
        end = time.monotonic() + timeout
        while True:
            text = self.screen()
            if needle in text:
                return text
            if time.monotonic() > end:
                raise AssertionError(
                    f"{what or repr(needle)} not on {self.name}'s screen after {timeout}s:\n{text}"
                )
            time.sleep(0.05)  # the capture interval, not a wait for the result

    def events(self) -> int:
        """The last event id on the record (0 when empty)."""
        if not self.db.exists():
            return 0
        with sqlite3.connect(self.db) as conn:
            return int(conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0])

    def enter(
        self, line: str, expect: str, when: datetime, writes: int = 1, confirm: str = ""
    ) -> str:
        """Type `line`, Enter, and wait for its confirmation `expect` on the message line
        and for `writes` new events on the record, each meant to happen `when`.
        `confirm`: a question it asks first, answered with Enter."""
        before = self.events()
        self.run("send-keys", "-t", self.name, "-l", line)
        tail = line[-24:].strip()
        self.wait(tail, f"{line!r} echoed in {self.name}'s bar")
        self.run("send-keys", "-t", self.name, "Enter")
        if confirm:
            self.wait(confirm, f"the question for {line!r}")
            self.run("send-keys", "-t", self.name, "Enter")
        end = time.monotonic() + DEADLINE
        while True:
            screen = self.screen()
            if expect in screen and self.events() >= before + writes:
                assert self.events() == before + writes, f"{line!r} wrote more than asked"
                for n in range(before + 1, before + writes + 1):
                    self.intended[n] = when
                return screen
            if time.monotonic() > end:
                raise AssertionError(
                    f"{line!r} in {self.name}: no {expect!r} / {writes} write(s) after"
                    f" {DEADLINE}s ({self.events() - before} written); screen:\n{screen}"
                )
            time.sleep(0.05)

    def at(self, when: datetime, command: str, expect: str, **kw: Any) -> str:
        """`/at HH:MM COMMAND`: back-dated; the confirmation names the time."""
        return self.enter(f"/at {hhmm(when)} {command}", expect, when, **kw)


@pytest.fixture
def tmux_base(tmp_path: Path) -> Iterator[list[str]]:
    tmux = shutil.which("tmux")
    assert tmux, "tmux is required for the end-to-end tests (apt-get install tmux)"
    base = [tmux, "-S", str(tmp_path / "tmux.sock")]
    try:
        yield base
    finally:
        subprocess.run([*base, "kill-server"], capture_output=True, timeout=10)


def _start(
    base: list[str],
    name: str,
    db: Path,
    home: Path,
    size: tuple[int, int],
    intended: dict[int, datetime],
) -> Session:
    env = clean_env(home, {"TERM": "xterm-256color"})
    keep = ("PATH", "HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "LANG", "TERM")
    assigns = " ".join(f"{k}={shlex.quote(env[k])}" for k in keep if k in env)
    # COLUMNS and LINES unset: under pytest the tmux server's environment holds
    # COLUMNS=80 LINES=24, which Textual would take over the pane's real size.
    cmd = f"env -u COLUMNS -u LINES {assigns} {shlex.join(IRCMD)}"
    cmd += f" --db {shlex.quote(str(db))} --as {name}"
    w, h = size
    subprocess.run(
        [*base, "new-session", "-d", "-s", name, "-x", str(w), "-y", str(h), cmd],
        check=True,
        timeout=10,
    )
    return Session(base, name, db, intended)


def _cli(home: Path, db: Path, *args: str, who: str = "carol") -> str:
    r = subprocess.run(
        [*IRCMD, "--db", str(db), "--as", who, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(home),
    )
    assert r.returncode == 0, f"ircmd {args}: {r.stdout}{r.stderr}"
    return r.stdout


def expected_metrics(
    started: datetime,
    detected: datetime,
    declared: datetime,
    commander: datetime,
    contained: datetime,
    resolved: datetime,
) -> dict[str, float | None]:
    """The report's Summary spans, from the intended moments: detect = impact start ->
    detected, report = detected -> declared, acknowledge = declared -> first commander,
    contain and resolve = impact start -> contained / resolved. A span that runs
    backwards is unknown (None), as the report says."""

    def span(a: datetime, b: datetime) -> float | None:
        s = (b - a).total_seconds()
        return s if s >= 0 else None

    return {
        "time_to_detect": span(started, detected),
        "time_to_report": span(detected, declared),
        "time_to_acknowledge": span(declared, commander),
        "time_to_contain": span(started, contained),
        "time_to_resolve": span(started, resolved),
    }


def test_a_long_two_phase_incident_from_three_screens(tmux_base: list[str], tmp_path: Path) -> None:
    missing = [c for c in TYPED if c not in COMMAND_NAMES]
    assert not missing, f"slash commands gone from the registry: {missing}"
    db = tmp_path / "long.db"
    home = tmp_path / "home"
    home.mkdir()
    now = datetime.now(UTC)
    t0 = (now - timedelta(hours=20)).replace(second=0, microsecond=0)

    def t(m: int) -> datetime:
        return t0 + timedelta(minutes=m)

    def iso(at: datetime) -> str:
        return at.strftime("%Y-%m-%dT%H:%MZ")

    # The intended moments. Phase 1: load trouble; phase 2 from T0+10h: data loss.
    started, detected, declared = t(0), t(6), t(10)
    contained = t(45)
    worse_impact = t(590)  # the nightly cleanup job that deleted rows ran then
    loss_to = t(600)  # ... and orders written until it was stopped are gone
    resolved, closed = t(1080), t(1120)
    due1 = (now + timedelta(days=14)).date().isoformat()
    due2 = (now + timedelta(days=30)).date().isoformat()
    title1 = "Checkout latency under load"
    title2 = "Checkout outage and primary data loss"

    intended: dict[int, datetime] = {}
    ic = _start(tmux_base, "alice", db, home, (100, 30), intended)
    scribe = _start(tmux_base, "carol", db, home, (80, 24), intended)
    resp = _start(tmux_base, "dave", db, home, (80, 24), intended)
    for s in (ic, scribe, resp):
        s.wait("no incident open", f"{s.name}'s empty screen")

    # ---------------------------------------------------------------- phase 1
    ic.at(
        declared,
        f"/declare SEV3 {title1} --detected {hhmm(detected)} --started {hhmm(started)}",
        "INC-1 declared",
    )
    for s in (scribe, resp):
        s.wait(title1, f"INC-1 on {s.name}'s screen")
    ic.at(t(12), "/assign scribe carol", "carol is scribe")
    ic.at(t(13), "/assign deputy carol", "carol is deputy")
    ic.at(t(14), "/assign responder erin", "erin is responder")  # the wrong person
    ic.at(t(15), "/unassign responder erin", "erin")
    ic.at(t(15), "/assign responder dave", "dave is responder")

    # The scribe's steps, notifications and notes.
    scribe.at(t(16), "/add shed load at the edge", "step 1 added")
    scribe.at(t(16), "/add scale out the api pool", "step 2 added")
    scribe.at(t(17), "/add page the database vendor", "step 3 added")
    scribe.at(t(17), "/recovery restore normal routing", "step 4 added")
    scribe.at(t(18), "/notify Team lead", "Team lead notified")
    scribe.at(t(19), "/notify Legal", "Legal notified", confirm="not on the SEV3 escalation")
    scribe.at(t(21), "/unnotify Legal told by mistake, not a legal matter yet", "Legal")
    # Typed after the others, it happened before the declaration: the timeline says so.
    scribe.at(t(8), "p99 latency 4s on checkout, alerts firing", "added at")

    # The responder works the checklist.
    resp.at(t(25), "/check 1", "step 1 checked")
    resp.at(t(26), "/own 2 dave", "dave")
    resp.at(t(40), "/check 2", "step 2 checked")
    resp.at(t(41), "/skip 3 the vendor is not involved", "step 3")

    scribe.at(contained, "/status contained site taken offline", "contained")
    scribe.at(t(50), "/update internal contained: checkout offline, pool scaling", "internal")
    ic.at(t(60), "/decision keep checkout offline until the pool is verified", "added at")
    resp.at(t(120), "/check 4", "step 4 checked")
    scribe.at(t(125), "/status recovering routing restored", "recovering")

    # ---------------------------------------------------------------- phase 2
    # The overnight hand-off to someone not on it yet: asked first.
    ic.at(t(480), "/ic frank", "frank is commander", confirm="frank is not on INC-1 yet")
    scribe.at(t(482), "/assign comms alice", "alice is comms")
    scribe.at(t(600), "orders table missing rows after the nightly cleanup", "added at")
    scribe.at(t(605), "/sev 1 primary data deleted", "severity SEV1")
    scribe.at(t(610), f"/mark impact {hhmm(worse_impact)} cleanup job deleted rows", "impact")
    scribe.at(t(615), f"/title {title2}", "at ")
    scribe.at(
        t(620),
        f"/impact users=1200 records=48000 services=db,api loss={iso(worse_impact)}..{iso(loss_to)}"
        " orders written overnight lost",
        "at ",
    )
    for who in ("Head of engineering", "CTO", "Customer support lead", "Legal", "Status page"):
        ic.at(t(622), f"/notify {who}", f"{who} notified")
    ic.at(t(625), "/update external We are restoring lost order data", "external")
    scribe.at(t(630), "/decision restore from the snapshot and replay the binlog", "added at")
    resp.at(t(640), "/recovery restore primary from snapshot", "step 5 added")
    resp.at(t(900), "/check 5", "step 5 checked")
    scribe.at(resolved, "/status resolved", "resolved")
    ic.at(t(1090), "/update external --final Orders restored; customers told", "final")

    # The review is a form on the screen; its fields go in through the CLI, back-dated.
    before = scribe.events()
    _cli(
        home,
        db,
        "review",
        "INC-1",
        "--summary",
        "Load shed, then a cleanup job deleted orders",
        "--root-cause",
        "the cleanup job ran without a row guard",
        "--lessons",
        "guard destructive jobs; alert on row drops",
        "--at",
        iso(t(1100)),
        who="frank",
    )
    assert scribe.events() == before + 1
    intended[before + 1] = t(1100)
    scribe.at(t(1105), "/action guard the cleanup job", "ACT-1 added")
    scribe.at(t(1106), "/act ACT-1 owner dave", "owner dave")
    scribe.at(t(1106), f"/act ACT-1 due {due1}", f"due {due1}")
    scribe.at(t(1107), "/action alert on row-count drops", "ACT-2 added")
    scribe.at(t(1107), "/act ACT-2 owner carol", "owner carol")
    scribe.at(t(1108), f"/act ACT-2 due {due2}", f"due {due2}")
    scribe.at(closed, "/close", "closed")
    # Every screen followed: the new title and SEV1, closed, step 3 shown as skipped,
    # each drawn at its own terminal's size (the commander's is wider).
    for s, (width, height) in ((ic, (100, 30)), (scribe, (80, 24)), (resp, (80, 24))):
        screen = s.wait(f"INC-1 SEV1 closed  {title2}", f"the close on {s.name}'s screen")
        lines = screen.splitlines()
        assert "INC-1 SEV1 closed" in lines[0] and f"as {s.name}" in lines[0], lines[0]
        assert len(lines) <= height and all(len(line) <= width for line in lines)
        assert re.search(r"\b3 \[-\] page the database vendor", screen), screen
        assert "commander frank" in screen.replace("  ", " ").replace("  ", " "), screen
    assert max(len(line) for line in ic.screen().splitlines()) > 80, "drawn at 80 columns"

    # ---------------------------------------------------------------- the record
    report = json.loads(_cli(home, db, "report", "INC-1", "--format", "json"))
    markdown = _cli(home, db, "report", "INC-1", "--format", "md")
    events = report["events"]
    by_id = {e["id"]: e for e in events}
    assert sorted(by_id) == sorted(intended), "the record holds other writes than typed"

    # Every entry happened when it was meant to; the timeline is in that order.
    for n, at in intended.items():
        assert datetime.fromisoformat(by_id[n]["occurred_at"]) == at, (n, by_id[n])
    want_order = sorted(intended, key=lambda n: (intended[n], n))
    timeline = markdown.split("## Timeline", 1)[1].split("\n## ", 1)[0]
    shown = [int(m) for m in re.findall(r"^- \S+ \S+ #(\d+) ", timeline, re.M)]
    assert shown == want_order, "the Markdown timeline is not in the intended order"
    assert shown != sorted(shown), "nothing was typed out of order: the test proves nothing"

    # The metrics: the intended durations between the moments the Summary names.
    want = expected_metrics(worse_impact, detected, declared, declared, contained, resolved)
    got = {k: report["summary"][k]["seconds"] for k in want}
    assert got == want
    assert {k: report["metrics"].get(k) for k in want} == want
    out_of_order = sorted(k for k, v in want.items() if v is None)
    assert sorted(report["metrics"].get("out_of_order", [])) == out_of_order
    assert report["summary"]["time_to_resolve"]["from"]["at"] == worse_impact.isoformat()
    assert report["summary"]["time_to_resolve"]["to"]["at"] == resolved.isoformat()
    hours, mins = divmod(int((resolved - worse_impact).total_seconds()) // 60, 60)
    assert f"- time to resolve: {hours}h {mins:02d}m (from impact start" in markdown
    assert "- time to contain: - (its times are out of order" in markdown

    # Closed through the gate: no override, nothing missing.
    inc = report["incident"]
    assert (inc["status"], inc["severity"], inc["title"]) == ("closed", "SEV1", title2)
    [close] = [e for e in events if e["kind"] == "status" and e["data"]["to"] == "closed"]
    assert "override" not in close["data"] and "gaps" not in close["data"]
    assert report["closure_gaps"] == [] and report["missing_roles"] == []
    assert report["escalation"]["pending"] == []

    # The retitle, the structured impact, the corrections.
    [retitle] = report["title_history"]
    assert (retitle["text"], retitle["data"]["from"]) == (title2, title1)
    history = markdown.split("## Title history", 1)[1]
    assert title1 in history and title2 in history
    details = json.dumps(report["impact"]["details"])
    assert all(w in details for w in ("1200", "48000", "db", "api"))

    def only(kind: str) -> dict[str, Any]:
        [found] = [e for e in events if e["kind"] == kind]
        return dict(found)

    def first(kind: str, text: str) -> int:
        return min(int(e["id"]) for e in events if e["kind"] == kind and text in json.dumps(e))

    # Each correction names what it corrects, and shows under it (an unassign shows
    # among the hand-offs instead, as the report's own design says).
    for kind, corrected in (
        ("unnotify", first("notify", "Legal")),
        ("item_own", first("item_add", "scale out")),
        ("mark", 1),
        ("retitle", 1),
    ):
        fix = only(kind)
        assert fix["data"]["corrects"] == corrected, kind
        assert f"  - corrected by #{fix['id']} " in markdown, kind
    assert only("unassign")["data"]["corrects"] == first("assign", "erin")
    handoffs = markdown.split("## Roles and hand-offs", 1)[1].split("\n## ", 1)[0]
    assert "erin is no longer responder" in handoffs
    roles = {(r["role"], r["person"]) for r in report["roles"]}
    assert ("responder", "erin") not in roles and ("commander", "frank") in roles
    [step3] = [i for i in report["checklist"] if i["n"] == 3]
    assert step3["skipped"]

    verify = subprocess.run(
        [*IRCMD, "--db", str(db), "verify"],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(home),
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
