"""A private tmux server for the end-to-end tests: keys in, screen text out."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


class Tmux:
    """One private tmux server (its own socket) running one session."""

    def __init__(self, socket: Path) -> None:
        tmux = shutil.which("tmux")
        assert tmux, "tmux is not installed: the end-to-end test needs it (apt-get install tmux)"
        self.base = [tmux, "-S", str(socket)]

    def start(self, command: str, env: dict[str, str]) -> None:
        """The session `e2e`, 80x24, running `command` (a shell line) in `env`."""
        subprocess.run(
            [*self.base, "new-session", "-d", "-s", "e2e", "-x", "80", "-y", "24", command],
            check=True,
            env=env,
            timeout=10,
        )

    def run(self, *args: str) -> str:
        return subprocess.run(
            [*self.base, *args], check=True, capture_output=True, text=True, timeout=10
        ).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "e2e")

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", "e2e", "-l", text)

    def key(self, *keys: str) -> None:
        self.run("send-keys", "-t", "e2e", *keys)

    def wait(self, cond: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if cond(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; screen:\n{text}")
            time.sleep(0.05)

    def quit(self, why: str) -> None:
        """Ctrl+Q, then the session must end by itself within 10 s."""
        self.key("C-q")
        deadline = time.monotonic() + 10
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not self.alive(), why

    def alive(self) -> bool:
        return (
            subprocess.run(
                [*self.base, "has-session", "-t", "e2e"], capture_output=True, timeout=10
            ).returncode
            == 0
        )
