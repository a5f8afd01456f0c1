"""Files of the record are created private: the database, its directory, backups.

A new database or backup is 0600 in a directory of 0700: the record holds names,
evidence and decisions that other accounts on the host have no business reading.
The shared-host setup (README) gives a team one group-owned directory with the
setgid bit; there files are 0660 and new directories 0770, so the team's group
can work on them and nobody else can. SQLite creates `-wal` and `-shm` with the
permission bits of the main file, so they follow it.

Modes are set explicitly (fchmod/chmod after creating), never left to the
process's umask, which mkdir and open both apply.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700
TEAM_FILE, TEAM_DIR = 0o660, 0o770 | stat.S_ISGID


def team_directory(directory: Path) -> bool:
    """A directory set up for a team: setgid, so what is created in it is the group's."""
    try:
        return bool(directory.stat().st_mode & stat.S_ISGID)
    except OSError:
        return False


def make_dirs(directory: Path) -> None:
    """Create `directory` and any missing parents: 0700 each, or 0770 (setgid) inside
    a team directory. Directories that already exist are left as they are."""
    missing: list[Path] = []
    d = directory
    while not d.exists() and d != d.parent:
        missing.append(d)
        d = d.parent
    for d in reversed(missing):
        mode = TEAM_DIR if team_directory(d.parent) else PRIVATE_DIR
        try:
            d.mkdir(mode=mode)
        except FileExistsError:  # another process made it first: theirs stands
            continue
        os.chmod(d, mode)


def create_file(path: Path) -> None:
    """Create `path` empty, 0600 (0660 in a team directory), unless something is
    already there (an existing file keeps the mode its owner gave it). Errors (a
    read-only directory, no permission) are raised as OSError for the caller."""
    mode = TEAM_FILE if team_directory(path.parent) else PRIVATE_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
