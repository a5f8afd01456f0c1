"""The sha256 of an evidence file, shared by the command line and the screen."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from .models import InvalidInput


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
