"""`ircmd migrate` of a 100,000-event SQLite record to PostgreSQL: events per second.

The record is seeded by `bench.seed` (50 incidents; INC-1 holds the bulk of the
notes). The figure is the whole `ircmd migrate --from FILE --to URL` process, from
start to exit: the source's integrity check and chain walk, the COPY of the events,
the replayed projections, the commit and `verify` on the target. The baseline, in
the same run, on the same server: the same event rows read from the file and
COPY'd into a bare table with no check, no replay and no verify, which is as fast
as these rows can reach the server from Python.

The server is IRCMD_BENCH_PG's (a superuser URL), or a private one started for the
run (`bench._pg`). Target: >= 5,000 events/s.

Usage: python -m bench.migrate [--events N]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._pg import database, server
from bench.seed import build
from ircmd.store.record import EVENT_COLUMNS

TARGET = 5000.0
INCIDENTS = 50


def raw_copy(db: Path, url: str) -> float:
    """Seconds to COPY the file's event rows into a bare table, nothing else."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE events (id bigint PRIMARY KEY, incident_id bigint, occurred_at text,"
            " recorded_at text, actor text, kind text, text text, data text, prev_hash text,"
            " hash text)"
        )
        start = time.perf_counter()
        src = sqlite3.connect(db)
        try:
            rows = src.execute(f"SELECT {EVENT_COLUMNS} FROM events ORDER BY id")
            with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy(f"COPY events ({EVENT_COLUMNS}) FROM STDIN") as copy,
            ):
                while chunk := rows.fetchmany(2000):
                    for row in chunk:
                        copy.write_row(row)
        finally:
            src.close()
        return time.perf_counter() - start


def run_migrate(db: Path, url: str, home: Path) -> tuple[float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRCMD_")}
    env |= {"HOME": str(home), "XDG_STATE_HOME": str(home / "state"), "IRCMD_USER": "bench"}
    start = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "ircmd", "migrate", "--from", str(db), "--to", url],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"ircmd migrate failed: {r.stderr.strip()}")
    return took, r.stdout.splitlines()[0]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.migrate")
    p.add_argument("--events", type=int, default=100_000)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ircmd-bench-") as tmp:
        root = Path(tmp)
        db = root / "big.db"
        build(db, incidents=INCIDENTS, big_events=a.events - 2 * INCIDENTS + 1)
        home = root / "home"
        home.mkdir()
        with server() as admin:
            with database(admin) as url:
                raw_s = raw_copy(db, url)
            with database(admin) as url:
                took, said = run_migrate(db, url, home)
    n = int(said.split()[1])
    rate, raw_rate = n / took, n / raw_s
    ok = "ok" if rate >= TARGET and said.split("; ")[1] == "chain intact" else "MISSED"
    print(
        f"migrate {n // 1000}k events | {rate:,.0f} events/s ({took:.1f} s, verified)"
        f" | raw COPY {raw_rate:,.0f}/s ({raw_s:.1f} s) | {rate / raw_rate:.2f}"
        f" | >= {TARGET:,.0f}/s {ok}",
        flush=True,
    )


if __name__ == "__main__":
    main()
