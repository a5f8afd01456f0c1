"""A real PostgreSQL server for the tests: Debian's package, started in a temporary
directory (initdb + pg_ctl, as the unprivileged `postgres` user when run as root),
listening on 127.0.0.1 on a private port only.

`.ci/run` starts one with `python -m helpers.pg start DIR` and exports its URL as
IRCMD_TEST_PG; when that is not set, the test session starts its own
(conftest.pytest_configure) and stops it at the end. Each test that asks for the
PostgreSQL backend gets a database of its own (`fresh_database`), dropped after.

Run as a script:
    python tests/helpers/pg.py start DIR   # prints the superuser URL
    python tests/helpers/pg.py stop DIR
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

ENV = "IRCMD_TEST_PG"
# Set instead of ENV when no server could be started here: why not.
MISSING = "IRCMD_TEST_PG_MISSING"


def bindir() -> Path | None:
    """The newest installed server's programs (Debian keeps them off PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _version(path: str) -> int:
    try:
        return int(Path(path).parts[-3])
    except ValueError:
        return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as `postgres`."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


def start(base: Path) -> str:
    """Create and start a server under `base`; its superuser URL (trust, loopback)."""
    bins = bindir()
    if bins is None:
        raise RuntimeError("no PostgreSQL server installed (Debian: apt install postgresql)")
    base.mkdir(parents=True, exist_ok=True)
    data = base / "data"
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("running as root and there is no postgres user") from None
        os.chown(base, owner.pw_uid, owner.pw_gid)
    base.chmod(0o700)
    subprocess.run(
        _as_owner(
            [str(bins / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"]
        ),
        check=True,
        capture_output=True,
        cwd=base,
    )
    port = _free_port()
    opts = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        " -c max_connections=300 -c wal_level=replica -c max_wal_senders=4"
        " -c hot_standby=on -c shared_buffers=64MB"
    )
    log = ["-l", str(base / "log")]
    subprocess.run(
        _as_owner([str(bins / "pg_ctl"), "-D", str(data), "-o", opts, *log, "-w", "start"]),
        check=True,
        capture_output=True,
        cwd=base,
    )
    (base / "port").write_text(str(port))
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def stop(base: Path, mode: str = "fast") -> None:
    bins = bindir()
    if bins is None or not (base / "data").exists():
        return
    subprocess.run(
        _as_owner([str(bins / "pg_ctl"), "-D", str(base / "data"), "-m", mode, "-w", "stop"]),
        capture_output=True,
        cwd=base,
    )


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead."""
    head, _, _ = url.rpartition("/")
    return f"{head}/{name}"


def fresh_database(admin_url: str) -> str:
    """A new empty database on the server; its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return with_database(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    import psycopg

    name = url.rpartition("/")[2]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    verb, where = sys.argv[1], Path(sys.argv[2])
    if verb == "start":
        print(start(where))
    else:
        stop(where)
