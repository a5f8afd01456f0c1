"""Opening a 100,000-event incident: time to first paint, peak RSS, PageUp latency.

ircmd runs as a real process in a pseudo-terminal (120x40) on a database whose
INC-1 holds 100,000 notes. Figures: seconds from process start until the newest
entry is painted (target <= 1 s), the process's peak RSS over the whole run
(target <= 250 MB), and the median time from writing a PageUp key to the
terminal receiving the whole repaint, once the whole history is loaded (target <= 50 ms).

    python -m bench.timeline [--events 100000] [--presses 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import select
import statistics
import tempfile
import time
from pathlib import Path

from bench.seed import build
from bench.startup import Terminal, ircmd_argv

PAGE_UP = b"\x1b[5~"
ESCAPE = b"\x1b"
TARGET_OPEN = 1.0
TARGET_RSS_MB = 250.0
TARGET_KEY_MS = 50.0


def key_latency(term: Terminal, key: bytes, gap: float = 0.02) -> float:
    """Seconds from writing `key` until the last byte of its repaint (the burst of
    output that ends with `gap` seconds of silence)."""
    term.drain(quiet=0.1)
    start = time.perf_counter()
    term.write(key)
    last = None
    timeout = 2.0
    while True:
        ready, _, _ = select.select([term.fd], [], [], timeout)
        if not ready:
            break
        term.output += os.read(term.fd, 1 << 16)
        last = time.perf_counter()
        timeout = gap
    if last is None:
        raise TimeoutError("no repaint within 2 s of the key")
    return last - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.timeline")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--presses", type=int, default=20)
    parser.add_argument(
        "--history-wait",
        type=float,
        default=6.0,
        help="seconds to let the older events load before the PageUps",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ircmd-bench-") as tmp:
        root = Path(tmp)
        db = root / "big.db"
        build(db, incidents=3, big_events=args.events)
        home = root / "home"
        home.mkdir()
        term = Terminal(ircmd_argv(db), home)
        try:
            opened = term.read_until(f"{args.events - 1}: ".encode()) - term.started
            time.sleep(args.history_wait)
            term.drain()
            term.write(ESCAPE)  # from the entry bar to the timeline
            time.sleep(0.5)
            presses = [key_latency(term, PAGE_UP) for _ in range(args.presses)]
        finally:
            term.close()
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    key_ms = statistics.median(presses) * 1000
    ok = opened <= TARGET_OPEN and peak_mb <= TARGET_RSS_MB and key_ms <= TARGET_KEY_MS
    print(
        f"open {args.events // 1000}k-event incident | {opened * 1000:.0f} ms to first paint,"
        f" peak RSS {peak_mb:.0f} MB, PageUp {key_ms:.1f} ms (p-max {max(presses) * 1000:.1f})"
        f" | - | - | <= {TARGET_OPEN * 1000:.0f} ms, <= {TARGET_RSS_MB:.0f} MB,"
        f" <= {TARGET_KEY_MS:.0f} ms {'ok' if ok else 'MISSED'}",
        flush=True,
    )


if __name__ == "__main__":
    main()
