"""A private PostgreSQL server for the benches and the tests: Debian's package,
started in a directory of the caller's (initdb + pg_ctl, as the unprivileged
`postgres` user when run as root), listening on 127.0.0.1 on a free port only,
with trust authentication (nothing but this host's own processes can reach it).

    python -m bench._pg start DIR   # prints the superuser URL (.ci/run does this)
    python -m bench._pg stop DIR
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# A server the caller already runs (its superuser URL): the benches use it instead.
BENCH_ENV = "IRCMD_BENCH_PG"


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


def as_owner(argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as `postgres`."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


def start(base: Path, *, fsync: bool = False) -> str:
    """Create and start a server under `base`; its superuser URL (trust, loopback).
    The tests run without fsync; a benchmark of writes keeps it (`server`)."""
    bins = _programs()
    _own_dir(base)
    data = base / "data"
    subprocess.run(
        as_owner(
            [str(bins / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"]
        ),
        check=True,
        capture_output=True,
        cwd=base,
    )
    port = _free_port()
    _launch(bins, base, port, fsync)
    (base / "port").write_text(str(port))
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def _own_dir(base: Path) -> None:
    """`base`, made and handed to the server's user (as root: `postgres`), private."""
    base.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("running as root and there is no postgres user") from None
        os.chown(base, owner.pw_uid, owner.pw_gid)
    base.chmod(0o700)


def _launch(bins: Path, base: Path, port: int, fsync: bool) -> None:
    """Start the server whose data directory is `base/data` on `port`."""
    opts = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync={'on' if fsync else 'off'}"
        " -c max_connections=300 -c wal_level=replica -c max_wal_senders=4"
        " -c hot_standby=on -c shared_buffers=64MB"
    )
    ctl = [str(bins / "pg_ctl"), "-D", str(base / "data"), "-o", opts, "-l", str(base / "log")]
    subprocess.run(as_owner([*ctl, "-w", "start"]), check=True, capture_output=True, cwd=base)


def _programs() -> Path:
    bins = bindir()
    if bins is None:
        raise RuntimeError("no PostgreSQL server installed (Debian: apt install postgresql)")
    return bins


def restart(base: Path) -> str:
    """Start the server `start(base)` created and `stop` stopped again: the same data,
    the same port (clients reconnect to the URL they had); its superuser URL."""
    port = int((base / "port").read_text())
    _launch(_programs(), base, port, fsync=False)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def standby(primary: Path, base: Path) -> str:
    """A hot standby of the server `start(primary)` made, streaming from it, under
    `base` (stop it with `stop(base)`); its superuser URL."""
    bins = _programs()
    _own_dir(base)
    source = ["-h", "127.0.0.1", "-p", (primary / "port").read_text(), "-U", "postgres"]
    subprocess.run(
        as_owner(
            [str(bins / "pg_basebackup"), "-D", str(base / "data"), "-R", "-c", "fast", *source]
        ),
        check=True,
        capture_output=True,
        cwd=base,
    )
    port = _free_port()
    _launch(bins, base, port, fsync=False)
    (base / "port").write_text(str(port))
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def stop(base: Path, mode: str = "fast") -> None:
    bins = bindir()
    if bins is None or not (base / "data").exists():
        return
    subprocess.run(
        as_owner([str(bins / "pg_ctl"), "-D", str(base / "data"), "-m", mode, "-w", "stop"]),
        capture_output=True,
        cwd=base,
    )


@contextmanager
def server() -> Iterator[str]:
    """IRCMD_BENCH_PG's server, or a private one for the duration; its superuser URL."""
    given = os.environ.get(BENCH_ENV)
    if given:
        yield given
        return
    base = Path(tempfile.mkdtemp(prefix="ircmd-bench-pg-"))
    url = start(base, fsync=True)
    try:
        yield url
    finally:
        stop(base, mode="immediate")
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def database(admin: str) -> Iterator[str]:
    """A new empty database on the server at `admin`; its URL. Dropped after."""
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{admin.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    verb, where = sys.argv[1], Path(sys.argv[2])
    if verb == "start":
        print(start(where))
    else:
        stop(where)
