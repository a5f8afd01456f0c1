"""Terminal input that keeps a paste a paste.

Textual's xterm parser, meeting an ESC inside a bracketed paste (a log copied with its
colour codes, a stray Escape), parses what follows as an escape sequence and, when it
is none it knows, re-issues it as key presses while the paste is still arriving. Those
keys reach the entry bar: `\\x1b[1;2\\r` pasted becomes `^`, `[`, ... and an Enter, and a
half-line goes on the record. Here every ESC between the paste's start and end
markers is handed on as the visible `␛` instead, so the paste arrives whole, as text,
and nothing in it is ever a key.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual._xterm_parser import BRACKETED_PASTE_END, BRACKETED_PASTE_START, XTermParser
from textual.drivers import linux_driver
from textual.message import Message

ESC = "\x1b"
SHOWN_ESC = "\u241b"  # ␛: what an ESC inside a paste becomes
HOLD_FROM = 3  # `ESC [ 2`: the shortest cut start marker that is no key of its own


class PasteSafeParser(XTermParser):
    """XTermParser with the ESCs inside a bracketed paste made text before parsing."""

    def __init__(self, debug: bool = False) -> None:
        super().__init__(debug)
        self._in_paste = False
        self._carry = ""  # the start of a paste's end marker, split across two reads

    def feed(self, data: str) -> Iterable[Message]:
        if not data:  # end of input
            carried, self._carry = self._carry, ""
            if carried:
                yield from super().feed(
                    carried.replace(ESC, SHOWN_ESC) if self._in_paste else carried
                )
            yield from super().feed("")
            return
        text = self._carry + data
        self._carry = ""
        yield from super().feed(self._defuse(text))

    def _defuse(self, text: str) -> str:
        out: list[str] = []
        at = 0
        while at < len(text):
            if not self._in_paste:
                start = text.find(BRACKETED_PASTE_START, at)
                if start == -1:
                    rest = text[at:]
                    # A start marker cut by the read: hold back its first part, but
                    # never a lone ESC or `ESC [` (Escape, Alt+[ typed alone).
                    keep = _partial_suffix(rest, BRACKETED_PASTE_START)
                    keep = keep if keep >= HOLD_FROM else 0
                    out.append(rest[: len(rest) - keep])
                    self._carry = rest[len(rest) - keep :]
                    break
                start += len(BRACKETED_PASTE_START)
                out.append(text[at:start])
                at, self._in_paste = start, True
                continue
            end = text.find(BRACKETED_PASTE_END, at)
            if end == -1:
                body = text[at:]
                keep = _partial_suffix(body, BRACKETED_PASTE_END)
                out.append(body[: len(body) - keep].replace(ESC, SHOWN_ESC))
                self._carry = body[len(body) - keep :]
                break
            out.append(text[at:end].replace(ESC, SHOWN_ESC) + BRACKETED_PASTE_END)
            at, self._in_paste = end + len(BRACKETED_PASTE_END), False
        return "".join(out)


def _partial_suffix(text: str, marker: str) -> int:
    """How many characters at the end of `text` could begin `marker`."""
    for size in range(min(len(marker) - 1, len(text)), 0, -1):
        if marker.startswith(text[-size:]):
            return size
    return 0


def install() -> None:
    """Make Textual's Linux driver read keys through PasteSafeParser. The driver
    builds its parser from its module's `XTermParser` when input starts, so this
    must run before the app does."""
    linux_driver.XTermParser = PasteSafeParser  # type: ignore[attr-defined]
