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


def _loaded_textual(code: str) -> list[str]:
    probe = (
        code
        + "\nimport json, sys\n"
        + "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'textual')))"
    )
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    loaded: list[str] = json.loads(r.stdout.splitlines()[-1])  # the probe's last line
    return loaded


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
