"""Wall time of a one-shot `ircmd log` process against `python -c pass`.

Median of N runs each, alternating, against one database prepared beforehand.
`ircmd log` imports neither Textual, asyncio/aiosqlite nor pydantic
(tests/test_core_imports.py): it writes through the synchronous SyncStore and builds
no model, so its cost is the interpreter plus click and one committed write.

Row: cli_start | ircmd log median | python -c pass median | ratio | target (100 ms).
Usage: python -m bench.cli_start [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ircmd.store import Store

TARGET_MS = 100.0  # issue 10: a one-shot `ircmd log` in at most 100 ms


def _ircmd() -> list[str]:
    script = Path(sys.executable).with_name("ircmd")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ircmd"]


async def _prepare(db: Path) -> None:
    async with await Store.open(db) as store:
        await store.declare("bench", actor="bench")


def _time(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(runs: int, where: Path) -> tuple[float, float]:
    db = where / "cli.db"
    asyncio.run(_prepare(db))
    env = dict(os.environ, IRCMD_DB=str(db), IRCMD_USER="bench", HOME=str(where))
    env.pop("IRCMD_READ_ONLY", None)
    log = [*_ircmd(), "log", "INC-1", "bench entry"]
    bare = [sys.executable, "-c", "pass"]
    _time(log, env), _time(bare, env)  # warm the page cache
    ircmd_t, python_t = [], []
    for _ in range(runs):
        ircmd_t.append(_time(log, env))
        python_t.append(_time(bare, env))
    return statistics.median(ircmd_t), statistics.median(python_t)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.cli_start")
    p.add_argument("--runs", type=int, default=11)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        ircmd_s, python_s = measure(a.runs, Path(tmp))
    print(
        f"cli_start (ircmd log, median of {a.runs}) | {ircmd_s * 1000:.0f} ms"
        f" | python -c pass {python_s * 1000:.0f} ms | {ircmd_s / python_s:.1f}x"
        f" | <= {TARGET_MS:g} ms {'ok' if ircmd_s * 1000 <= TARGET_MS else 'MISSED'}",
        flush=True,
    )


if __name__ == "__main__":
    main()
