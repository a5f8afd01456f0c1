"""The screen of a locked (SSH forced command) or read-only session writes no file on
the host: Textual's built-in screenshot is not in the palette and does nothing when
called, and the evidence form has no host file to hash.

Each test runs the same steps on an ordinary session first, where the screenshot is
offered and written, so a pass cannot come from a palette or driver that never writes.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from helpers.screen import declared, dialog, ready, running, until
from textual.command import CommandList, CommandPalette

from ircmd.screens.forms import FormScreen

SESSIONS = {
    "ordinary": {},
    "locked": {"user_locked": True},
    "read-only": {"read_only": True},
}


def offered(palette: CommandPalette) -> list[str]:
    """The palette's options as text (a hit is Content; 'No matches found' is wrapped)."""
    options = palette.query_one(CommandList).options
    return [getattr(o.prompt, "plain", None) or repr(o.prompt) for o in options]


@pytest.mark.parametrize("session", SESSIONS)
async def test_the_palette_offers_a_screenshot_only_to_an_ordinary_session(
    tmp_path: Path, session: str
) -> None:
    db = await declared(tmp_path)
    async with running(db, size=(100, 40), open_incident=1, **SESSIONS[session]) as pilot:
        app = pilot.app
        await ready(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert ("Screenshot" in titles) == (session == "ordinary")
        assert "Quit" in titles
        await pilot.press("ctrl+p")
        palette = await dialog(pilot, CommandPalette, focused="CommandInput")
        await pilot.press(*"Screenshot")
        if session == "ordinary":
            await until(pilot, lambda: any("Screenshot" in o for o in offered(palette)))
        else:
            # Textual says so once the search has finished and found nothing.
            await until(pilot, lambda: any("No matches found" in o for o in offered(palette)))
            assert not any("Screenshot" in o for o in offered(palette))


@pytest.mark.parametrize("session", SESSIONS)
async def test_the_screenshot_action_writes_nothing_when_locked_or_read_only(
    tmp_path: Path, session: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = await declared(tmp_path)
    out = tmp_path / "shots"
    out.mkdir()
    monkeypatch.chdir(out)  # save_screenshot's default directory
    async with running(db, size=(100, 40), open_incident=1, **SESSIONS[session]) as pilot:
        app = pilot.app
        await ready(pilot)
        app.action_screenshot(path=str(out))
        app.save_screenshot()
        app.deliver_text(io.StringIO("text"), save_directory=str(out), save_filename="t.txt")  # type: ignore[arg-type]
        if session == "ordinary":
            await until(pilot, lambda: len(list(out.iterdir())) == 3)
        else:
            await until(
                pilot, lambda: any("writes no files" in str(n.message) for n in app._notifications)
            )
            assert list(out.iterdir()) == []


@pytest.mark.parametrize("session", ["ordinary", "locked"])
async def test_a_locked_evidence_form_has_no_host_file(tmp_path: Path, session: str) -> None:
    db = await declared(tmp_path)
    async with running(db, size=(100, 40), open_incident=1, **SESSIONS[session]) as pilot:
        screen = await ready(pilot)
        await screen.action_add_evidence()
        form = await dialog(pilot, FormScreen)
        assert ("file" in form.values()) == (session == "ordinary")
