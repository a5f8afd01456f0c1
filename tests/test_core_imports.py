"""The core and the one-shot CLI never import Textual (so `ircmd log` starts fast)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CORE = [
    "ircmd.models",
    "ircmd.rules",
    "ircmd.entry",
    "ircmd.report",
    "ircmd.display",
    "ircmd.config",
    "ircmd.store",
    "ircmd.store.schema",
    "ircmd.store.record",
    "ircmd.store.projections",
    "ircmd.store.store",
    "ircmd.store.feed",
    "ircmd.escalation",
    "ircmd.playbooks",
    "ircmd.anchor",
    "ircmd.session",
]


def _loaded(code: str, packages: tuple[str, ...]) -> list[str]:
    """The modules of `packages` that running `code` in a fresh interpreter loads."""
    probe = (
        code
        + "\nimport json, sys\n"
        + f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {packages!r})))"
    )
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    loaded: list[str] = json.loads(r.stdout.splitlines()[-1])  # the probe's last line
    return loaded


def _loaded_textual(code: str) -> list[str]:
    return _loaded(code, ("textual",))


@pytest.mark.parametrize("module", CORE)
def test_core_module_does_not_import_textual(module: str) -> None:
    assert _loaded_textual(f"import {module}") == []


def test_cli_module_does_not_import_textual() -> None:
    assert _loaded_textual("import ircmd.cli") == []


def test_log_command_path_does_not_import_textual(tmp_path: Path) -> None:
    """Run a real `ircmd log` in-process and look at sys.modules afterwards."""
    code = f"""
import os, sys
os.environ["IRCMD_DB"] = {str(tmp_path)!r} + "/t.db"
os.environ["IRCMD_USER"] = "alice"
from ircmd.cli import main
for argv in (["ircmd", "declare", "x"], ["ircmd", "log", "INC-1", "hello"], ["ircmd", "show", "INC-1"]):
    sys.argv = argv
    try:
        main()
    except SystemExit as e:
        assert e.code in (0, None), e.code
"""
    assert _loaded_textual(code) == []


# A one-shot `ircmd log INC-n TEXT` writes through SyncStore: no event loop, no thread.
ASYNC = ("asyncio", "aiosqlite")


def test_cli_module_does_not_import_asyncio() -> None:
    assert _loaded("import ircmd.cli", ASYNC) == []


def _one_shot(tmp_path: Path, argv: list[str], packages: tuple[str, ...]) -> list[str]:
    """The modules of `packages` that one command, run in a fresh process on the
    database (and anchor log) in `tmp_path`, loads."""
    code = f"""
import os, sys
os.environ["IRCMD_DB"] = {str(tmp_path)!r} + "/t.db"
os.environ["IRCMD_USER"] = "alice"
os.environ["IRCMD_ANCHOR_LOG"] = {str(tmp_path)!r} + "/anchors/log.jsonl"
from ircmd.cli import main
sys.argv = {argv!r}
try:
    main()
except SystemExit as e:
    assert e.code in (0, None), e.code
"""
    return _loaded(code, packages)


def test_one_shot_log_does_not_import_asyncio(tmp_path: Path) -> None:
    """`declare` prepares the record (it runs on the async Store); a fresh process
    then logs one entry, and neither asyncio nor aiosqlite was loaded."""
    assert "asyncio" in _one_shot(tmp_path, ["ircmd", "declare", "x"], ASYNC)
    assert _one_shot(tmp_path, ["ircmd", "log", "INC-1", "hello"], ASYNC) == []


PYDANTIC = ("pydantic", "pydantic_core")


def test_one_shot_log_does_not_import_pydantic(tmp_path: Path) -> None:
    """Importing pydantic alone is half of `ircmd log`'s start-up: the one-shot log
    builds no model, not even to check the newest anchor on opening."""
    _one_shot(tmp_path, ["ircmd", "declare", "x"], PYDANTIC)
    # The probe sees pydantic where it is used: the JSON of a record is pydantic's.
    assert "pydantic" in _one_shot(tmp_path, ["ircmd", "show", "INC-1", "--json"], PYDANTIC)
    _one_shot(tmp_path, ["ircmd", "anchor"], PYDANTIC)
    assert (tmp_path / "anchors" / "log.jsonl").read_text().count("head_hash") == 1
    assert _one_shot(tmp_path, ["ircmd", "log", "INC-1", "hello"], PYDANTIC) == []


def test_probe_can_see_textual() -> None:
    """The probe itself works: importing the app does load Textual."""
    assert "textual" in _loaded_textual("import textual.app")


def test_startup_baseline_loads_textual_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/startup compares ircmd with a bare Textual app: that app must load no
    module of ours, nor pydantic, aiosqlite or click (the check itself can fail)."""
    from bench import startup

    assert startup.baseline_extras() == []
    monkeypatch.setattr(startup, "BARE_DEFS", startup.BARE_DEFS + "import aiosqlite\n")
    assert "aiosqlite" in startup.baseline_extras()


