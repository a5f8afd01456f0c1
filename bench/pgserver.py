"""A PostgreSQL server for the benchmarks: IRCMD_BENCH_PG's, or a private one.

The private server is Debian's `postgresql` package run by hand: `initdb` into a
temporary directory (as the `postgres` user when run as root: the server refuses
root), then `pg_ctl start` on 127.0.0.1 and a free port, trusting loopback logins.
Settings are the package's defaults but for `fsync`, which stays on: a benchmark
of writes should pay for them. Each benchmark gets a new database (`database`).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENV = "IRCMD_BENCH_PG"


def _major(initdb: str) -> int:
    version = Path(initdb).parts[-3]
    return int(version) if version.isdigit() else 0


def _programs() -> Path:
    """Where initdb and pg_ctl are: Debian keeps them in /usr/lib/postgresql/N/bin."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise SystemExit(f"no PostgreSQL server installed: apt install postgresql, or set {ENV}")
    return Path(initdb).parent


def _run(argv: list[str], cwd: Path) -> None:
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    subprocess.run(argv, check=True, capture_output=True, cwd=cwd)


@contextmanager
def server() -> Iterator[str]:
    """The superuser URL of IRCMD_BENCH_PG's server, or of a private one started for
    the duration of the block and stopped after."""
    given = os.environ.get(ENV)
    if given:
        yield given
        return
    bins = _programs()
    with tempfile.TemporaryDirectory(prefix="ircmd-bench-pg-") as tmp:
        base = Path(tmp)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(base, owner.pw_uid, owner.pw_gid)
        data = base / "data"
        _run([str(bins / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"], base)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1"
        log = str(base / "log")
        _run([str(bins / "pg_ctl"), "-D", str(data), "-o", opts, "-l", log, "-w", "start"], base)
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            _run([str(bins / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], base)


@contextmanager
def database(admin: str) -> Iterator[str]:
    """A new empty database on the server at `admin`, dropped after."""
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{admin.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
