"""The entry bar: where everything is typed. Plain text is a note, `/` a command.

Enter takes the line out of the bar (a refused one comes back for fixing),
slash commands complete as a grey suggestion (Right or Tab accepts, Tab again
cycles through the other candidates), and Up/Down
recall earlier entries like a shell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Input

if TYPE_CHECKING:  # the command registry is imported on the first key, not for the first frame
    from .. import entry


class SlashSuggester(Suggester):
    """Completes command names, their fixed words (roles, statuses, audiences) and what
    the open incident holds (`known`: steps, people, contacts, EV-n, ACT-n), asked of
    the screen when a completion is wanted, not each time the incident changes."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.known: Callable[[], Mapping[entry.Arg, Iterable[str]]] = dict

    async def get_suggestion(self, value: str) -> str | None:
        from .. import entry

        return entry.complete(value, self.known())


class EntryBar(Input):
    """The single-line command input with history."""

    BINDINGS = [
        Binding("up", "history(-1)", "Earlier", show=False),
        Binding("down", "history(1)", "Later", show=False),
        Binding("tab", "complete", "Complete", show=False),
    ]

    class Line(Message):
        """A line to run. The bar is already empty: a refused line is put back."""

        def __init__(self, bar: EntryBar, line: str) -> None:
            super().__init__()
            self.bar = bar
            self.line = line

    class Pasted(Message):
        """A paste of several lines, after what the bar held (`typed`): one note, not
        a line. `typed` comes back to the bar if the note is not made."""

        def __init__(self, bar: EntryBar, typed: str, text: str) -> None:
            super().__init__()
            self.bar = bar
            self.typed = typed
            self.text = text

    def __init__(self, *, read_only: bool = False, id: str | None = None) -> None:
        placeholder = (
            "read-only session: nothing can be written"
            if read_only
            else "type a note, or /help for commands (Tab: complete, ↑↓: history)"
        )
        # No select-all on focus: coming back to the bar (Escape, a dialog closing)
        # must not arm the next key to replace a half-typed entry.
        self.slash = SlashSuggester()
        super().__init__(
            placeholder=placeholder, suggester=self.slash, id=id, select_on_focus=False
        )
        self.cursor_blink = False  # a blinking cursor repaints twice a second, forever
        self.history: list[str] = []
        self._recall: int | None = None
        self._draft = ""
        # Tab's candidates, and which one the bar shows: Tab again shows the next.
        self._cycle: tuple[str, list[str], int] | None = None
        self.read_only = read_only
        if read_only:
            self.add_class("-read-only")
            self.border_title = "READ-ONLY"

    async def _on_key(self, event: events.Key) -> None:
        """The bar's own keys (Enter, Backspace, arrows, Tab, Up/Down...) act here,
        in the order they arrive. As Textual bindings they would first bubble up to
        the app and run behind letters already queued: with keys arriving together
        (fast typing over SSH, a paste) a Backspace would delete the wrong letter
        and an Enter would send the next line's words with this one."""
        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            event.stop()
            event.prevent_default()
            await self.run_action(binding.action)
            return
        await super()._on_key(event)

    async def action_submit(self) -> None:
        """Enter (the Input's own Submitted is not used)."""
        self.submit()

    def submit(self) -> None:
        """Take the line out of the bar and hand it to the screen.

        The bar is emptied at once, so whatever is typed next (a second line while
        the first waits for a busy database, keys that arrive together) starts a
        new entry: lines queue in order, none is merged into another, and a second
        Enter on the emptied bar records nothing twice."""
        line = self.value
        if not line.strip():
            return
        self.value = ""
        self._recall = None
        self._draft = ""
        self.post_message(self.Line(self, line))

    def _on_paste(self, event: events.Paste) -> None:
        """A multi-line paste would lose all but its first line in a one-line
        input: hand it over whole instead. One line copied with its line break
        (a triple click) is that line. Any other paste is left to the Input's own
        handler, which Textual runs after this one: calling it here too pasted twice."""
        pasted = event.text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
        if "\n" in pasted:
            event.stop()
            event.prevent_default()
            self.post_message(self.Pasted(self, self.value, self.value + pasted))
        elif pasted != event.text:
            event.prevent_default()  # the Input's handler would keep the part before "\n"
            super()._on_paste(events.Paste(pasted))

    def action_complete(self) -> None:
        """Tab completes; Tab again goes on to the next candidate (`/a`: /assign, /add,
        /action...). With none, it moves focus only from an empty bar: from a
        half-typed line it stays, or the next keys would land in a pane (or be
        appended to a line the user no longer sees) and go on the record."""
        if not self.value:
            self.screen.focus_next()
            return
        from .. import entry

        cycle = self._cycle
        if cycle is not None and self.value == cycle[1][cycle[2]]:
            options, index = cycle[1], (cycle[2] + 1) % len(cycle[1])
        elif self.cursor_at_end and (options := entry.completions(self.value, self.slash.known())):
            index = 0
        else:
            self.app.bell()
            return
        self._cycle = (self.value, options, index)
        self.value = options[index]
        self.cursor_position = len(self.value)

    def remember(self, line: str) -> None:
        """A line that ran: keep it for Up."""
        if not self.history or self.history[-1] != line:
            self.history.append(line)

    def restore(self, line: str) -> None:
        """A refused line comes back to be fixed; if something new was typed in
        the meantime, that stays and the refused line waits in the history (Up)."""
        if self.value:
            self.history.append(line)
            return
        self.value = line
        self.cursor_position = len(line)

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        if self._recall is None:
            if step > 0:
                return
            self._draft = self.value
            self._recall = len(self.history)
        self._recall += step
        if self._recall >= len(self.history):
            self._recall = None
            self.value = self._draft
        else:
            self._recall = max(0, self._recall)
            self.value = self.history[self._recall]
        self.cursor_position = len(self.value)
