"""20 real processes writing 500 entries each into one database at the same moment,
on a SQLite file and on a PostgreSQL database.

Nothing may be lost, no writer may see an error, and the hash chain must verify.
Timing is printed (run with -s to see it), never asserted: targets live in bench/.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from helpers import db as records
from helpers import pg
from helpers.cli import IRCMD, clean_env
from helpers.db import Ref

from ircmd.store import Store

WRITERS = 20
ENTRIES = 500

WORKER = r"""
import asyncio, sys
from ircmd.store import Store

async def main(db, name, count, go):
    # A long lock timeout: with 19 others committing (each an fsync) on a loaded CI box,
    # one writer can wait more than the default 5 s for its turn. The point here is
    # that nothing is lost and nobody fails while they take turns, not how fast.
    store = await Store.open(db, timeout=120)
    print("ready", flush=True)
    try:
        while not __import__("os").path.exists(go):  # start together
            await asyncio.sleep(0.005)
        for i in range(count):
            ev = await store.log("INC-1", f"{name} entry {i}", actor=name)
            print(ev.id)
    finally:
        await store.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
"""


async def _declare(db: Ref) -> None:
    async with await Store.open(db) as store:
        await store.declare("load test", actor="setup")


async def _verify(db: Ref) -> tuple[bool, str]:
    async with await Store.open(db, read_only=True) as store:
        result = await store.verify()
    return result.ok, result.message


def test_twenty_processes_five_hundred_entries_each(tmp_path: Path, db_ref: Ref) -> None:
    db = db_ref
    asyncio.run(_declare(db))
    go = tmp_path / "go"
    env = clean_env(tmp_path)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(db), f"w{k:02d}", str(ENTRIES), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for k in range(WRITERS)
    ]
    for p in procs:  # every interpreter has imported and opened the store
        assert p.stdout is not None
        assert p.stdout.readline() == "ready\n", p.stderr.read() if p.stderr else ""
    start = time.perf_counter()
    go.touch()
    results = [p.communicate(timeout=240) for p in procs]
    elapsed = time.perf_counter() - start

    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
        assert err == "", err
        assert len(out.split()) == ENTRIES
    ids = [int(x) for out, _ in results for x in out.split()]
    assert len(set(ids)) == WRITERS * ENTRIES  # every returned id distinct

    rows = records.rows(db, "SELECT id, actor, text FROM events WHERE kind = 'note' ORDER BY id")
    assert len(rows) == WRITERS * ENTRIES
    assert {r[0] for r in rows} == set(ids)
    for k in range(WRITERS):
        mine = [r[2] for r in rows if r[1] == f"w{k:02d}"]
        assert mine == [f"w{k:02d} entry {i}" for i in range(ENTRIES)]  # in order, none lost

    ok, message = asyncio.run(_verify(db))
    assert ok, message
    assert f"{WRITERS * ENTRIES + 1} events" in message
    rate = WRITERS * ENTRIES / elapsed
    where = "PostgreSQL" if records.is_pg(db) else "SQLite"
    print(
        f"\n{WRITERS}x{ENTRIES} entries through the Store on {where}: {elapsed:.1f} s ({rate:.0f}/s)"
    )


def test_processes_creating_the_database_at_once_all_open_it(tmp_path: Path, db_ref: Ref) -> None:
    """Three screens started together on a new file (the long-incident test found it):
    one creates the schema while the others look. Read apart, the version (still 0)
    and the tables (just committed) made a late reader call it not an ircmd database.
    On PostgreSQL: a new empty database each round, its schema created under the lock."""
    home = tmp_path / "home"
    home.mkdir()
    admin = os.environ[pg.ENV] if records.is_pg(db_ref) else ""
    made: list[str] = []
    try:
        for round_ in range(12):  # the window is narrow: several rounds to meet it
            if admin:
                made.append(pg.fresh_database(admin))
            _create_together(home, made[-1] if admin else tmp_path / f"new-{round_}.db")
    finally:
        for url in made:
            pg.drop_database(admin, url)


def _create_together(home: Path, db: Ref) -> None:
    """Four `declare`s at once on a record that does not exist yet: all land."""
    procs = [
        subprocess.Popen(
            [*IRCMD, "--db", str(db), "--as", f"u{i}", "declare", f"from u{i}"],
            env=clean_env(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    assert all(code == 0 for code, _ in results), results
    assert records.scalar(db, "SELECT count(*) FROM incidents") == 4
