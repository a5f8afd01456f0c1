"""Run every benchmark module in bench/ (each in its own process) and print the table.

`python -m bench` runs all; `python -m bench writes cli_start` runs the named ones.
A module is a benchmark when it defines `main()`; helpers such as seed.py do not.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import bench

HEADER = "name | figure | baseline | ratio | target"


def benchmarks() -> list[str]:
    names = []
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.ispkg:
            continue
        module = importlib.import_module(f"bench.{info.name}")
        if callable(getattr(module, "main", None)):
            names.append(info.name)
    return names


def main(argv: list[str] | None = None) -> int:
    wanted = list(sys.argv[1:] if argv is None else argv)
    names = benchmarks()
    unknown = [n for n in wanted if n not in names]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(names)}")
        return 2
    root = Path(bench.__file__).resolve().parent.parent
    print(HEADER)
    print("|".join("---" for _ in HEADER.split("|")))
    failed = 0
    for name in wanted or names:
        r = subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=root, check=False)
        if r.returncode:
            failed += 1
            print(f"{name} | FAILED (exit {r.returncode}) | - | - | -", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
