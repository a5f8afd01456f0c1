"""The entry bar: where everything is typed. Plain text is a note, `/` a command.

It keeps what was typed until the command succeeds (an error leaves the text
for fixing), completes slash commands as a grey suggestion (Right accepts),
and Up/Down recall earlier entries like a shell.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Input

from .. import entry


class SlashSuggester(Suggester):
    """Completes command names and their fixed words (roles, statuses, audiences)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        return entry.complete(value)


class EntryBar(Input):
    """The single-line command input with history."""

    BINDINGS = [
        Binding("up", "history(-1)", "Earlier", show=False),
        Binding("down", "history(1)", "Later", show=False),
        Binding("tab", "complete", "Complete", show=False),
    ]

    class Line(Message):
        """A line to run; the screen clears the bar only when it succeeded."""

        def __init__(self, bar: EntryBar, line: str) -> None:
            super().__init__()
            self.bar = bar
            self.line = line

    def __init__(self, *, read_only: bool = False, id: str | None = None) -> None:
        placeholder = (
            "read-only session: nothing can be written"
            if read_only
            else "type a note, or /help for commands (Tab: complete, ↑↓: history)"
        )
        # No select-all on focus: coming back to the bar (Escape, a dialog closing)
        # must not arm the next key to replace a half-typed entry.
        super().__init__(
            placeholder=placeholder, suggester=SlashSuggester(), id=id, select_on_focus=False
        )
        self.cursor_blink = False  # a blinking cursor repaints twice a second, forever
        self.history: list[str] = []
        self._recall: int | None = None
        self._draft = ""
        self._in_flight: str | None = None
        self.read_only = read_only
        if read_only:
            self.add_class("-read-only")
            self.border_title = "READ-ONLY"

    async def action_submit(self) -> None:
        """Enter: hand the line to the screen (the Input's own Submitted is not used).

        While that line is being written a second Enter is ignored, so a double
        press (or a slow, locked database) never records the same entry twice."""
        self.submit()

    def submit(self) -> None:
        """What Enter does, callable from a dialog the keys ran into."""
        if self.value.strip() and self._in_flight is None:
            self._in_flight = self.value
            self.post_message(self.Line(self, self.value))

    def settle(self) -> None:
        """The line handed over has run, or failed: Enter works again."""
        self._in_flight = None

    def action_complete(self) -> None:
        """Tab accepts the grey suggestion; with none, it moves focus as usual."""
        if self._suggestion and self.cursor_at_end:
            self.value = self._suggestion
            self.cursor_position = len(self.value)
        else:
            self.screen.focus_next()

    def remember(self, line: str) -> None:
        """A line that ran: keep it for Up, and empty the bar."""
        if not self.history or self.history[-1] != line:
            self.history.append(line)
        self._recall = None
        self._draft = ""
        # Whatever was typed while the line was being written is the next entry's start.
        if self.value.startswith(line):
            self.value = self.value[len(line) :]

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
