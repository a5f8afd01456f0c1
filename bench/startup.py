"""Start to first paint: ircmd with 200 incidents and a 10,000-event incident open,
against a minimal Textual app (Header, Static, Footer), in the same run.

Both run as real processes in a pseudo-terminal (120x40); "first paint" is the
moment the terminal receives a string that only a painted screen contains: the
last timeline entry of the open incident for ircmd, the Static's text for the
minimal app. The minimal app is the fastest start a user could pick: it runs
from `python -c`, imports nothing but Textual and paints its first frame at once.
Runs alternate to share any noise; the medians are compared.
Target: ircmd <= 1.5x the minimal app.

    python -m bench.startup [--runs 11]
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

from bench.seed import build

COLS, ROWS = 120, 40
TARGET_RATIO = 1.5
BARE_TEXT = "minimal-textual-app"
# The baseline, run as `python -c`: no module of this repository is imported.
BARE_DEFS = f"""
from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static


class Minimal(App[None]):
    BINDINGS = [("ctrl+q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static({BARE_TEXT!r})
        yield Footer()
"""
BARE_APP = BARE_DEFS + "\n\nMinimal().run()\n"
# Packages the baseline must not load: it would no longer be the fastest start.
NOT_IN_BASELINE = frozenset({"bench", "ircmd", "pydantic", "pydantic_core", "aiosqlite", "click"})


def baseline_extras() -> list[str]:
    """The modules of NOT_IN_BASELINE that the baseline's code loads, run as it is
    measured (`python -c`, same interpreter); [] when it imports Textual alone."""
    probe = BARE_DEFS + "\nimport sys\nprint(*sorted(sys.modules), sep='\\n')\n"
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return sorted(m for m in r.stdout.split() if m.split(".")[0] in NOT_IN_BASELINE)


class Terminal:
    """A process on a fresh pty of COLS x ROWS, read as it writes."""

    def __init__(self, argv: list[str], home: Path, cols: int = COLS, rows: int = ROWS) -> None:
        master, slave = os.openpty()
        import fcntl

        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = {k: v for k, v in os.environ.items() if not k.startswith("IRCMD_")}
        env |= {"TERM": "xterm-256color", "HOME": str(home), "XDG_DATA_HOME": str(home / "d")}
        env.pop("NO_COLOR", None)
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.fd = master
        self.output = b""

    def read_until(self, marker: bytes, timeout: float = 30.0) -> float:
        """Seconds from `since` (default: process start) until `marker` was written."""
        deadline = time.perf_counter() + timeout
        while marker not in self.output:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError(f"{marker!r} not painted in {timeout} s")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    self.output += os.read(self.fd, 1 << 16)
                except OSError:
                    raise TimeoutError("the process closed its terminal") from None
        return time.perf_counter()

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def drain(self, quiet: float = 0.05, timeout: float = 2.0) -> None:
        """Read until nothing arrives for `quiet` seconds."""
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            ready, _, _ = select.select([self.fd], [], [], quiet)
            if not ready:
                return
            try:
                self.output += os.read(self.fd, 1 << 16)
            except OSError:
                return

    def close(self) -> None:
        """Ctrl+Q, then make sure the process is gone."""
        try:
            self.write(b"\x11")
            self.drain(timeout=1.0)
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        os.close(self.fd)


def ircmd_argv(db: Path) -> list[str]:
    script = Path(sys.executable).with_name("ircmd")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "ircmd"]
    return [*base, "--db", str(db), "--as", "alice"]


def first_paint(argv: list[str], marker: bytes, home: Path) -> float:
    term = Terminal(argv, home)
    try:
        return term.read_until(marker) - term.started
    finally:
        term.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.startup")
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args(argv)
    extras = baseline_extras()
    if extras:
        raise SystemExit(f"the baseline is not a bare Textual app: it loads {', '.join(extras)}")
    with tempfile.TemporaryDirectory(prefix="ircmd-bench-") as tmp:
        root = Path(tmp)
        db = root / "startup.db"
        build(db, incidents=200, big_events=10_000)
        home = root / "home"
        home.mkdir()
        bare_argv = [sys.executable, "-c", BARE_APP]
        ircmd_times: list[float] = []
        bare_times: list[float] = []
        for _ in range(args.runs):
            bare_times.append(first_paint(bare_argv, BARE_TEXT.encode(), home))
            ircmd_times.append(first_paint(ircmd_argv(db), b"9999: ", home))
    ours, base = statistics.median(ircmd_times), statistics.median(bare_times)
    ratio = ours / base
    verdict = "ok" if ratio <= TARGET_RATIO else "MISSED"
    print(
        f"startup (200 incidents, 10k-event incident) | {ours * 1000:.0f} ms first paint"
        f" | minimal Textual {base * 1000:.0f} ms | {ratio:.2f}x | <= {TARGET_RATIO:g}x {verdict}",
        flush=True,
    )


if __name__ == "__main__":
    main()
