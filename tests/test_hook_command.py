"""The command hook, with real scripts: its input, its environment, what its exit
status means, and a timeout that leaves nothing running."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from pydantic import ValidationError

from ircmd.hooks import command
from ircmd.hooks.base import Delivery
from ircmd.settings import Hook

PAYLOAD: dict[str, Any] = {
    "hook": "pager",
    "event": {"id": 7, "kind": "update", "incident": "INC-3", "text": "rolled back"},
    "incident": {"ref": "INC-3", "title": "Checkout errors", "severity": "SEV2"},
    "address": None,
}


def delivery() -> Delivery:
    return Delivery(1, "pager", 7, "evkey-pager", PAYLOAD, 1)


def script(tmp_path: Path, body: str, name: str = "hook") -> Path:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\nimport json, os, sys, time, subprocess\n{body}\n")
    path.chmod(0o755)
    return path


def hook(*argv: str | Path, **kw: Any) -> Hook:
    return Hook(name="pager", kind="command", command=tuple(map(str, argv)), **kw)


async def test_exit_0_is_sent_and_the_payload_is_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "got.json"
    prog = script(tmp_path, f"open({str(out)!r}, 'w').write(sys.stdin.read())")
    outcome = await command.send(hook(prog), delivery())
    assert (outcome.ok, outcome.retry, outcome.status) == (True, False, "exit 0")
    assert json.loads(out.read_text()) == PAYLOAD


async def test_arguments_are_argv_never_a_shell(tmp_path: Path) -> None:
    out = tmp_path / "argv.json"
    prog = script(tmp_path, f"open({str(out)!r}, 'w').write(json.dumps(sys.argv[1:]))")
    outcome = await command.send(hook(prog, "$(touch pwned)", "a b;c"), delivery())
    assert outcome.ok
    assert json.loads(out.read_text()) == ["$(touch pwned)", "a b;c"]
    assert not (tmp_path / "pwned").exists()


async def test_environment_is_minimal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GH_TOKEN", "ghp_secret_token_value")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "also-secret")
    monkeypatch.setenv("SSH_AUTH_SOCK", "/tmp/agent.sock")
    monkeypatch.setenv("IRCMD_LOCK_USER", "mallory")
    monkeypatch.setenv("IRCMD_DB", str(tmp_path / "ircmd.db"))
    monkeypatch.setenv("LANG", "C.UTF-8")
    out = tmp_path / "env.json"
    prog = script(tmp_path, f"open({str(out)!r}, 'w').write(json.dumps(dict(os.environ)))")

    assert (await command.send(hook(prog), delivery())).ok
    env = json.loads(out.read_text())
    assert env["IRCMD_HOOK"] == "pager"
    assert env["IRCMD_IDEMPOTENCY_KEY"] == "evkey-pager"
    assert env["IRCMD_DB"] == str(tmp_path / "ircmd.db")
    assert env["PATH"] == os.environ["PATH"] and env["LANG"] == "C.UTF-8"
    allowed = {*command.PASSED, "IRCMD_HOOK", "IRCMD_IDEMPOTENCY_KEY"}
    # The interpreter may add a few of its own (LC_CTYPE); nothing of the caller's.
    leaked = {k for k in env if k not in allowed} - {"LC_CTYPE"}
    assert not leaked

    # A variable the hook names is passed on: the one way to hand it a token.
    assert (await command.send(hook(prog, pass_env=("GH_TOKEN",)), delivery())).ok
    env = json.loads(out.read_text())
    assert env["GH_TOKEN"] == "ghp_secret_token_value"
    assert "AWS_SECRET_ACCESS_KEY" not in env


async def test_the_record_of_the_delivery_wins_over_the_deliverers_ircmd_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ircmd deliver --db B` with IRCMD_DB=A in its environment: a command that
    records back (gh-issue's `action link`) must write to B, where the event is."""
    monkeypatch.setenv("IRCMD_DB", str(tmp_path / "other.db"))
    out = tmp_path / "env.json"
    prog = script(tmp_path, f"open({str(out)!r}, 'w').write(json.dumps(dict(os.environ)))")
    here = str(tmp_path / "record.db")
    assert (await command.send(hook(prog), dataclasses.replace(delivery(), record=here))).ok
    assert json.loads(out.read_text())["IRCMD_DB"] == here


async def test_exit_75_is_retried(tmp_path: Path) -> None:
    prog = script(tmp_path, "print('queue full, later', file=sys.stderr); sys.exit(75)")
    outcome = await command.send(hook(prog), delivery())
    assert (outcome.ok, outcome.retry, outcome.status) == (False, True, "exit 75")
    assert outcome.reason == "queue full, later"


async def test_other_exit_is_permanent_with_the_last_line_of_stderr(tmp_path: Path) -> None:
    prog = script(
        tmp_path,
        "sys.stdin.read()\n"
        "print('Traceback (most recent call last):', file=sys.stderr)\n"
        "print('  lots of detail', file=sys.stderr)\n"
        "print('   no such repository:\\x1b[31m acme/web  \\n\\n', file=sys.stderr)\n"
        "sys.exit(3)",
    )
    outcome = await command.send(hook(prog), delivery())
    assert (outcome.ok, outcome.retry, outcome.status) == (False, False, "exit 3")
    assert outcome.reason == "no such repository:␛[31m acme/web"


