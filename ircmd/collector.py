"""The cyclic garbage collector, paused for start-up.

Start-up builds some hundred thousand objects that live as long as the process:
the classes, tables and styles of Textual, pydantic and click, then the first
frame. The collector finds no garbage among them, yet walks them all, more than
once, before the screen's first frame (about 50 ms of a 450 ms start on the
benchmark machine). So the `ircmd` entry point pauses it (`pause`), and it
resumes once start-up is over (`resume`: a command about to run, or the screen's
first frame painted), with everything alive at that moment frozen, so that later
collections skip it too. Garbage made during start-up is kept for good, which is
bounded: start-up happens once.
"""

from __future__ import annotations

import gc


def pause() -> None:
    gc.disable()


def resume() -> None:
    """Resume collecting (idempotent; nothing to do if it was never paused)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
