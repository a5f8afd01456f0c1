"""The `ircmd` command line as a real process, for every test that runs it.

Every subprocess gets a clean environment: no IRCMD_* from the caller, and HOME /
XDG dirs under a directory of the test's, so no test reads or writes the real
user's data or config. `ircmd()` is the one runner; `Cli` is the same runner
bound to one directory, for tests that run many commands as different people.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCRIPT = Path(sys.executable).with_name("ircmd")
# The console script of this interpreter's environment, else the module.
IRCMD: list[str] = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "ircmd"]

RunCli = Callable[..., subprocess.CompletedProcess[str]]

# Exec argv[1:] with no capability at all: every one dropped from the bounding set
# (root's capabilities after exec), the ambient and inheritable sets cleared, and
# no_new_privs set so no setuid program brings any back. Root ignores file modes
# through CAP_DAC_OVERRIDE; without it file modes bind it as they bind any owner.
_NO_CAPABILITIES = """
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def check(result, what):
    if result != 0:
        sys.exit(what + ": " + os.strerror(ctypes.get_errno()))
cap = 0
while libc.prctl(24, cap, 0, 0, 0) == 0:  # PR_CAPBSET_DROP, up to the last one known
    cap += 1
if cap == 0 or ctypes.get_errno() != errno.EINVAL:
    sys.exit("PR_CAPBSET_DROP: " + os.strerror(ctypes.get_errno()))
check(libc.prctl(47, 4, 0, 0, 0), "PR_CAP_AMBIENT_CLEAR_ALL")
header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
data = (ctypes.c_uint32 * 6)()  # (effective, permitted, inheritable) x 2
check(libc.capget(header, data), "capget")
data[2] = data[5] = 0
check(libc.capset(header, data), "capset")
check(libc.prctl(38, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
os.execv(sys.argv[1], sys.argv[1:])
"""

#: A command prefix that runs a program without privilege: as root (CI), with no
#: capability (see above); as anyone else, nothing is needed.
UNPRIVILEGED: list[str] = [sys.executable, "-c", _NO_CAPABILITIES] if os.geteuid() == 0 else []


def clean_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """os.environ without IRCMD_*, with HOME and the XDG dirs under `home` (the state
    dir too: the default anchor log lives there)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRCMD_")}
    env |= {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_STATE_HOME": str(home / "state"),
        "PYTHONUNBUFFERED": "1",
    }
    env |= dict(extra or {})
    return env


def ircmd(
    *args: str,
    db: Path | str | None,
    home: Path,
    user: str | None = "alice",
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    unprivileged: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run `ircmd ARGS` with IRCMD_DB / IRCMD_USER set (None leaves them unset);
    `unprivileged`: through UNPRIVILEGED, so file modes bind it even as root."""
    extra: dict[str, str] = {}
    if db is not None:
        extra["IRCMD_DB"] = str(db)
    if user is not None:
        extra["IRCMD_USER"] = user
    extra |= dict(env or {})
    return subprocess.run(
        [*(UNPRIVILEGED if unprivileged else []), *IRCMD, *args],
        env=clean_env(home, extra),
        input=input,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        stdin=subprocess.DEVNULL if input is None else None,
    )


def assert_ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    assert "Traceback" not in r.stderr
    return r.stdout


def assert_error(r: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exactly one line `ircmd: error: ...` on stderr, non-zero exit, no traceback."""
    assert r.returncode != 0, f"expected failure, got exit 0; stdout: {r.stdout!r}"
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    lines = r.stderr.splitlines()
    assert len(lines) == 1, f"expected one error line, got: {r.stderr!r}"
    assert lines[0].startswith("ircmd: error: "), lines[0]
    for needle in needles:
        assert needle.lower() in lines[0].lower(), f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def event_count(db: Path | str) -> int:
    """The number of events in the record, on either backend."""
    from helpers import db as records

    return records.event_count(db)


@dataclass
class Run:
    """One finished command: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    """`ircmd` on `root/ircmd.db` (or on `db`: a path or a PostgreSQL URL) with HOME
    and the XDG dirs under `root` (the config directory is `root/config/ircmd`), as
    alice unless told otherwise."""

    def __init__(self, root: Path, db: Path | str | None = None) -> None:
        self.root = root
        self.db: Path | str = root / "ircmd.db" if db is None else db
        self.config = root / "config"

    def __call__(self, *args: str, user: str = "alice", **kw: Any) -> Run:
        p = ircmd(*args, db=self.db, home=self.root, user=user, **kw)
        return Run(p.returncode, p.stdout, p.stderr)

    def ok(self, *args: str, user: str = "alice", **kw: Any) -> Run:
        r = self(*args, user=user, **kw)
        assert r.code == 0, r.err
        return r

    def fails(self, *args: str, user: str = "alice", says: str = "") -> str:
        """Run a command that must fail with one clean error line; return that line."""
        r = self(*args, user=user)
        assert r.code != 0, f"{args} succeeded: {r.out}"
        assert "Traceback" not in r.err
        lines = r.err.splitlines()
        assert len(lines) == 1, f"{args}: expected one stderr line, got {r.err!r}"
        assert lines[0].startswith("ircmd: error: "), lines[0]
        assert says.lower() in lines[0].lower(), f"{says!r} not in {lines[0]!r}"
        return lines[0]

    def user_config(self) -> Path:
        d = self.config / "ircmd"
        d.mkdir(parents=True, exist_ok=True)
        return d


def files_under(root: Path) -> dict[str, str]:
    """Every file and symlink under root: its sha256 (or link target), to compare
    a directory byte for byte before and after an attempt."""
    found = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            found[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            found[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return found
