"""Command palette (Ctrl+P): every action of the screen, found by typing.

Actions that need an argument put the command into the entry bar for the rest
to be typed, so the palette teaches the slash syntax instead of hiding it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher

from .. import entry
from ..escalation import pending_contacts
from ..models import ActionStatus
from ..widgets.style import user
from .tabs import TABS

if TYPE_CHECKING:
    from .command import CommandScreen

Action = tuple[Content, Callable[[], object], str]


class IrcmdCommands(Provider):
    """Forms, slash-command templates, open INC-n, check step N, theme, quit.

    Attached to the command screen (its COMMANDS), not to the app."""

    def _actions(self) -> list[Action]:
        # Attached through CommandScreen.COMMANDS, so only that screen ever calls it.
        return actions_of(cast("CommandScreen", self.screen))

    async def discover(self) -> Hits:
        for name, run, help_text in self._actions():
            yield DiscoveryHit(name, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, run, help_text in self._actions():
            score = matcher.match(name.plain)
            if score > 0:
                yield Hit(score, highlight(matcher, name), run, help=help_text)


def highlight(matcher: Matcher, name: Content) -> Content:
    """`name` with the query's matched characters marked. Textual's own
    `Matcher.highlight` reads its candidate as markup, and a name may hold user text
    (a checklist step): `[@click=app.quit]x` would become a live action, and a broken
    tag would drop every entry. Here the text stays data."""
    _score, offsets = matcher.fuzzy_search.match(matcher.query, name.plain)
    for offset in offsets:
        if not name.plain[offset].isspace():
            name = name.stylize(matcher.match_style, offset, offset + 1)
    return name


def actions_of(screen: CommandScreen) -> list[Action]:
    """What the palette lists for the screen as it is now."""
    # What a command alone opens (a form, the help): run as the bar would run it.
    found: list[Action] = [
        (Content(spec.form), partial(screen.run_line, f"/{spec.name}"), f"{spec.key}, /{spec.name}")
        for spec in entry.COMMANDS
        if spec.form
    ]
    found += [
        (Content("Close the incident"), partial(screen.run_line, "/close"), "/close [REASON]"),
        (Content("Focus the entry bar"), screen.action_focus_entry, "Escape toggles"),
        (Content("Focus the timeline"), screen.action_focus_timeline, ""),
        (Content("Toggle dark / light theme"), screen.app.action_toggle_dark, ""),
        (Content("Quit"), screen.action_quit, "Ctrl+Q"),
    ]
    for name, title, key in TABS:
        found.append(
            (Content(f"Show the {title} tab"), partial(screen.action_tab, name), key.upper())
        )
    for spec in entry.COMMANDS:
        if spec.palette:
            found.append(
                (Content(spec.syntax), partial(screen.prefill, f"/{spec.name} "), spec.help)
            )
    for inc in screen.board.incidents.values():
        label = Content.assemble(f"Open {inc.key} ", user(inc.title))
        found.append((label, partial(screen.run_line, f"/open {inc.key}"), "make it current"))
    state = screen.state
    if state is not None:
        for item in state.checklist:
            verb = "Uncheck" if item.done else "Check"
            label = Content.assemble(f"{verb} step {item.n}: ", user(item.text[:80]))
            line = f"/{verb.lower()} {item.n}"
            found.append((label, partial(screen.run_line, line), line))
        for who in pending_contacts(screen.escalation, state):
            label = Content.assemble("Notify ", user(who), " (escalation)")
            found.append((label, partial(screen.run_line, f"/notify {who}"), "/notify WHO"))
        for action in state.actions:
            if action.status in (ActionStatus.VERIFIED, ActionStatus.WONT_DO):
                continue
            for nxt in ("in_progress", "done"):
                if nxt == action.status.value:
                    continue
                label = Content.assemble(f"{action.key} {nxt}: ", user(action.title[:60]))
                line = f"/act {action.key} {nxt}"
                found.append((label, partial(screen.run_line, line), line))
    return found
