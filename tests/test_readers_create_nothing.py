"""Commands that only read never create a database: a mistyped --db is an error,
not a new empty record that `verify` then calls intact."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.cli import RunCli, assert_error

READERS = [
    ("list",),
    ("show", "INC-1"),
    ("report", "INC-1"),
    ("verify",),
    ("escalation", "INC-1"),
    ("metrics", "INC-1"),
    ("actions",),
    ("evidence", "list", "INC-1"),
    ("--read-only", "list"),
]


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_a_reader_on_a_missing_database_fails_and_creates_nothing(
    args: tuple[str, ...], run_cli: RunCli, tmp_path: Path
) -> None:
    db = tmp_path / "no" / "such" / "ircmd.db"
    assert_error(run_cli(*args, db=db), str(db), "no such database")
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_a_reader_on_an_empty_file_fails_and_leaves_it_empty(
    args: tuple[str, ...], run_cli: RunCli, tmp_path: Path
) -> None:
    db = tmp_path / "ircmd.db"
    db.touch()
    assert_error(run_cli(*args, db=db), str(db), "is empty")
    assert db.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "ircmd.db"]
