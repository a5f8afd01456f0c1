"""The parsers and sentences the command line and the screen share: one function each,
so the two front ends cannot drift apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from ircmd import display, entry, escalation, rules
from ircmd.hashing import hash_file
from ircmd.models import (
    REVIEW_FIELDS,
    REVIEW_LABELS,
    ActionStatus,
    InvalidInput,
    ReadOnly,
    Severity,
    parse_evidence_ref,
    read_only_refusal,
)


@pytest.mark.parametrize("ref", ["EV-3", "ev3", "#3", " 3 ", "ev-#3"])
def test_evidence_refs(ref: str) -> None:
    assert parse_evidence_ref(ref) == 3


@pytest.mark.parametrize("ref", ["EV-0", "EX-1", "EV-", "3a", ""])
def test_bad_evidence_refs_say_what_is_expected(ref: str) -> None:
    with pytest.raises(InvalidInput, match=r"not an evidence id: .* \(expected EV-<n>\)"):
        parse_evidence_ref(ref)


def test_action_status_and_the_bar_says_the_same() -> None:
    assert rules.parse_action_status(" In-Progress ") is ActionStatus.IN_PROGRESS
    with pytest.raises(InvalidInput) as cli_side:
        rules.parse_action_status("finished")
    with pytest.raises(entry.ParseError) as bar_side:
        entry.parse("/act ACT-1 finished")
    assert str(bar_side.value) == f"/act: {cli_side.value}"
    assert "use: open, in_progress" in str(cli_side.value)


def test_read_only_refusal() -> None:
    refusal = read_only_refusal()
    assert isinstance(refusal, ReadOnly)
    assert str(refusal) == "this session is read-only: nothing was written"
    assert str(read_only_refusal("restore refused")).endswith(": restore refused")


def test_already_checked() -> None:
    assert display.already_checked(2, "bob") == (
        "step 2 was already checked by bob; yours is recorded too"
    )


def test_escalation_contact_takes_the_lists_spelling() -> None:
    table = {Severity.SEV1: ["Legal Counsel"], Severity.SEV2: []}
    assert escalation.contact(table, Severity.SEV1, "legal counsel") == "Legal Counsel"
    assert escalation.contact(table, Severity.SEV2, "legal counsel") == "legal counsel"
    assert escalation.contact({}, Severity.SEV3, "cfo") == "cfo"


def test_hash_file_defaults_the_location_to_the_file(tmp_path: Path) -> None:
    f = tmp_path / "dump.bin"
    f.write_bytes(b"abc")
    hashed = hash_file(f)
    assert hashed.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert (hashed.name, hashed.location) == ("dump.bin", str(f.resolve()))
    assert hash_file(f, " vault 3 ").location == "vault 3"


def test_every_review_field_has_one_label() -> None:
    assert set(REVIEW_LABELS) == set(REVIEW_FIELDS)
