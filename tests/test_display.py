"""display.printable: what a terminal is shown of user text."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ircmd.display import json_text, printable

BIDI = [
    *(chr(c) for c in range(0x202A, 0x202F)),  # LRE RLE PDF LRO RLO
    *(chr(c) for c in range(0x2066, 0x206A)),  # LRI RLI FSI PDI
    "\u200e",  # LRM
    "\u200f",  # RLM
    "\u061c",  # ALM
]


@pytest.mark.parametrize("ch", BIDI, ids=lambda c: f"U+{ord(c):04X}")
def test_each_bidi_control_is_shown_escaped(ch: str) -> None:
    shown = printable(f"amount {ch}01$ paid")
    assert ch not in shown
    assert shown == f"amount \\u{ord(ch):04x}01$ paid"


def test_trojan_source_line_reads_as_stored() -> None:
    assert printable("access granted\u202e\u2066 if admin\u2069\u2066") == (
        "access granted\\u202e\\u2066 if admin\\u2069\\u2066"
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[31mred\x1b[0m", "\u241b[31mred\u241b[0m"),
        ("bell\x07", "bell\u2407"),
        ("a\rb", "a\u240db"),
        ("tab\there", "tab\u2409here"),
        ("nul\x00", "nul\u2400"),
        ("del\x7f", "del\u2421"),
        ("csi\x9b31m", "csi\\x9b31m"),
        ("nel\x85", "nel\\x85"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
    ],
)
def test_c0_c1_and_separators_are_visible(text: str, shown: str) -> None:
    assert printable(text) == shown
    assert printable(text, keep_newlines=True) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("\ufeffbom", "\\ufeffbom"),
        ("word\u2060joiner", "word\\u2060joiner"),
        ("soft\u00adhyphen", "soft\\xadhyphen"),
        ("hidden\U000e0041\U000e0042", "hidden\\U000e0041\\U000e0042"),
        ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
    ],
)
def test_invisible_format_characters_and_surrogates_are_visible(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_newline_is_kept_only_when_asked() -> None:
    assert printable("one\ntwo") == "one\u240atwo"
    assert printable("one\ntwo", keep_newlines=True) == "one\ntwo"
    assert printable("crlf\r\n", keep_newlines=True) == "crlf\u240d\n"


@pytest.mark.parametrize(
    "text",
    [
        "plain ASCII, punctuation: #1 | *x* _y_ `z`",
        "[bold]x[/]",
        "[@click=app.quit]x \\[escaped\\]",
        "emoji \U0001f525 \U0001f44d\U0001f3fd \u2764\ufe0f",
        "\U0001f469\u200d\U0001f4bb and \U0001f468\u200d\U0001f469\u200d\U0001f467",  # ZWJ
        "flag \U0001f1fa\U0001f1e6 and \U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e"
        "\U000e0067\U000e007f",  # England: tag sequence
        "漢字とかな、한국어",
        "e\u0301 n\u0303 a\u0308",  # combining marks
        "می\u200cخواهم",  # ZWNJ in Persian
        "עברית and العربية",  # right-to-left letters themselves are just text
        "private use \ue000 \U000f0000",
        "nbsp\u00a0 and ideographic\u3000space",
    ],
)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert printable(text) == text
    assert printable(text, keep_newlines=True) == text


def test_stray_tag_characters_after_a_black_flag_are_still_shown() -> None:
    # No CANCEL TAG: not a flag sequence, so the tags are hidden text.
    assert printable("\U0001f3f4\U000e0061b") == "\U0001f3f4\\U000e0061b"


FORBIDDEN_FORMAT = {c for c in map(chr, range(0x110000)) if unicodedata.category(c) == "Cf"}
KEPT = {"\u200c", "\u200d"}
TAGS = {chr(c) for c in range(0xE0020, 0xE0080)}


def _in_flag_sequence(shown: str, i: int) -> bool:
    j = i
    while j > 0 and shown[j - 1] in TAGS:
        j -= 1
    return j > 0 and shown[j - 1] == "\U0001f3f4"


@given(st.text(), st.booleans())
@example("\x1b[31m\u202eevil\u2069\n\r\x07", True)
@example("\U0001f3f4\U000e0067\U000e0062\U000e007f\U000e0041", False)
def test_no_control_bidi_or_invisible_character_gets_through(text: str, keep: bool) -> None:
    shown = printable(text, keep_newlines=keep)
    for i, ch in enumerate(shown):
        cat = unicodedata.category(ch)
        if cat == "Cc":
            assert keep and ch == "\n", repr(ch)
        assert ch not in BIDI, repr(ch)
        assert cat not in ("Cs", "Zl", "Zp"), repr(ch)
        if ch in FORBIDDEN_FORMAT and ch not in KEPT:
            assert ch in TAGS and _in_flag_sequence(shown, i), repr(ch)
    assert printable(shown, keep_newlines=keep) == shown  # idempotent
    if not keep:
        assert "\n" not in shown


@given(st.text(st.characters(codec="utf-8", categories=("L", "M", "N", "P", "S", "Zs"))))
def test_text_without_controls_or_format_characters_is_unchanged(text: str) -> None:
    assert printable(text) == text


@given(st.text(), st.text())
@example("a\u202eb\x9b\x1b[31m\u2028", "👩‍💻 日本 e\u0301")
def test_json_text_is_exact_data_with_nothing_raw_that_printable_would_show(a: str, b: str) -> None:
    data = {"text": a, "list": [b, a + b]}
    out = json_text(data)
    assert json.loads(out) == data
    assert all(printable(ch) == ch for ch in out if ch != "\n"), "an unsafe character got out raw"


@given(st.text(st.characters(max_codepoint=0x7F)), st.booleans())
def test_ascii_text_shows_each_control_as_its_symbol_and_nothing_else_changed(
    text: str, keep: bool
) -> None:
    def symbol(ch: str) -> str:
        if ch == "\n" and keep:
            return ch
        return chr(0x2421) if ch == "\x7f" else chr(0x2400 + ord(ch)) if ch < " " else ch

    assert printable(text, keep_newlines=keep) == "".join(map(symbol, text))
