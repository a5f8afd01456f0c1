"""Terminal input: a bracketed paste holding ESCs arrives as one paste, never as keys."""

from __future__ import annotations

import pytest
from textual import events
from textual._xterm_parser import XTermParser
from textual.message import Message

from ircmd.terminal import SHOWN_ESC, PasteSafeParser

START, END = "\x1b[200~", "\x1b[201~"
# A line copied with its colour codes and a stray ESC, then a CR: each a key to Textual.
PASTED = "err \x1b[31mFATAL\x1b[0m \x1b[1;2 x\x1bq\rnext"


def tokens(parser: XTermParser, *chunks: str) -> list[Message]:
    out: list[Message] = []
    for chunk in chunks:
        out.extend(parser.feed(chunk))
    out.extend(parser.feed(""))
    return out


def keys(found: list[Message]) -> list[str]:
    return [t.key for t in found if isinstance(t, events.Key)]


def pastes(found: list[Message]) -> list[str]:
    return [t.text for t in found if isinstance(t, events.Paste)]


def test_textuals_own_parser_turns_part_of_such_a_paste_into_keys() -> None:
    """The failure this module exists for (if Textual fixes it, this test says so)."""
    assert keys(tokens(XTermParser(), "a" + START + PASTED + END + "b")) != ["a", "b"]


@pytest.mark.parametrize("split", [None, 1, 4, 6, 7, len(START) + 5, -3, -1])
def test_the_paste_arrives_whole_and_only_typed_keys_are_keys(split: int | None) -> None:
    """However the terminal's bytes are split into reads (inside either marker too)."""
    data = "a" + START + PASTED + END + "b"
    chunks = (data,) if split is None else (data[:split], data[split:])
    found = tokens(PasteSafeParser(), *chunks)
    assert keys(found) == ["a", "b"]
    assert pastes(found) == [PASTED.replace("\x1b", SHOWN_ESC)]


def test_escape_typed_outside_a_paste_is_still_escape() -> None:
    found = tokens(PasteSafeParser(), START + "x\x1by" + END, "\x1b")
    assert pastes(found) == [f"x{SHOWN_ESC}y"]
    assert keys(found) == ["escape"]
