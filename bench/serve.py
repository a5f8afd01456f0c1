"""`ircmd serve` under alert load, against a minimal aiohttp handler.

Two rows:

- `serve storm`: one Alertmanager POST carrying 100 alerts of a new group (it opens
  an incident, applies its playbook and records 100 alert events in one
  transaction), from sending to the answer; the worst of `--storms` POSTs is held
  to <= 200 ms.
- `serve singles`: `--posts` single-alert POSTs (distinct fingerprints, one group)
  from `--clients` concurrent clients, against the same POSTs to a minimal aiohttp
  handler that appends one row to SQLite per request (same pragmas: WAL,
  synchronous=FULL, one BEGIN IMMEDIATE ... COMMIT each). serve must reach half the
  baseline's rate, record every alert, and its chain must verify.

Both servers are real processes on 127.0.0.1; the clients are aiohttp in this one.
Usage: python -m bench.serve [--posts N] [--clients N] [--storms N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

TARGET_RATIO = 0.5
TARGET_STORM_MS = 200.0
TOKEN = "bench-token-0123456789abcdef"
CONFIG = f"""
[ingest.sources.am]
format = "alertmanager"
token = "{TOKEN}"

[[ingest.routes]]
match = {{ team = "payments" }}
severity = "SEV2"
type = "outage"
group_by = ["alertname", "service"]
"""

# The baseline: what any HTTP-to-SQLite service pays, and nothing more.
MINIMAL = r"""
import sqlite3, sys
from aiohttp import web

conn = sqlite3.connect(sys.argv[1], isolation_level=None, check_same_thread=False)
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("PRAGMA synchronous=FULL")
conn.execute("CREATE TABLE IF NOT EXISTS hits (id INTEGER PRIMARY KEY, body TEXT)")

async def hit(request):
    body = await request.text()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO hits (body) VALUES (?)", (body,))
    conn.execute("COMMIT")
    return web.json_response({"ok": True})

async def main():
    app = web.Application()
    app.router.add_post("/ingest/am", hit)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    print(f"listening on http://{host}:{port}", flush=True)
    await asyncio.Event().wait()

import asyncio
asyncio.run(main())
"""


def alert(fp: str, service: str) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": "HighErrorRate", "service": service, "team": "payments"},
        "annotations": {"summary": f"5xx rate high on {service}"},
        "startsAt": "2026-12-01T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": fp,
    }


def payload(*alerts: dict[str, Any]) -> bytes:
    return json.dumps({"version": "4", "status": "firing", "alerts": list(alerts)}).encode()


class Server:
    """A server process that prints `... listening on URL` once bound."""

    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        # serve's log (a JSON line per POST) is not what is measured here.
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            raise SystemExit(f"serve bench: server did not start: {line!r}")
        self.url = line.split("listening on ", 1)[1].strip()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


async def _post(session: aiohttp.ClientSession, url: str, body: bytes) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with session.post(url, data=body, headers=headers) as r:
        if r.status != 200:
            raise SystemExit(f"serve bench: {r.status} {await r.text()}")
        await r.read()


async def singles(url: str, posts: int, clients: int) -> float:
    """Seconds for `posts` single-alert POSTs from `clients` concurrent clients."""
    bodies = [payload(alert(f"fp{i:05}", "checkout")) for i in range(posts)]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)

    async def client() -> None:
        async with aiohttp.ClientSession() as session:
            while not queue.empty():
                await _post(session, f"{url}/ingest/am", queue.get_nowait())

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - start


async def storms(url: str, count: int) -> list[float]:
    """Seconds per POST of 100 alerts, each of a new group (so each opens an incident)."""
    took = []
    async with aiohttp.ClientSession() as session:
        for n in range(count):
            body = payload(*(alert(f"s{n}-{i}", f"svc{n}") for i in range(100)))
            start = time.perf_counter()
            await _post(session, f"{url}/ingest/am", body)
            took.append(time.perf_counter() - start)
    return took


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(sql).fetchone()[0])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.serve")
    p.add_argument("--posts", type=int, default=5000)
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--storms", type=int, default=20)
    a = p.parse_args(argv)
    ircmd = [sys.executable, "-m", "ircmd"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = root / "config.toml"
        config.write_text(CONFIG)
        config.chmod(0o600)
        env = dict(os.environ, HOME=str(root), XDG_STATE_HOME=str(root / "state"))
        env |= {"IRCMD_CONFIG": str(config), "IRCMD_USER": "bench"}

        base_db = root / "minimal.db"
        base = Server([sys.executable, "-c", MINIMAL, str(base_db)], env)
        try:
            base_s = asyncio.run(singles(base.url, a.posts, a.clients))
        finally:
            base.stop()
        base_rows = _count(base_db, "SELECT count(*) FROM hits")

        singles_db, storm_db = root / "singles.db", root / "storm.db"
        serve = Server([*ircmd, "--db", str(singles_db), "serve", "--listen", "127.0.0.1:0"], env)
        try:
            serve_s = asyncio.run(singles(serve.url, a.posts, a.clients))
        finally:
            serve.stop()
        serve = Server([*ircmd, "--db", str(storm_db), "serve", "--listen", "127.0.0.1:0"], env)
        try:
            storm = asyncio.run(storms(serve.url, a.storms))
        finally:
            serve.stop()

        recorded = _count(singles_db, "SELECT count(*) FROM events WHERE kind = 'alert'")
        stormed = _count(storm_db, "SELECT count(*) FROM events WHERE kind = 'alert'")
        verify = subprocess.run(
            [*ircmd, "--db", str(singles_db), "verify"], env=env, capture_output=True, text=True
        )
    lost = a.posts - recorded
    ok = "verified" if verify.returncode == 0 else "VERIFY FAILED"
    serve_rate, base_rate = a.posts / serve_s, a.posts / base_s
    worst, median = max(storm) * 1000, sorted(storm)[len(storm) // 2] * 1000
    print(
        f"serve storm (100 alerts/POST, {a.storms} POSTs) | worst {worst:.0f} ms, median"
        f" {median:.0f} ms ({a.storms * 100 - stormed} lost) | - | - | <= {TARGET_STORM_MS:g} ms"
        f" {'ok' if worst <= TARGET_STORM_MS and stormed == a.storms * 100 else 'MISSED'}",
        flush=True,
    )
    ratio = serve_rate / base_rate
    print(
        f"serve singles {a.posts} POSTs x{a.clients} clients | {serve_rate:.0f}/s ({lost} lost,"
        f" {ok}) | minimal aiohttp+sqlite3 {base_rate:.0f}/s ({a.posts - base_rows} lost) |"
        f" {ratio:.2f} | >= {TARGET_RATIO}, 0 lost"
        f" {'ok' if ratio >= TARGET_RATIO and lost == 0 and verify.returncode == 0 else 'MISSED'}",
        flush=True,
    )


if __name__ == "__main__":
    main()
