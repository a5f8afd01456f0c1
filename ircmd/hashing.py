"""The sha256 of an evidence item: of a file (the command line and the screen), or of
bytes streamed on standard input (`evidence add --stdin`, the way a locked SSH session
sends an item without naming a path on the host)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .models import InvalidInput, StorageError


@dataclass(frozen=True)
class HashedFile:
    """An evidence file as registered: its digest, its name, and where it is kept
    (the location given, or else the file's own absolute path)."""

    sha256: str
    name: str
    location: str


def hash_file(path: Path, location: str = "") -> HashedFile:
    """Hash a file named for an evidence item (the command line's --file, the form's
    File field); the location defaults to where the file is."""
    digest, name = sha256_of(path)
    return HashedFile(digest, name, location.strip() or str(path.resolve()))


def sha256_of(path: Path) -> tuple[str, str]:
    """(hex digest, file name) of a file, or InvalidInput naming why it cannot be read.

    Only a regular file has an end: a device (/dev/zero) would be read forever and a
    FIFO would block, so the file is opened without blocking and checked before a
    byte is read (checking the opened file, not the name, leaves no gap for a swap).
    """
    h = hashlib.sha256()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise InvalidInput(f"cannot read {path}: {e.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        what = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise InvalidInput(f"cannot hash {path}: it is {what}; give the path of a file")
    with open(fd, "rb") as f:
        try:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        except OSError as e:
            raise InvalidInput(f"cannot read {path}: {e.strerror}") from None
    return h.hexdigest(), path.name


CHUNK = 1 << 20  # bytes read at a time: memory stays bounded however large the item


@dataclass
class Received:
    """An evidence item read from a stream: its sha256 and size, and, when the
    administrator configured an evidence directory, a private copy waiting there
    under a temporary name until the record holds the item."""

    sha256: str
    size: int
    pending: Path | None
    kept: Path | None

    def keep(self) -> None:
        """Give the copy its final name, once the item is on the record."""
        if self.pending is not None and self.kept is not None:
            try:
                os.replace(self.pending, self.kept)
            except OSError as e:
                raise StorageError(
                    f"the item is on the record, but its copy could not be kept as {self.kept}:"
                    f" {e.strerror}"
                ) from None
            self.pending = None

    def discard(self) -> None:
        """Remove a copy the record never got (the write was refused or failed)."""
        if self.pending is not None:
            with contextlib.suppress(OSError):
                self.pending.unlink(missing_ok=True)
            self.pending = None


def receive(source: BinaryIO, directory: Path | None) -> Received:
    """Read `source` to its end, hashing as it streams; with a directory, copy it there.

    The copy is created 0600 under a name the server chooses (never one the client
    gives); its final name is the digest itself, `sha256-<hex>`, so a kept file can be
    checked against its name and the record, and sending the same bytes twice keeps
    one file."""
    h = hashlib.sha256()
    size = 0
    pending = None
    try:
        with contextlib.ExitStack() as stack:
            copy: BinaryIO | None = None
            if directory is not None:
                directory.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd, name = tempfile.mkstemp(prefix=".incoming-", dir=directory)  # 0600, O_EXCL
                pending = Path(name)
                copy = stack.enter_context(open(fd, "wb"))
            for chunk in iter(lambda: source.read(CHUNK), b""):
                h.update(chunk)
                size += len(chunk)
                if copy is not None:
                    copy.write(chunk)
            if copy is not None:
                copy.flush()
                os.fsync(copy.fileno())
    except OSError as e:
        if pending is not None:
            pending.unlink(missing_ok=True)
        where = f" into {directory}" if directory is not None else ""
        raise StorageError(f"cannot receive the evidence{where}: {e.strerror}") from None
    digest = h.hexdigest()
    kept = directory / f"sha256-{digest}" if directory is not None else None
    return Received(sha256=digest, size=size, pending=pending, kept=kept)
