"""Evidence hashing refuses what has no end or no bytes, at once and in one line."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from helpers.cli import RunCli, assert_error, assert_ok, event_count

from ircmd.hashing import sha256_of
from ircmd.models import InvalidInput


def test_a_regular_file_is_hashed(tmp_path: Path) -> None:
    f = tmp_path / "auth.log"
    f.write_bytes(b"x" * 3_000_000)
    assert sha256_of(f) == (hashlib.sha256(b"x" * 3_000_000).hexdigest(), "auth.log")


@pytest.mark.parametrize("kind", ["device", "fifo", "directory"])
def test_what_is_not_a_regular_file_is_refused_without_reading(tmp_path: Path, kind: str) -> None:
    if kind == "device":
        target = Path("/dev/zero")  # endless: reading it would never finish
    elif kind == "fifo":
        target = tmp_path / "pipe"
        os.mkfifo(target)  # no writer: a plain open() would block for good
    else:
        target = tmp_path
    with pytest.raises(InvalidInput, match=r"not a regular file|a directory"):
        sha256_of(target)


def test_the_cli_refuses_a_device_or_fifo_as_evidence(
    run_cli: RunCli, db_path: Path, tmp_path: Path
) -> None:
    assert_ok(run_cli("declare", "Breach", "--severity", "SEV1"))
    before = event_count(db_path)
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    for target in ("/dev/zero", str(pipe)):
        r = run_cli("evidence", "add", "INC-1", "disk image", "--file", target, timeout=20)
        assert_error(r, f"cannot hash {target}", "not a regular file")
    r = run_cli("evidence", "add", "INC-1", "disk image", "--file", str(tmp_path))
    assert_error(r, "is a directory")
    assert event_count(db_path) == before
