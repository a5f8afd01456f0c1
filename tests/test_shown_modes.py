"""The record's files are created private, whatever the umask. Issue 9 §4.

0600 files in 0700 directories; 0660 and 0770 inside a setgid (team) directory.
SQLite's -wal and -shm follow the main file's mode, so they are checked while a
connection holds them open, in a child process with its own umask.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.cli import RunCli, assert_ok

# Opens the database with the Store under the given umask, writes, and reports the
# mode of each file while the connection (and so -wal and -shm) is still open.
CHILD = """
import asyncio, json, os, stat, sys
from pathlib import Path
from ircmd.models import Severity
from ircmd.store import Store

os.umask(int(sys.argv[2], 8))
db = Path(sys.argv[1])

async def main():
    async with await Store.open(db) as store:
        await store.declare("outage", actor="alice", severity=Severity.SEV3)
        await store.backup(db.parent / "backups" / "copy.db")
        files = [db, Path(f"{db}-wal"), Path(f"{db}-shm"), db.parent, db.parent / "backups",
                 db.parent / "backups" / "copy.db"]
        print(json.dumps({f.name: stat.S_IMODE(f.stat().st_mode) for f in files}))

asyncio.run(main())
"""


def modes_in_child(db: Path, umask: int) -> dict[str, int]:
    r = subprocess.run(
        [sys.executable, "-c", CHILD, str(db), f"{umask:o}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    modes: dict[str, int] = json.loads(r.stdout)
    return modes


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o002], ids=lambda u: f"umask{u:03o}")
def test_database_wal_shm_backup_and_directories_are_private(tmp_path: Path, umask: int) -> None:
    db = tmp_path / "new" / "dir" / "ircmd.db"
    modes = modes_in_child(db, umask)
    assert modes == {
        "ircmd.db": 0o600,
        "ircmd.db-wal": 0o600,
        "ircmd.db-shm": 0o600,
        "dir": 0o700,
        "backups": 0o700,
        "copy.db": 0o600,
    }
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700  # parents too


@pytest.mark.parametrize("umask", [0o000, 0o077], ids=lambda u: f"umask{u:03o}")
def test_a_setgid_team_directory_gives_the_group_read_and_write(tmp_path: Path, umask: int) -> None:
    team = tmp_path / "srv-ircmd"
    team.mkdir()
    os.chmod(team, 0o2770)
    db = team / "records" / "ircmd.db"
    modes = modes_in_child(db, umask)
    assert modes == {
        "ircmd.db": 0o660,
        "ircmd.db-wal": 0o660,
        "ircmd.db-shm": 0o660,
        "records": 0o2770,
        "backups": 0o2770,
        "copy.db": 0o660,
    }
    assert db.stat().st_gid == team.stat().st_gid


def test_an_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    db = tmp_path / "ircmd.db"
    modes_in_child(db, 0o022)
    os.chmod(db, 0o640)  # the administrator's choice
    os.remove(tmp_path / "backups" / "copy.db")
    assert modes_in_child(db, 0o022)["ircmd.db"] == 0o640


def test_the_default_data_directory_is_private(run_cli: RunCli, tmp_path: Path) -> None:
    """No --db, no IRCMD_DB: platformdirs' data directory (under XDG_DATA_HOME here)."""
    assert_ok(run_cli("declare", "outage", "--severity", "SEV3", db=None))
    data = tmp_path / "home" / "data"
    db = data / "ircmd" / "ircmd.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
