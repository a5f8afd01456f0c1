"""`ircmd restore`: put a verified backup in place of the live database.

Replacing the file by hand is unsafe: a process that has the database open keeps
writing through its open handle into the file that was moved away, and SQLite's
-wal and -shm beside the path belong to the old file. Here the backup is checked
and copied first, then, holding the write lock so no writer is mid-transaction,
the old file and its -wal/-shm are moved aside (kept, never deleted) and the copy
is renamed into place. Writers still running then fail their file check
(`tx.still_at_path`) instead of writing to the file moved aside.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ..models import InvalidInput, RuleViolation, StorageError
from . import presence, private
from .connection import check_exists, sqlite_errors
from .record import ts
from .store import PRESENCE_TIMEOUT, Clock, Store, utc_now
from .tx import Tx


@dataclass(frozen=True)
class Restored:
    events: int  # in the backup, now the record
    aside: Path | None  # where the previous database was moved (None: there was none)


async def restore_backup(
    db: Path, backup: Path, *, force: bool, timeout: float, clock: Clock = utc_now
) -> Restored:
    """Verify `backup`, then put a copy of it at `db` (see the module's docstring)."""
    db, backup = db.expanduser(), backup.expanduser()
    if db.exists() and backup.exists() and os.path.samefile(db, backup):
        raise InvalidInput(f"{backup} is the database itself")
    stamp = clock().strftime("%Y%m%dT%H%M%SZ")
    tmp = db.parent / f".{db.name}.restoring-{stamp}"
    try:
        check_exists(backup)
        db.parent.mkdir(parents=True, exist_ok=True)
        with sqlite_errors(backup, timeout):
            private.create_file(tmp)  # 0600 (0660 in a team directory), whatever the umask
            _copy(backup, tmp)
        try:
            # Read-write: a backup from an older ircmd is migrated, in the copy only.
            async with await Store.open(tmp, must_exist=True, timeout=timeout) as copy:
                result = await copy.verify()
                # Sessions seen in the backup are not sessions of the restored record.
                await copy._run(presence.clear)
        except StorageError as e:
            raise StorageError(str(e).replace(str(tmp), str(backup))) from None
        if not result.ok:
            raise StorageError(f"{backup} fails verification ({result.message}): nothing restored")
        _fsync(tmp)
        if not db.exists():
            _install(tmp, db)
            return Restored(result.events, None)
        live = await Store.open(db, must_exist=True, timeout=timeout, clock=clock)
        async with live:
            # Inside a write transaction: no writer is mid-transaction while the
            # files move, and every later one fails its file check.
            aside = await live._run(_swap, tmp, db, stamp, force=force)
        return Restored(result.events, aside)
    except OSError as e:
        raise StorageError(f"restore failed: {e.strerror}: {e.filename}") from None
    finally:
        with suppress(FileNotFoundError):
            tmp.unlink()  # gone already once installed


def _swap(tx: Tx, tmp: Path, db: Path, stamp: str, *, force: bool) -> Path:
    """Refuse while other sessions are open (unless forced), then move the live
    database aside and install the copy; returns where the old one went."""
    who = presence.people(tx, ts(tx.clock() - PRESENCE_TIMEOUT))
    if who and not force:
        raise RuleViolation(
            f"{db} is open in other sessions ({', '.join(who)}); close them first,"
            " or restore with --force (their later writes are refused)"
        )
    _same_access(db, tmp)
    aside = _move_aside(db, stamp)
    _install(tmp, db)
    return aside


def _same_access(live: Path, copy: Path) -> None:
    """The restored record is readable by exactly whom the live one was: its mode and
    group (an administrator may have opened it to a team)."""
    st = live.stat()
    os.chmod(copy, stat.S_IMODE(st.st_mode))
    with suppress(PermissionError):
        os.chown(copy, -1, st.st_gid)


def _copy(src: Path, dest: Path) -> None:
    """SQLite's online backup from a read-only handle: a consistent copy that
    includes what a -wal beside the backup holds, and leaves the backup as it was."""
    source = sqlite3.connect(f"file:{quote(str(src.resolve()))}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(dest)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()


def _move_aside(db: Path, stamp: str) -> Path:
    """Keep the old database as `<db>.before-restore-<stamp>`, with its -wal and
    -shm renamed to match, so that it opens as it was (`--db` that name).

    The main file gets a second name (a hard link) rather than a rename, so the
    path never goes missing and no process opening it in between creates an
    empty record there; `_install` then replaces the path in one rename.
    """
    aside = db.with_name(f"{db.name}.before-restore-{stamp}")
    if aside.exists():
        raise StorageError(f"{aside} already exists; try again in a second")
    try:
        os.link(db, aside)
    except OSError:
        os.rename(db, aside)  # a filesystem without hard links: a short gap instead
    for suffix in ("-wal", "-shm"):
        with suppress(FileNotFoundError):
            os.rename(f"{db}{suffix}", f"{aside}{suffix}")
    return aside


def _install(tmp: Path, db: Path) -> None:
    """Rename the checked copy into place and make the rename durable."""
    os.replace(tmp, db)
    _fsync(db.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
