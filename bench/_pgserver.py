"""A throwaway PostgreSQL server for the PostgreSQL benchmarks, or the one named by
IRCMD_BENCH_PG (a superuser URL): either way each benchmark gets a database of its own.

    with pg_database() as url:   # None when there is no server and none can be started
        ...
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENV = "IRCMD_BENCH_PG"


def _pg_bin(name: str) -> str | None:
    """A server program: Debian keeps them in /usr/lib/postgresql/N/bin, off PATH."""
    found = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4])
    )
    return found[-1] if found else shutil.which(name)


@contextmanager
def _server() -> Iterator[str]:
    """initdb + pg_ctl in a temporary directory on a free loopback port (as the
    `postgres` user when running as root); stopped and removed on exit."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise RuntimeError("no PostgreSQL server installed")
    owner: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="ircmd-bench-pg-"))
    if os.geteuid() == 0:
        owner = ["runuser", "-u", "postgres", "--"]
        shutil.chown(base, "postgres", "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = base / "data"
    try:
        subprocess.run(
            [*owner, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
            check=True,
            capture_output=True,
        )
        opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [*owner, pg_ctl, "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start"],
            check=True,
            capture_output=True,
        )
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                [*owner, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def pg_database() -> Iterator[str | None]:
    """A new empty database (dropped after) on IRCMD_BENCH_PG or a private server;
    None when neither is to be had."""
    import psycopg

    with _admin() as admin:
        if admin is None:
            yield None
            return
        name = f"bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        try:
            yield f"{admin.rpartition('/')[0]}/{name}"
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def _admin() -> Iterator[str | None]:
    url = os.environ.get(ENV)
    if url:
        yield url
        return
    try:
        server = _server()
        admin = server.__enter__()
    except (RuntimeError, OSError, subprocess.CalledProcessError):
        yield None
        return
    try:
        yield admin
    finally:
        server.__exit__(None, None, None)
