"""Commit in one process -> drawn on another screen, on PostgreSQL (LISTEN/NOTIFY).

The measurement of `bench.latency --to app` on a PostgreSQL database on loopback:
process A commits timeline entries through its own PgStore, one at a time; process B
runs the real IrcmdApp headless, whose feed LISTENs on the record's channel, and
timestamps each entry when its Timeline first renders the row. A sample is the time
from A's COMMIT returning to that render. Baseline: the same screen with the LISTEN
off, so only the feed's one-second safety poll brings the entry.

The server is IRCMD_BENCH_PG (a superuser URL) or, without it, a private one started
for the run (`bench._pg`); either way a database of the run's own, dropped after.
Target: p50 <= 30 ms, p95 <= 60 ms.

    python -m bench.latency_pg [--samples 200] [--baseline-samples 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics

from bench._pg import database, server
from bench.latency import TARGET, _fmt, _pct, _prepare, measure
from ircmd.store.feed import DEFAULT_DEBOUNCE_MS, DEFAULT_STEP_MS


async def run(url: str, samples: int, baseline: int) -> tuple[list[float], list[float]]:
    await _prepare(url)
    listen = await measure(url, "app", DEFAULT_STEP_MS, DEFAULT_DEBOUNCE_MS, samples)
    polled = await measure(url, "app", DEFAULT_STEP_MS, DEFAULT_DEBOUNCE_MS, baseline, watch=False)
    return listen, polled


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.latency_pg")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--baseline-samples", type=int, default=30)
    args = ap.parse_args(argv)
    with server() as admin, database(admin) as url:
        listen, polled = asyncio.run(run(url, args.samples, args.baseline_samples))
    ok = statistics.median(listen) <= 30 and _pct(listen, 95) <= 60
    ratio = statistics.median(listen) / statistics.median(polled)
    print(
        f"latency_pg (commit -> another screen's timeline via LISTEN/NOTIFY, loopback,"
        f" n={len(listen)}, load {os.getloadavg()[0]:.1f}) | {_fmt(listen)}"
        f" | poll only (1 s), n={len(polled)}: {_fmt(polled)} | {ratio:.2f}x p50"
        f" | {TARGET} {'ok' if ok else 'MISSED'}",
        flush=True,
    )


if __name__ == "__main__":
    main()
