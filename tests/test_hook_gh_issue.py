"""The shipped example hook, examples/hooks/gh-issue, run as the command hook runs it
(through `hooks.command.send`) with a fake `gh` on PATH and a real record: it opens
one issue per new action and records the link back with `ircmd action link`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from ircmd.hooks import command
from ircmd.hooks.base import Delivery, Outcome
from ircmd.jsondump import jsonable
from ircmd.models import Event, Kind
from ircmd.settings import Hook
from ircmd.store import Store

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "hooks" / "gh-issue"
URL = "https://github.com/acme/web/issues/42"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A record, a fake `gh` that logs its calls, and the environment a deliverer
    would run in: PATH with the fake gh and this environment's `ircmd`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "log = os.path.join(os.path.dirname(__file__), 'calls.jsonl')\n"
        "with open(log, 'a') as f: f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "fail = os.path.join(os.path.dirname(__file__), 'fail')\n"
        "if os.path.exists(fail):\n"
        "    code, text = open(fail).read().split(' ', 1)\n"
        "    print(text, file=sys.stderr); sys.exit(int(code))\n"
        f"print('Creating issue in acme/web\\n\\n{URL}')\n"
    )
    gh.chmod(0o755)
    home = tmp_path / "home"
    path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), "/usr/bin", "/bin"])
    monkeypatch.setenv("PATH", path)
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    db = tmp_path / "ircmd.db"
    monkeypatch.setenv("IRCMD_DB", str(db))
    return tmp_path


def calls(world: Path) -> list[list[str]]:
    log = world / "bin" / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def payload(ev: Event) -> dict[str, Any]:
    """What the outbox hands a hook (hooks/base.py's PAYLOAD shape)."""
    return {
        "hook": "gh-issues",
        "event": jsonable(ev) | {"incident": ev.incident},
        "incident": {"ref": "INC-1", "title": "Checkout errors", "severity": "SEV2"},
        "address": None,
    }


HOOK = Hook(
    name="gh-issues",
    kind="command",
    command=(str(SCRIPT), "--repo", "acme/web", "--label", "follow-up"),
    timeout=60,
)


async def deliver(ev: Event, attempt: int = 1) -> Outcome:
    return await command.send(HOOK, Delivery(9, "gh-issues", ev.id, "k-9", payload(ev), attempt))


async def record(world: Path) -> list[Event]:
    async with await Store.open(world / "ircmd.db") as s:
        await s.declare("Checkout errors", actor="alice")
        await s.add_action(1, "add a pool-exhaustion alert", actor="alice", owner="bob")
        return await s.events(1)


async def action_link(world: Path) -> tuple[str | None, list[tuple[str, str]]]:
    async with await Store.open(world / "ircmd.db") as s:
        link = (await s.actions())[0].link
        linked = [(e.actor, e.text) for e in await s.events(1) if e.kind is Kind.ACTION_LINK]
    return link, linked


async def test_a_new_action_becomes_an_issue_and_its_link_is_recorded(world: Path) -> None:
    added = next(e for e in await record(world) if e.kind is Kind.ACTION_ADD)
    outcome = await deliver(added)
    assert outcome.ok, outcome

    [call] = calls(world)
    assert call[:5] == [
        "issue",
        "create",
        "--title",
        "ACT-1: add a pool-exhaustion alert",
        "--body",
    ]
    assert call[6:] == ["--repo", "acme/web", "--label", "follow-up"]
    body = call[5]
    assert "Follow-up ACT-1 from INC-1 (SEV2): Checkout errors" in body
    assert "- owner: bob" in body and "ircmd idempotency key: k-9" in body
    # Recorded by the hook, under its own name.
    assert await action_link(world) == (URL, [("gh-issues", URL)])

    # The same delivery again (the deliverer died before recording "sent"): no
    # second issue.
    assert (await deliver(added, attempt=2)).ok
    assert len(calls(world)) == 1


async def test_other_events_open_nothing(world: Path) -> None:
    declared = next(e for e in await record(world) if e.kind is Kind.DECLARE)
    assert (await deliver(declared)).ok
    assert calls(world) == []


async def test_gh_failing_is_retried_and_not_logged_in_is_permanent(world: Path) -> None:
    added = next(e for e in await record(world) if e.kind is Kind.ACTION_ADD)
    (world / "bin" / "fail").write_text("1 error connecting to api.github.com")
    outcome = await deliver(added)
    assert (outcome.ok, outcome.retry, outcome.status) == (False, True, "exit 75")
    assert outcome.reason == "gh-issue: gh issue create failed: error connecting to api.github.com"

    (world / "bin" / "fail").write_text("4 To get started with GitHub CLI, please run: gh auth")
    outcome = await deliver(added)
    assert (outcome.ok, outcome.retry, outcome.status) == (False, False, "exit 1")
    assert "gh is not logged in" in outcome.reason
    assert await action_link(world) == (None, [])
