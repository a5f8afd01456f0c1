"""A locked identity (IRCMD_LOCK_USER, set by an SSH forced command): the session acts
only as that person, only on the administrator's database, and the client's own SSH
command line (SSH_ORIGINAL_COMMAND) is read as ircmd arguments, never run by a shell.

The same setup through a real sshd is in tests/e2e/test_ssh.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import RunCli, assert_error, assert_ok, event_count

from ircmd.config import resolve
from ircmd.models import InvalidInput


@pytest.fixture
def locked(run_cli: RunCli, db_path: Path) -> RunCli:
    """INC-1 declared by alice; then a runner for a session locked to bob."""
    assert_ok(run_cli("declare", "Checkout failing", "--severity", "SEV2"))

    def run(
        *args: str, ssh: str | None = None, env: dict[str, str] | None = None, **kw: object
    ) -> subprocess.CompletedProcess[str]:
        env = {"IRCMD_LOCK_USER": "bob"} | (env or {})
        if ssh is not None:
            env["SSH_ORIGINAL_COMMAND"] = ssh
        kw.setdefault("user", None)
        return run_cli(*args, env=env, **kw)

    return run


def actors(run_cli: RunCli) -> list[tuple[str, str]]:
    shown = json.loads(assert_ok(run_cli("show", "INC-1", "--json")))
    return [(e["actor"], e["text"]) for e in shown["events"]]


def test_the_lock_names_the_actor_even_when_the_os_account_is_shared(
    locked: RunCli, run_cli: RunCli
) -> None:
    assert_ok(locked("log", "INC-1", "as the locked user"))
    assert_ok(locked("--as", "bob", "log", "INC-1", "naming myself is fine"))
    assert actors(run_cli)[-2:] == [("bob", "as the locked user"), ("bob", "naming myself is fine")]


def test_impersonation_is_refused_and_writes_nothing(
    locked: RunCli, run_cli: RunCli, db_path: Path
) -> None:
    before = event_count(db_path)
    assert_error(locked("--as", "mallory", "log", "INC-1", "x"), "locked to user 'bob'", "mallory")
    assert_error(
        locked("log", "INC-1", "x", env={"IRCMD_LOCK_USER": "bob", "IRCMD_USER": "mallory"}),
        "mallory",
    )
    assert event_count(db_path) == before


def test_a_locked_session_cannot_swap_the_record_or_write_files(
    locked: RunCli, tmp_path: Path
) -> None:
    other = tmp_path / "other.db"
    assert_error(locked("--db", str(other), "list"), "--db refused")
    assert_error(locked("--playbooks", str(tmp_path), "playbooks"), "--playbooks refused")
    copy = tmp_path / "copy.db"
    assert_error(locked("backup", str(copy)), "backup refused")
    assert not other.exists() and not copy.exists()


def test_the_ssh_command_line_becomes_the_arguments(locked: RunCli, run_cli: RunCli) -> None:
    assert assert_ok(locked(ssh="ircmd log INC-1 'quoted, with spaces'")) == "#2\n"
    assert_ok(locked(ssh="log INC-1 --stdin", input="one\ntwo\n"))
    assert actors(run_cli)[-3:] == [
        ("bob", "quoted, with spaces"),
        ("bob", "one"),
        ("bob", "two"),
    ]
    assert_error(locked(ssh="ircmd --as mallory log INC-1 x"), "locked to user 'bob'")


def test_the_ssh_command_line_is_never_given_to_a_shell(
    locked: RunCli, run_cli: RunCli, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    marker.write_text("still here")
    assert_ok(locked(ssh=f"log INC-1 x; rm {marker}"))
    assert_ok(locked(ssh=f'log INC-1 "$(rm {marker})"'))
    assert_ok(locked(ssh="log INC-1 we can't reach the db"))  # ssh's joined words: unbalanced
    assert marker.read_text() == "still here"
    assert [text for _, text in actors(run_cli)[-3:]] == [
        f"x; rm {marker}",  # words, logged literally
        f"$(rm {marker})",
        "we can't reach the db",
    ]


def test_without_a_lock_the_ssh_command_is_ignored(run_cli: RunCli, db_path: Path) -> None:
    assert_ok(run_cli("declare", "t", "--severity", "SEV3"))
    r = run_cli("list", env={"SSH_ORIGINAL_COMMAND": "log INC-1 sneaky"})
    assert "INC-1" in assert_ok(r)
    assert event_count(db_path) == 1


def test_resolve_applies_the_lock() -> None:
    env = {"IRCMD_LOCK_USER": "bob", "IRCMD_DB": "/srv/ir.db"}
    cfg = resolve(env=env)
    assert (cfg.user, cfg.user_locked, str(cfg.db)) == ("bob", True, "/srv/ir.db")
    assert resolve(user="bob", env=env).user == "bob"
    with pytest.raises(InvalidInput, match="locked"):
        resolve(user="eve", env=env)
    with pytest.raises(InvalidInput, match="--db refused"):
        resolve(db="/tmp/mine.db", env=env)
    assert not resolve(user="eve", env={"IRCMD_DB": "/x"}).user_locked


def test_an_empty_as_is_refused_not_replaced_by_the_os_user(run_cli: RunCli, db_path: Path) -> None:
    assert_ok(run_cli("declare", "t", "--severity", "SEV3"))
    assert_error(run_cli("--as", "", "log", "INC-1", "x"), "--as needs a name")
    assert_error(run_cli("--as", "  ", "log", "INC-1", "x"), "--as needs a name")
    assert event_count(db_path) == 1
