"""Deliveries: `ircmd serve` as the deliverer, a webhook receiver in this process.

Three rows:

- `deliver latency`: an update committed by a writer in this process (its own
  Store) to the signed POST arriving at the receiver (aiohttp, in this process:
  one clock for both ends). Samples are spaced by a random 700-750 ms, so each is
  an isolated commit found through its own file hint (not by the deliverer feed's
  re-checks after the hint of its own last write, 315 and 635 ms on, then 1275 ms).
  Target: p50 <= 30 ms, p95 <= 100 ms.
- `deliver burst`: 1,000 updates over 5 incidents written as fast as one writer
  can; all must arrive, in order per incident, none twice (by idempotency key).
  The figure is the time from the first commit to the last arrival.
- `deliver writer`: the writer's own latency (SyncStore, as `ircmd log` writes) for
  an update that two hooks want, against the same update with no hook routed, in
  fresh databases in the same directory, alternating rounds. Target: within 10%.

Usage: python -m bench.deliver [--samples N] [--burst N] [--writes N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from ircmd.hooks.outbox import Route, set_routes
from ircmd.models import Audience
from ircmd.store import Store
from ircmd.store.sync import SyncStore
from ircmd.store.verbs.comms import send_update
from ircmd.store.verbs.incident import declare

SECRET = "bench-secret-0123456789abcdef"
INCIDENTS = 5


def config(url: str) -> str:
    return f"""
[serve]
listen = "127.0.0.1:0"

[[hooks]]
name = "ops"
kind = "webhook"
url = "{url}"
secret = "{SECRET}"
events = ["update"]
"""


class Receiver:
    """Records (perf_counter on arrival, event id, incident, idempotency key)."""

    def __init__(self) -> None:
        self.got: list[tuple[float, int, str, str]] = []
        self.arrived = asyncio.Event()
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def handle(self, request: web.Request) -> web.Response:
        at = time.perf_counter()
        body: dict[str, Any] = await request.json()
        ev = body["event"]
        self.got.append((at, ev["id"], ev["incident"], request.headers["Idempotency-Key"]))
        self.arrived.set()
        return web.Response(text="ok")


def serve(db: Path, cfg: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "IRCMD_DB": str(db), "IRCMD_CONFIG": str(cfg), "IRCMD_USER": "bench"}
    return subprocess.Popen(
        [sys.executable, "-m", "ircmd", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def routed(db: Path) -> None:
    """Until the deliverer has written its routing (it is running)."""
    while True:
        with sqlite3.connect(db) as conn:
            if conn.execute("SELECT count(*) FROM hook_routes").fetchone()[0]:
                return
        await asyncio.sleep(0.05)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def latency_and_burst(root: Path, samples: int, burst: int) -> tuple[list[float], float]:
    receiver = Receiver()
    await receiver.start()
    db = root / "deliver.db"
    cfg = root / "config.toml"
    cfg.write_text(config(f"http://127.0.0.1:{receiver.port}/hook"))
    cfg.chmod(0o600)
    store = await Store.open(db)
    for n in range(INCIDENTS):
        await store.declare(f"incident {n + 1}", actor="bench")
    proc = serve(db, cfg)
    try:
        await asyncio.wait_for(routed(db), 30)
        await asyncio.sleep(1.0)  # its change feed's watcher is up
        lat: list[float] = []
        for i in range(samples):
            await asyncio.sleep(random.uniform(0.70, 0.75))
            receiver.arrived.clear()
            before = len(receiver.got)
            await store.send_update(1, Audience.INTERNAL, f"sample {i}", actor="bench")
            committed = time.perf_counter()
            while len(receiver.got) == before:
                await asyncio.wait_for(receiver.arrived.wait(), 30)
                receiver.arrived.clear()
            lat.append((receiver.got[-1][0] - committed) * 1000)
        receiver.got.clear()
        start = time.perf_counter()
        for i in range(burst):
            n = i % INCIDENTS + 1
            await store.send_update(n, Audience.INTERNAL, f"burst {i}", actor="bench")
        deadline = time.monotonic() + 300
        while len(receiver.got) < burst and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # a duplicate would arrive meanwhile
        took = receiver.got[-1][0] - start if receiver.got else float("inf")
        keys = [g[3] for g in receiver.got]
        in_order = all(
            [g[1] for g in receiver.got if g[2] == f"INC-{n + 1}"]
            == sorted(g[1] for g in receiver.got if g[2] == f"INC-{n + 1}")
            for n in range(INCIDENTS)
        )
        ok = len(receiver.got) == burst and len(set(keys)) == burst and in_order
        print(
            f"deliver burst | {burst} updates over {INCIDENTS} incidents in {took:.2f} s"
            f" ({burst / took:.0f}/s) | - | - | all, in order, once:"
            f" {'yes' if ok else 'NO'} ({len(receiver.got)} arrived,"
            f" {len(set(keys))} distinct, in order {in_order})",
            flush=True,
        )
        return lat, took
    finally:
        proc.terminate()
        proc.wait(30)
        await store.close()
        await receiver.stop()


def writer(root: Path, writes: int, rounds: int) -> tuple[float, float]:
    """Median ms per update with two hooks routed, and with none."""
    timings: dict[bool, list[float]] = {True: [], False: []}
    stores = {}
    for hooked in (True, False):
        store = SyncStore.open(root / f"writer-{hooked}.db")
        store.run(declare, "writer", actor="bench")
        if hooked:
            hooks = [Route("ops", "webhook", ("update",)), Route("chat", "slack", ("update",))]
            store.run(set_routes, hooks, [])
        stores[hooked] = store
    try:
        for r in range(rounds):
            for hooked in (True, False) if r % 2 else (False, True):
                for i in range(writes):
                    t = time.perf_counter()
                    stores[hooked].run(send_update, 1, Audience.INTERNAL, f"u{i}", actor="bench")
                    timings[hooked].append((time.perf_counter() - t) * 1000)
    finally:
        for store in stores.values():
            store.close()
    return statistics.median(timings[True]), statistics.median(timings[False])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.deliver")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--writes", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lat, _ = asyncio.run(latency_and_burst(root, args.samples, args.burst))
        p50, p95 = statistics.median(lat), pct(lat, 95)
        good = p50 <= 30 and p95 <= 100
        print(
            f"deliver latency | commit -> received p50 {p50:.1f} ms, p95 {p95:.1f} ms"
            f" ({len(lat)} samples, load {load:.1f}) | - | - |"
            f" p50 <= 30 ms, p95 <= 100 ms: {'yes' if good else 'NO'}",
            flush=True,
        )
        hooked, bare = writer(root, args.writes, args.rounds)
        ratio = hooked / bare
        print(
            f"deliver writer | update with 2 hooks {hooked:.2f} ms (median)"
            f" | without {bare:.2f} ms | {ratio:.3f} | <= 1.10: {'yes' if ratio <= 1.1 else 'NO'}",
            flush=True,
        )


if __name__ == "__main__":
    main()