def test_a_one_shot_log_does_not_import_the_slash_command_registry(tmp_path: Path) -> None:
    """The generated verbs are made when named: `ircmd log` pays nothing for them."""
    code = f"""
import os, sys
os.environ["IRCMD_DB"] = {str(tmp_path)!r} + "/t.db"
os.environ["IRCMD_USER"] = "alice"
from ircmd.cli import main
for argv in (["ircmd", "declare", "x"], ["ircmd", "log", "INC-1", "hello"]):
    sys.argv = argv
    try:
        main()
    except SystemExit as e:
        assert e.code in (0, None), e.code
assert "ircmd.entry" not in sys.modules, "the registry was imported"
print("[]")
"""
    assert _loaded_textual(code) == []


def test_a_feed_on_sqlite_loads_no_psycopg(tmp_path: Path) -> None:
    """The PostgreSQL feed (LISTEN, psycopg) is loaded only for a PostgreSQL record:
    a SQLite screen's feed, watcher running and a batch read, never touches it."""
    code = f"""
import asyncio
from ircmd.store.feed import ChangeFeed
from ircmd.store.store import Store

async def main():
    async with await Store.open({str(tmp_path / "ircmd.db")!r}) as store:
        await store.declare("Feed", actor="alice")
        feed = ChangeFeed(store)
        async for batch in feed:
            assert batch
            for _ in range(3000):  # the watcher is up within a few ms; 30 s at most
                if feed.watching:
                    break
                await asyncio.sleep(0.01)
            assert feed.watching
            break

asyncio.run(main())
import sys
assert "ircmd.store.pgfeed" not in sys.modules
"""
    assert _loaded(code, ("psycopg",)) == []


# What the screen's first frame must not wait for: click and the CLI (the entry
# point opens the screen without them), pydantic (the record's models are plain
# dataclasses; pydantic checks what comes from outside), the slash-command registry
# (imported on the first key) and the forms, dialogs and palette (on first use).
NOT_FOR_THE_FIRST_FRAME = ("click", "pydantic", "pydantic_core", "ircmd")
LATER = {
    "ircmd.cli",
    "ircmd.entry",
    "ircmd.ingest",
    "ircmd.settings",
    "ircmd.report",
    "ircmd.statuspage",
}


def test_the_screens_first_frame_loads_none_of_what_can_wait(tmp_path: Path) -> None:
    """A real first frame, on an incident with entries, in a fresh process."""
    db = tmp_path / "t.db"
    for argv in (["declare", "Checkout down"], ["log", "INC-1", "rolled back"]):
        r = subprocess.run(
            [sys.executable, "-m", "ircmd", "--db", str(db), "--as", "alice", *argv],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
    code = f"""
import asyncio
from ircmd.app import IrcmdApp
from ircmd.config import resolve

async def first_frame() -> None:
    app = IrcmdApp(resolve(db={str(db)!r}, user="alice"))
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(600):
            screen = app.command_screen
            if screen is not None and screen.is_mounted and screen.timeline.rows:
                break
            await pilot.pause(0.05)
        assert screen is not None and "rolled back" in screen.timeline.rows[-1].text

asyncio.run(first_frame())
"""
    loaded = _loaded(code, NOT_FOR_THE_FIRST_FRAME)
    assert "ircmd.screens.command" in loaded  # the probe saw the screen
    early = [m for m in loaded if m.split(".")[0] != "ircmd" or m in LATER]
    early += [
        m
        for m in loaded
        if m.startswith(("ircmd.screens.", "ircmd.hooks."))
        and m not in ("ircmd.screens.command", "ircmd.screens.tabs", "ircmd.hooks.outbox")
    ]
    assert early == []
