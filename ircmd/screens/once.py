"""Modal screens answered once, however fast the keys come."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from textual.await_complete import AwaitComplete
from textual.screen import ModalScreen

R = TypeVar("R")


class AnswersOnce(ModalScreen[R]):
    """A modal screen that is dismissed at most once.

    Keys that arrive together (a slow link, a key held down, fast typing) are all
    handed to the screen on top before the first is handled: the ones behind the key
    that answered it are handled after it has gone. Textual's `dismiss` pops whatever
    screen is on top, so a second Escape or Enter would close the command screen
    beneath (leaving the app with none) and hand its caller a second answer; a form
    would save twice. `answered` lets a screen's own actions stop there too.
    """

    # By absolute path: a subclass in another directory reads the same file.
    CSS_PATH = Path(__file__).with_name("dialogs.tcss")

    answered = False

    def dismiss(self, result: R | None = None) -> AwaitComplete:
        if self.answered:
            done: AwaitComplete = AwaitComplete.nothing()  # type: ignore[no-untyped-call]
            return done
        self.answered = True
        return super().dismiss(result)
