"""The status page in a real browser: headless Chromium loads it from `ircmd serve`.

Chromium is required (CI installs the Debian package `chromium`): without it this
test fails rather than skips, so a missing browser can never pass as a green run.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers.cli import Cli, clean_env
from helpers.processes import DEADLINE
from helpers.serve import Server, write_config

pytestmark = pytest.mark.e2e

HOSTILE_TITLE = '<script>document.title="owned"</script>"><b onclick=alert(1)>'
LONG_WORD = "Z" * 400


class Dom(HTMLParser):
    """The elements and the visible text of the DOM Chromium dumped."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._skip += tag in ("style", "title")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "title")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "chromium is not installed: this test needs it (apt-get install chromium)"
    sandbox = ["--no-sandbox"] if os.geteuid() == 0 else []  # root cannot use the sandbox
    env = clean_env(tmp)
    return subprocess.run(
        [browser, "--headless", *sandbox, "--disable-gpu", f"--user-data-dir={tmp / 'profile'}",
         *args],
        env=env, capture_output=True, text=True, timeout=DEADLINE * 2, check=True,
    )  # fmt: skip


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def png_colours(path: Path) -> int:
    """How many distinct bytes the image data holds: a blank page has very few."""
    data = path.read_bytes()
    chunks, i = [], 8
    while i < len(data):
        length = struct.unpack(">I", data[i : i + 4])[0]
        if data[i + 4 : i + 8] == b"IDAT":
            chunks.append(data[i + 8 : i + 8 + length])
        i += 12 + length
    return len(set(zlib.decompress(b"".join(chunks))))


def test_the_status_page_renders_in_chromium_at_phone_and_desktop_widths(
    tmp_path: Path, server: type[Server]
) -> None:
    cli = Cli(tmp_path)
    cli.ok("declare", "Internal: db-7 disk full", "--severity", "SEV1", "--no-playbook")
    cli.ok("update", "INC-1", "external", f"Payments are slow. {LONG_WORD}")
    cli.ok("public-title", "INC-1", HOSTILE_TITLE)
    s = server(cli.db, write_config(tmp_path))
    url = f"{s.url}/status"

    dom = Dom()
    dom.feed(chromium(tmp_path, "--dump-dom", url).stdout)
    text = "".join(dom.text)
    assert HOSTILE_TITLE in text  # shown as text, not run
    assert "Payments are slow." in text and LONG_WORD in text
    assert "Internal" not in text and "SEV1" not in text
    assert "script" not in dom.tags and "b" not in dom.tags

    for name, size in (("phone", (390, 844)), ("desktop", (1280, 800))):
        shot = tmp_path / f"{name}.png"
        chromium(tmp_path, f"--screenshot={shot}", f"--window-size={size[0]},{size[1]}", url)
        assert png_size(shot) == size
        assert png_colours(shot) > 10, f"the {name} screenshot is blank"
