"""A writer killed with SIGKILL mid-stream, again and again, on the same database.

The writer prints each event id only after `Store.log` has returned (committed),
and flushes; whatever it printed must survive the kill. After every round the
database opens, `PRAGMA integrity_check` says ok and the chain verifies.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from helpers.cli import clean_env

from ircmd.store import Store

ROUNDS = 20

WRITER = r"""
import asyncio, sys
from ircmd.store import Store

async def main(db, tag):
    store = await Store.open(db)
    print("ready", flush=True)
    i = 0
    while True:
        ev = await store.log("INC-1", f"{tag} {i} " + "x" * (i % 300), actor="writer")
        sys.stdout.write(f"{ev.id}\n")
        sys.stdout.flush()
        i += 1

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def _declare(db: Path) -> None:
    async with await Store.open(db) as store:
        await store.declare("crash test", actor="setup")


async def _check(db: Path) -> tuple[bool, str, set[int]]:
    async with await Store.open(db) as store:  # read-write: opening must work after a crash
        result = await store.verify()
        ids = {e.id for e in await store.events("INC-1")}
    return result.ok, result.message, ids


def test_sigkill_mid_stream_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    asyncio.run(_declare(db))
    rng = random.Random(1234)
    acknowledged: set[int] = set()
    env = clean_env(tmp_path)
    for round_no in range(ROUNDS):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), f"r{round_no}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n", proc.stderr.read() if proc.stderr else ""
        first = proc.stdout.readline()  # at least one write has returned
        assert first.strip().isdigit(), first
        time.sleep(rng.uniform(0.0, 0.15))  # then die at an arbitrary point
        os.kill(proc.pid, signal.SIGKILL)
        rest, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, err
        lines = (first + rest).decode().split("\n")
        # The last line may be cut by the kill; only complete lines were acknowledged.
        complete = [int(x) for x in lines[:-1]]
        assert complete, "the writer acknowledged nothing"
        acknowledged.update(complete)

        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        ok, message, present = asyncio.run(_check(db))
        assert ok, f"round {round_no}: {message}"
        missing = acknowledged - present
        assert not missing, f"round {round_no}: acknowledged but lost: {sorted(missing)[:10]}"
    assert len(acknowledged) > ROUNDS