async def test_a_pass_env_secret_in_the_reason_is_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reason goes on the record for good: a command that echoes the token it was
    handed must not put it there. A short value (a region) is no secret and stays."""
    monkeypatch.setenv("GH_TOKEN", "ghp_secret_token_value")
    monkeypatch.setenv("REGION", "eu")
    prog = script(
        tmp_path,
        "import os\n"
        "print(f\"auth failed for token={os.environ['GH_TOKEN']} in {os.environ['REGION']}\","
        " file=sys.stderr)\n"
        "sys.exit(2)",
    )
    outcome = await command.send(hook(prog, pass_env=("GH_TOKEN", "REGION")), delivery())
    assert (outcome.ok, outcome.status) == (False, "exit 2")
    assert outcome.reason == "auth failed for token=[hidden] in eu"


async def test_a_chatty_command_keeps_only_the_tail(tmp_path: Path) -> None:
    prog = script(
        tmp_path,
        "for i in range(20000): print('noise line', i, file=sys.stderr)\n"
        "print('x' * 500, file=sys.stderr)\nsys.exit(1)",
    )
    outcome = await command.send(hook(prog), delivery())
    assert outcome.status == "exit 1"
    assert outcome.reason.startswith("xxx") and len(outcome.reason) <= 200


async def test_a_command_that_ignores_its_input_is_sent(tmp_path: Path) -> None:
    big = dict(PAYLOAD, event=dict(PAYLOAD["event"], text="y" * 1_000_000))
    prog = script(tmp_path, "sys.exit(0)")
    outcome = await command.send(hook(prog), Delivery(1, "pager", 7, "k", big, 1))
    assert outcome.ok


async def test_missing_executable_is_permanent(tmp_path: Path) -> None:
    outcome = await command.send(hook(tmp_path / "nope"), delivery())
    assert (outcome.ok, outcome.retry, outcome.status) == (False, False, "missing")
    assert outcome.reason == f"{tmp_path / 'nope'}: no such executable"

    plain = tmp_path / "plain"
    plain.write_text("not a program")
    outcome = await command.send(hook(plain), delivery())
    assert (outcome.ok, outcome.retry, outcome.status) == (False, False, "not executable")


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def test_timeout_kills_the_whole_group_and_is_retried(tmp_path: Path) -> None:
    # The timeout must outlast the script's start (an interpreter, a child) up to the
    # pids file, which appears whole (written, then renamed), on a loaded machine too.
    pids = tmp_path / "pids"
    prog = script(
        tmp_path,
        "child = subprocess.Popen(['sleep', '300'])\n"
        f"open({str(pids)!r} + '.tmp', 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
        f"os.rename({str(pids)!r} + '.tmp', {str(pids)!r})\n"
        "time.sleep(300)",
    )
    outcome = await command.send(hook(prog, timeout=5.0), delivery())
    assert (outcome.ok, outcome.retry, outcome.status) == (False, True, "timeout")
    assert outcome.reason == f"{prog} ran past 5 s"
    assert pids.exists(), "the script had not started its child within the 5 s"
    parent, child = map(int, pids.read_text().split())
    # The script itself was reaped by us; its child, orphaned, is reaped by init.
    assert not psutil.pid_exists(parent) or _gone(parent)
    deadline = time.monotonic() + 10
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child)
    assert not [p for p in psutil.Process().children() if p.status() == psutil.STATUS_ZOMBIE]


async def test_a_deliverer_stopping_leaves_nothing_running(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    prog = script(
        tmp_path,
        "child = subprocess.Popen(['sleep', '300'])\n"
        f"open({str(pids)!r} + '.tmp', 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
        f"os.rename({str(pids)!r} + '.tmp', {str(pids)!r})\n"
        "time.sleep(300)",
    )
    task = asyncio.create_task(command.send(hook(prog, timeout=300), delivery()))
    while not pids.exists():
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    parent, child = map(int, pids.read_text().split())
    assert not psutil.pid_exists(parent) or _gone(parent)
    deadline = time.monotonic() + 10
    while not _gone(child) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert _gone(child)


async def test_killed_by_a_signal_is_permanent(tmp_path: Path) -> None:
    prog = script(tmp_path, "import signal; os.kill(os.getpid(), signal.SIGKILL)")
    outcome = await command.send(hook(prog), delivery())
    assert (outcome.ok, outcome.retry, outcome.status) == (False, False, "signal 9")


def test_pass_env_names_only_variables() -> None:
    assert hook("x", pass_env=["GH_TOKEN", "_X1"]).pass_env == ("GH_TOKEN", "_X1")
    for bad in ("GH TOKEN", "1X", "A=B", ""):
        with pytest.raises(ValidationError):
            hook("x", pass_env=[bad])
