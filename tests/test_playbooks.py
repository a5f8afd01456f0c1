"""Playbooks: the shipped TOMLs, user directories, broken files, and the CLI listing."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from helpers.cli import ircmd

from ircmd.models import NotFound, Role, Severity
from ircmd.playbooks import (
    SHIPPED,
    find_playbook,
    load_playbooks,
    parse_playbook,
    playbook_for_type,
)

SHIPPED_NAMES = ["data-loss", "degraded-performance", "security-breach", "service-outage"]


def run(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return ircmd(*args, db=tmp_path / "ircmd.db", home=tmp_path, env=env)


def one_error(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("ircmd: error: ")
    assert "Traceback" not in stderr
    return lines[0]


# ----------------------------------------------------------------- loader


def test_shipped_playbooks_all_load_with_steps() -> None:
    books, errors = load_playbooks()
    assert errors == []
    assert sorted(books) == SHIPPED_NAMES
    for b in books.values():
        assert b.title and b.containment and b.recovery
        assert Role.COMMANDER in b.required_roles
        assert Path(b.source).parent == SHIPPED
    assert books["security-breach"].severity is Severity.SEV1
    assert Role.LIAISON in books["security-breach"].required_roles


def test_playbook_for_type() -> None:
    books, _ = load_playbooks()
    assert playbook_for_type("Security", books) is books["security-breach"]
    assert playbook_for_type("data-loss", books) is books["data-loss"]
    assert playbook_for_type("latency", books) is books["degraded-performance"]
    assert playbook_for_type("", books) is None
    assert playbook_for_type("weather", books) is None


def test_user_playbook_added_and_shipped_one_replaced(tmp_path: Path) -> None:
    (tmp_path / "dns.toml").write_text(
        'title = "DNS failure"\ncontainment = ["Flush caches"]\nrequired_roles = ["liaison"]\n',
        encoding="utf-8",
    )
    (tmp_path / "data-loss.toml").write_text('title = "Our data loss"\n', encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a playbook", encoding="utf-8")
    books, errors = load_playbooks([tmp_path / "missing-dir", tmp_path])
    assert errors == []
    assert books["dns"].title == "DNS failure"
    assert books["dns"].required_roles == (Role.LIAISON,)
    assert books["data-loss"].title == "Our data loss"
    assert books["data-loss"].containment == ()
    assert sorted(books) == sorted([*SHIPPED_NAMES, "dns"])


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('title = "x"\ncontainment = ["a",\n"b"\nrecovery = []\n', "(at line 4, column 1)"),
        ('title = "x"\n\nrequired_roles = ["wizard"]\n', "required_roles.0: Input should be"),
        ('title = "x"\nsteps = ["a"]\n', "steps: Extra inputs are not permitted (at line 2)"),
        ('title = "x"\nseverity = "SEV7"\n', "severity: Input should be 'SEV1'"),
        ('title = "x"\ncontainment = "just one string"\n', "containment: Input should be"),
    ],
)
def test_broken_playbook_named_with_line_and_others_load(
    tmp_path: Path, content: str, fragment: str
) -> None:
    bad = tmp_path / "broken.toml"
    bad.write_text(content, encoding="utf-8")
    (tmp_path / "good.toml").write_text('title = "Good"\n', encoding="utf-8")
    books, errors = load_playbooks([tmp_path])
    assert "broken" not in books
    assert "good" in books and set(SHIPPED_NAMES) <= set(books)
    (err,) = errors
    assert err.startswith(f"{bad}: ")
    assert fragment in err
    assert re.search(r"\(at line \d+(, column \d+)?\)$", err), err
    assert "\n" not in err
    with pytest.raises(ValueError, match=r"broken\.toml"):
        parse_playbook(bad)


def test_validation_error_points_at_the_key_line(tmp_path: Path) -> None:
    bad = tmp_path / "roles.toml"
    bad.write_text('# comment\ntitle = "x"\n\nrequired_roles = ["wizard"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"\(at line 4\)$"):
        parse_playbook(bad)


def test_unreadable_playbook_file(tmp_path: Path) -> None:
    (tmp_path / "latin.toml").write_bytes(b'title = "caf\xe9"\n')
    _, errors = load_playbooks([tmp_path])
    assert len(errors) == 1 and "latin.toml: cannot read" in errors[0]


def test_find_playbook_unknown_and_broken(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text("title = \n", encoding="utf-8")
    with pytest.raises(NotFound, match=r"no playbook 'nope' \(known: data-loss"):
        find_playbook("nope", [tmp_path])
    with pytest.raises(
        NotFound, match=r"playbook 'broken' cannot be used: .*broken.toml: .*line 1"
    ):
        find_playbook("broken", [tmp_path])
    assert find_playbook("data-loss", [tmp_path]).name == "data-loss"


# -------------------------------------------------------------------- CLI


def test_cli_lists_playbooks_one_per_line_name_first(tmp_path: Path) -> None:
    r = run(tmp_path, "playbooks")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [line.split()[0] for line in lines] == SHIPPED_NAMES
    assert lines[2].startswith(
        "security-breach  Security breach / data exposure (6 containment, 4 recovery; roles: commander, scribe, comms, liaison)"
    )


def test_cli_malformed_toml_names_file_and_line_others_still_listed(tmp_path: Path) -> None:
    user = tmp_path / "config" / "ircmd" / "playbooks"
    user.mkdir(parents=True)
    (user / "dns.toml").write_text('title = "DNS"\ncontainment = ["Flush"]\n', encoding="utf-8")
    bad = user / "zz-bad.toml"
    bad.write_text('title = "Bad"\ncontainment = [\n  "a"\n  "b"\n]\n', encoding="utf-8")
    r = run(tmp_path, "playbooks")
    assert r.returncode != 0
    line = one_error(r.stderr)
    assert str(bad) in line and "line 4" in line
    names = [x.split()[0] for x in r.stdout.splitlines()]
    assert names == sorted([*SHIPPED_NAMES, "dns"])
    # the good user playbook can be used; the broken one says why not
    assert run(tmp_path, "declare", "x", "--playbook", "dns").returncode == 0
    r = run(tmp_path, "playbook", "INC-1", "zz-bad")
    assert r.returncode != 0
    line = one_error(r.stderr)
    assert "cannot be used" in line and str(bad) in line and "line 4" in line


def test_cli_playbooks_dir_flag_and_env(tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "cdn.toml").write_text('title = "CDN"\nrecovery = ["Purge"]\n', encoding="utf-8")
    r = run(tmp_path, "--playbooks", str(extra), "playbooks")
    assert r.returncode == 0 and "cdn  CDN (0 containment, 1 recovery; roles: -)" in r.stdout
    r = run(tmp_path, "playbooks", env={"IRCMD_PLAYBOOKS": str(extra)})
    assert "cdn  CDN" in r.stdout
    r = run(tmp_path, "--playbooks", str(extra), "declare", "edge down", "--playbook", "cdn")
    assert r.returncode == 0 and r.stdout == "INC-1\n"
    r = run(tmp_path, "declare", "edge down", "--playbook", "cdn")  # not without the dir
    assert r.returncode != 0
    assert "no playbook 'cdn'" in one_error(r.stderr)
