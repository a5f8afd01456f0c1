"""20 processes x 500 `log` entries through the Store on PostgreSQL, against a raw
psycopg loop making the same inserts with the same locking and hashing.

Both sides write to fresh databases on the same server (IRCMD_BENCH_PG, or a
private one started for the run: `bench._pg`), one transaction per entry. The raw
baseline takes the same transaction-scoped advisory lock the Store takes
(`postgres.WRITE_LOCK_KEY`), reads the chain head, hashes and INSERTs the event row
(the events table's own triggers fire for both); it checks no rule, writes no
projection and runs no asyncio. The Store also checks the incident, builds the
event, updates the incidents projection and hops to its connection's thread.

Row: pg writes | Store rate | raw rate | Store/raw | >= 0.5, 0 lost, verified.
Usage: python -m bench.pg_writes [--procs N] [--entries N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

from bench import _pg
from bench.writes import run_workers
from ircmd.store import Store

TARGET = 0.5

STORE_WORKER = r"""
import asyncio, os, sys
from ircmd.store import Store

async def main(db, name, count, go):
    store = await Store.open(db)
    try:
        open(go + "." + name, "w").close()  # ready: imported and connected
        while not os.path.exists(go):
            await asyncio.sleep(0.002)
        for i in range(count):
            await store.log("INC-1", f"{name} entry {i}", actor=name)
    finally:
        await store.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
"""

RAW_WORKER = r"""
import hashlib, json, os, sys, time
from datetime import UTC, datetime
import psycopg
from ircmd.store.postgres import WRITE_LOCK_KEY
db, name, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
conn = psycopg.connect(db, autocommit=True)
open(go + "." + name, "w").close()  # ready: imported and connected
while not os.path.exists(go):
    time.sleep(0.002)
for i in range(count):
    text = f"{name} entry {i}"
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    conn.execute(f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")
    last, prev = conn.execute("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
    body = json.dumps([last + 1, 1, now, now, name, "note", text, "{}"],
                      ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256((prev + "\n" + body).encode()).hexdigest()
    conn.execute(
        "INSERT INTO events (id, incident_id, occurred_at, recorded_at, actor, kind, text,"
        " data, prev_hash, hash) VALUES (%s, 1, %s, %s, %s, 'note', %s, '{}', %s, %s)",
        (last + 1, now, now, name, text, prev, digest),
    )
    conn.execute("COMMIT")
conn.close()
"""


async def _prepare(url: str) -> None:
    async with await Store.open(url) as store:
        await store.declare("bench", actor="bench")


async def _check(url: str) -> tuple[int, bool]:
    """Notes written, and whether the whole chain verifies."""
    async with await Store.open(url, read_only=True) as store:
        notes = sum(1 for e in await store.events() if e.kind.value == "note")
        return notes, (await store.verify()).ok


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.pg_writes")
    p.add_argument("--procs", type=int, default=20)
    p.add_argument("--entries", type=int, default=500)
    a = p.parse_args(argv)
    total = a.procs * a.entries
    with _pg.server() as admin, tempfile.TemporaryDirectory() as tmp:
        took = {}
        for side, worker in (("raw", RAW_WORKER), ("store", STORE_WORKER)):
            with _pg.database(admin) as url:
                asyncio.run(_prepare(url))
                go = Path(tmp) / side
                took[side] = run_workers(worker, url, a.procs, a.entries, [], dict(os.environ), go)
                notes, ok = asyncio.run(_check(url))
            if side == "raw" and notes != total:
                raise SystemExit("pg_writes: the raw run lost entries")
            if side == "store":
                lost, verified = total - notes, ok
    store_rate, raw_rate = total / took["store"], total / took["raw"]
    print(
        f"pg writes {a.procs}x{a.entries} | Store {store_rate:.0f}/s ({took['store']:.1f} s,"
        f" {lost} lost, {'verified' if verified else 'VERIFY FAILED'}) | raw psycopg"
        f" {raw_rate:.0f}/s ({took['raw']:.1f} s) | {store_rate / raw_rate:.2f}"
        f" | >= {TARGET}, 0 lost",
        flush=True,
    )


if __name__ == "__main__":
    main()
