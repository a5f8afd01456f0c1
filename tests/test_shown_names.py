"""One person, one name: names are NFKC-normalised and nothing invisible gets in.

Issue 9 §4: `carol` and `carol` followed by a Hangul filler are not two people.
Every verb that takes a name goes through rules.check_name, and so does the
acting user (--as, IRCMD_USER, IRCMD_LOCK_USER).
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from helpers.cli import RunCli, assert_error, assert_ok, event_count
from helpers.db import Ref
from hypothesis import given
from hypothesis import strategies as st

from ircmd import rules
from ircmd.models import InvalidInput


@pytest.fixture
def db_path(db_ref: Ref) -> Ref:
    """The record `run_cli` writes: on each backend in turn."""
    return db_ref


# Unicode's Default_Ignorable_Code_Point, written out from DerivedCoreProperties.txt
# (independently of the table in rules.py, which this checks).
DEFAULT_IGNORABLE = [
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
]
# Bidirectional classes that are controls, not letters: embeddings, overrides,
# isolates and marks.
BIDI_CONTROLS = {"LRE", "RLE", "PDF", "LRO", "RLO", "LRI", "RLI", "FSI", "PDI"}


def ignorable(ch: str) -> bool:
    return any(lo <= ord(ch) <= hi for lo, hi in DEFAULT_IGNORABLE)


EVERY_IGNORABLE_EDGE = sorted({chr(c) for lo, hi in DEFAULT_IGNORABLE for c in (lo, hi)})


@pytest.mark.parametrize("ch", EVERY_IGNORABLE_EDGE, ids=lambda c: f"U+{ord(c):04X}")
def test_a_name_with_an_invisible_character_is_refused(ch: str) -> None:
    with pytest.raises(InvalidInput, match=f"U\\+{ord(ch):04X}"):
        rules.check_name("carol" + ch, "person")


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("ｃａｒｏｌ", "carol"),  # fullwidth
        ("carol\u00a0smith", "carol smith"),  # no-break space
        ("carol  \u3000 smith", "carol smith"),  # runs of spaces, ideographic space
        ("\ufb01ona", "fiona"),  # ligature
        ("Zoe\u0308", "Zoë"),  # combining diaeresis, composed
        ("𝐜𝐚𝐫𝐨𝐥", "carol"),  # mathematical bold
    ],
)
def test_names_are_normalised(typed: str, kept: str) -> None:
    assert rules.check_name(typed) == kept


@given(st.text(max_size=40))
def test_an_accepted_name_is_normal_and_has_nothing_invisible(text: str) -> None:
    try:
        name = rules.check_name(text)
    except InvalidInput:
        return
    assert unicodedata.normalize("NFKC", name) == name
    assert name == name.strip() and "  " not in name
    assert rules.check_name(name) == name  # idempotent
    for ch in name:
        assert not ignorable(ch), f"U+{ord(ch):04X}"
        assert unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
        assert unicodedata.bidirectional(ch) not in BIDI_CONTROLS


FILLER = "carol\u3164"  # carol + HANGUL FILLER: looks like carol


@pytest.fixture
def inc(run_cli: RunCli, db_path: Path) -> Path:
    assert_ok(run_cli("declare", "outage", "--severity", "SEV3"))
    assert_ok(run_cli("evidence", "add", "INC-1", "disk image"))
    assert_ok(run_cli("action", "add", "INC-1", "add a canary"))
    return db_path


@pytest.mark.parametrize(
    "args",
    [
        ("assign", "INC-1", "ic", FILLER),
        ("unassign", "INC-1", "ic", FILLER),
        ("checklist", "add", "INC-1", "roll back", "--assignee", FILLER),
        ("notify", "INC-1", FILLER),
        ("evidence", "transfer", "INC-1", "EV-1", FILLER, "--reason", "lab"),
        ("action", "add", "INC-1", "fix", "--owner", FILLER),
        ("action", "set", "ACT-1", "--owner", FILLER),
        ("update", "INC-1", "internal", "status", "--channel", "#ops\u200b"),
        ("actions", "--owner", FILLER),
        ("--as", FILLER, "log", "INC-1", "x"),
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_every_verb_refuses_an_invisible_name(
    run_cli: RunCli, inc: Path, args: tuple[str, ...]
) -> None:
    before = event_count(inc)
    assert_error(run_cli(*args), "U+")
    assert event_count(inc) == before


@pytest.mark.parametrize("var", ["IRCMD_USER", "IRCMD_LOCK_USER"])
def test_the_acting_user_from_the_environment_is_checked(
    run_cli: RunCli, inc: Path, var: str
) -> None:
    before = event_count(inc)
    assert_error(run_cli("log", "INC-1", "x", user=None, env={var: FILLER}), var, "U+3164")
    assert event_count(inc) == before


def test_one_person_in_two_spellings_is_one_person(run_cli: RunCli, inc: Path) -> None:
    assert_ok(run_cli("assign", "INC-1", "ic", "carol"))
    assert_error(run_cli("assign", "INC-1", "ic", "ｃａｒｏｌ", user="carol"), "already commander")
    # carol acts through a fullwidth IRCMD_USER: she is the commander.
    assert_ok(run_cli("severity", "INC-1", "SEV2", user="ｃａｒｏｌ"))
    assert_ok(run_cli("--as", "ｃａｒｏｌ", "assign", "INC-1", "scribe", "dan"))
    assert_ok(run_cli("unassign", "INC-1", "scribe", "ｄａｎ", user="carol"))
    # a lock in one spelling, the same name asked in another: the same person.
    locked = run_cli("log", "INC-1", "locked", env={"IRCMD_LOCK_USER": "carol"}, user="ｃａｒｏｌ")
    assert_ok(locked)
