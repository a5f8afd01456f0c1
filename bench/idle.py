"""An idle screen: CPU and bytes written to the terminal while nothing happens.

Runs the real `ircmd --db X --as alice` in a pseudo-terminal (TERM=xterm-256color,
120x40 set with TIOCSWINSZ), on a database with one active SEV1 incident (so the header's
elapsed time and next-update countdown tick), lets it paint and settle, then measures for
60 s: the process's CPU time (psutil, user + system, all threads) and every byte it writes
to the terminal. Targets: <= 1% CPU, <= 1 KB/s.

    python -m bench.idle [--seconds 60] [--watch/--no-watch]

`--peers N` adds N other sessions' presence heartbeats (one per `--beat` seconds each)
on the same database, so the cost of other people's heartbeats waking this screen's feed
is in the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

import psutil  # type: ignore[import-untyped]

from ircmd.models import Severity
from ircmd.store.store import Store

COLS, ROWS = 120, 40
TARGET_CPU = 1.0  # percent
TARGET_BYTES = 1024.0  # per second


async def _prepare(db: Path) -> None:
    store = await Store.open(db)
    await store.declare("Idle bench", actor="alice", severity=Severity.SEV1)
    await store.log("INC-1", "nothing happens from here on", actor="alice")
    await store.close()


def _ircmd() -> list[str]:
    script = Path(sys.executable).with_name("ircmd")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ircmd"]


def _spawn(db: Path, home: Path) -> tuple[int, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRCMD_")}
    env |= {
        "TERM": "xterm-256color",
        "COLUMNS": str(COLS),
        "LINES": str(ROWS),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
    }
    env.pop("NO_COLOR", None)
    env.pop("TEXTUAL", None)
    pid, fd = pty.fork()
    if pid == 0:  # child: the pty is already our controlling terminal
        os.execvpe(_ircmd()[0], [*_ircmd(), "--db", str(db), "--as", "alice"], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    os.kill(pid, signal.SIGWINCH)
    return pid, fd


def _drain(fd: int, seconds: float, per_second: list[int] | None = None) -> int:
    """Read everything the screen writes for `seconds`; return the byte count."""
    total = 0
    start = time.monotonic()
    end = start + seconds
    while (left := end - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child exited (EIO)
            raise RuntimeError("the screen exited during the measurement") from None
        if not chunk:
            raise RuntimeError("the screen closed its terminal")
        total += len(chunk)
        if per_second is not None:
            second = int(time.monotonic() - start)
            while len(per_second) <= second:
                per_second.append(0)
            per_second[second] += len(chunk)
    return total


_PEER = """
import asyncio, sys
from ircmd.store.store import Store
async def main(db, n, beat):
    store = await Store.open(db)
    while True:
        for i in range(n):
            await store.heartbeat(f"peer-{i}", 1, f"peer{i}", "bench")
        await asyncio.sleep(beat)
asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
"""


def measure(seconds: float, peers: int, beat: float) -> dict[str, float | list[int]]:
    with tempfile.TemporaryDirectory(prefix="ircmd-idle-") as tmp:
        db = Path(tmp) / "idle.db"
        home = Path(tmp) / "home"
        home.mkdir()
        asyncio.run(_prepare(db))
        pid, fd = _spawn(db, home)
        peer = None
        try:
            painted = _drain(fd, 5.0)  # first paint, and let it settle
            if painted < 500:
                raise RuntimeError(f"the screen wrote only {painted} bytes in 5 s")
            if peers:
                import subprocess

                peer = subprocess.Popen(
                    [sys.executable, "-c", _PEER, str(db), str(peers), str(beat)]
                )
            proc = psutil.Process(pid)
            c0 = proc.cpu_times()
            t0 = time.monotonic()
            per_second: list[int] = []
            written = _drain(fd, seconds, per_second)
            c1 = proc.cpu_times()
            elapsed = time.monotonic() - t0
        finally:
            if peer is not None:
                peer.kill()
                peer.wait()
            os.kill(pid, signal.SIGTERM)
            with contextlib.suppress(RuntimeError):
                _drain(fd, 0.5)
            os.waitpid(pid, 0)
            os.close(fd)
    cpu = (c1.user + c1.system - c0.user - c0.system) / elapsed * 100
    return {
        "cpu": cpu,
        "bytes_per_s": written / elapsed,
        "first_paint": float(painted),
        "per_second": per_second,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.idle")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--peers", type=int, default=0, help="other sessions heartbeating")
    ap.add_argument("--beat", type=float, default=10.0, help="their heartbeat period (s)")
    ap.add_argument("-v", "--verbose", action="store_true", help="bytes per second too")
    args = ap.parse_args(argv)
    r = measure(args.seconds, args.peers, args.beat)
    cpu, bps = float(r["cpu"]), float(r["bytes_per_s"])  # type: ignore[arg-type]
    ok = cpu <= TARGET_CPU and bps <= TARGET_BYTES
    peers = f", {args.peers} peers beating every {args.beat:g} s" if args.peers else ""
    print(
        f"idle ({COLS}x{ROWS}, {args.seconds:g} s{peers}) | CPU {cpu:.2f}%, {bps:.0f} B/s to the"
        f" terminal | - | - | <= 1% CPU, <= 1 KB/s {'ok' if ok else 'MISSED'}",
        flush=True,
    )
    if args.verbose:
        print("bytes per second:", r["per_second"])


if __name__ == "__main__":
    main()
