"""The CLI verbs generated from slash commands (`Spec(cli=True)`): the screen's parser,
run and wording behind `ircmd NAME INC-n ARGS... [--at TIME]`, real processes."""

from __future__ import annotations

import json

import click
import pytest
from helpers.cli import RunCli, assert_error, assert_ok, event_count
from helpers.db import Ref

from ircmd import entry
from ircmd.cli import cli
from ircmd.lock import allowed

GENERATED = [spec for spec in entry.COMMANDS if spec.cli]


def test_some_slash_commands_are_generated_as_verbs() -> None:
    assert GENERATED, "no Spec has cli=True: the generator is untested"


@pytest.mark.parametrize("spec", GENERATED, ids=lambda s: s.name)
def test_each_generated_verb_exists_takes_no_file_and_is_allowed_when_locked(
    spec: entry.Spec,
) -> None:
    command = cli.get_command(click.Context(cli), spec.name)
    assert command is not None
    assert {p.name for p in command.params} == {"incident", "words", "at"}
    assert allowed()[(spec.name,)] == frozenset({"incident", "words", "at"})
    assert spec.about in (command.help or "")


@pytest.fixture
def db_path(db_ref: Ref) -> Ref:
    """The record `run_cli` writes: on each backend in turn."""
    return db_ref


def test_ic_hands_command_with_the_screens_wording(run_cli: RunCli, db_path: Ref) -> None:
    assert_ok(run_cli("declare", "Checkout failing", "-s", "SEV2", "--at", "2026-01-01T00:00Z"))
    out = assert_ok(run_cli("ic", "INC-1", "bob", "--at", "2026-01-01T00:10Z"))
    assert out.strip() == "bob is commander"
    shown = json.loads(assert_ok(run_cli("show", "INC-1", "--json")))
    handed = [e for e in shown["events"] if e["kind"] == "assign"][-1]
    assert handed["data"]["person"] == "bob" and handed["data"]["role"] == "commander"
    assert handed["occurred_at"].startswith("2026-01-01T00:10")


def test_a_generated_verb_refuses_bad_arguments_in_one_line(run_cli: RunCli, db_path: Ref) -> None:
    assert_ok(run_cli("declare", "Checkout failing", "--severity", "SEV2"))
    before = event_count(db_path)
    assert_error(run_cli("ic", "INC-1"), "usage: /ic PERSON")
    assert_error(run_cli("ic", "INC-9", "bob"), "INC-9")
    assert_error(run_cli("ic", "INC-1", "[@click=app.quit]x\x07"))
    assert event_count(db_path) == before


def test_a_generated_verb_writes_nothing_read_only(run_cli: RunCli, db_path: Ref) -> None:
    assert_ok(run_cli("declare", "Checkout failing", "--severity", "SEV2"))
    before = event_count(db_path)
    assert_error(run_cli("--read-only", "ic", "INC-1", "bob"), "read-only")
    assert event_count(db_path) == before
