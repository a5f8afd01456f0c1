"""The sha256 of an evidence file, shared by the command line and the screen."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .models import InvalidInput


def sha256_of(path: Path) -> tuple[str, str]:
    """(hex digest, file name) of a file, or InvalidInput naming why it cannot be read."""
    h = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError as e:
        raise InvalidInput(f"cannot read {path}: {e.strerror}") from None
    return h.hexdigest(), path.name
