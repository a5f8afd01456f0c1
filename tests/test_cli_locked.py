"""A locked identity (IRCMD_LOCK_USER, set by an SSH forced command): the session acts
only as that person, only on the administrator's database, and the client's own SSH
command line (SSH_ORIGINAL_COMMAND) is read as ircmd arguments, never run by a shell.

The same setup through a real sshd is in tests/e2e/test_ssh.py.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import click
import pytest
from helpers.cli import (
    IRCMD,
    RunCli,
    assert_error,
    assert_ok,
    clean_env,
    event_count,
    files_under,
)

from ircmd.config import resolve
from ircmd.models import InvalidInput


@pytest.fixture
def locked(run_cli: RunCli, db_path: Path) -> RunCli:
    """INC-1 declared by alice; then a runner for a session locked to bob."""
    assert_ok(run_cli("declare", "Checkout failing", "--severity", "SEV2"))

    def run(
        *args: str, ssh: str | None = None, env: dict[str, str] | None = None, **kw: object
    ) -> subprocess.CompletedProcess[str]:
        env = {"IRCMD_LOCK_USER": "bob"} | (env or {})
        if ssh is not None:
            env["SSH_ORIGINAL_COMMAND"] = ssh
        kw.setdefault("user", None)
        return run_cli(*args, env=env, **kw)

    return run


def actors(run_cli: RunCli) -> list[tuple[str, str]]:
    shown = json.loads(assert_ok(run_cli("show", "INC-1", "--json")))
    return [(e["actor"], e["text"]) for e in shown["events"]]


def test_the_lock_names_the_actor_even_when_the_os_account_is_shared(
    locked: RunCli, run_cli: RunCli
) -> None:
    assert_ok(locked("log", "INC-1", "as the locked user"))
    assert_ok(locked("--as", "bob", "log", "INC-1", "naming myself is fine"))
    assert actors(run_cli)[-2:] == [("bob", "as the locked user"), ("bob", "naming myself is fine")]


def test_impersonation_is_refused_and_writes_nothing(
    locked: RunCli, run_cli: RunCli, db_path: Path
) -> None:
    before = event_count(db_path)
    assert_error(locked("--as", "mallory", "log", "INC-1", "x"), "locked to user 'bob'", "mallory")
    assert_error(
        locked("log", "INC-1", "x", env={"IRCMD_LOCK_USER": "bob", "IRCMD_USER": "mallory"}),
        "mallory",
    )
    assert event_count(db_path) == before


def test_a_locked_session_cannot_swap_the_record_or_write_files(
    locked: RunCli, tmp_path: Path
) -> None:
    other = tmp_path / "other.db"
    assert_error(locked("--db", str(other), "list"), "--db refused")
    assert_error(locked("--playbooks", str(tmp_path), "playbooks"), "--playbooks refused")
    copy = tmp_path / "copy.db"
    assert_error(locked("backup", str(copy)), "backup refused")
    assert not other.exists() and not copy.exists()


def test_the_ssh_command_line_becomes_the_arguments(locked: RunCli, run_cli: RunCli) -> None:
    assert assert_ok(locked(ssh="ircmd log INC-1 'quoted, with spaces'")) == "#2\n"
    assert_ok(locked(ssh="log INC-1 --stdin", input="one\ntwo\n"))
    assert actors(run_cli)[-3:] == [
        ("bob", "quoted, with spaces"),
        ("bob", "one"),
        ("bob", "two"),
    ]
    assert_error(locked(ssh="ircmd --as mallory log INC-1 x"), "locked to user 'bob'")


def test_the_ssh_command_line_is_never_given_to_a_shell(
    locked: RunCli, run_cli: RunCli, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    marker.write_text("still here")
    assert_ok(locked(ssh=f"log INC-1 x; rm {marker}"))
    assert_ok(locked(ssh=f'log INC-1 "$(rm {marker})"'))
    assert_ok(locked(ssh="log INC-1 we can't reach the db"))  # ssh's joined words: unbalanced
    assert marker.read_text() == "still here"
    assert [text for _, text in actors(run_cli)[-3:]] == [
        f"x; rm {marker}",  # words, logged literally
        f"$(rm {marker})",
        "we can't reach the db",
    ]


def test_without_a_lock_the_ssh_command_is_ignored(run_cli: RunCli, db_path: Path) -> None:
    assert_ok(run_cli("declare", "t", "--severity", "SEV3"))
    r = run_cli("list", env={"SSH_ORIGINAL_COMMAND": "log INC-1 sneaky"})
    assert "INC-1" in assert_ok(r)
    assert event_count(db_path) == 1


def test_resolve_applies_the_lock() -> None:
    env = {"IRCMD_LOCK_USER": "bob", "IRCMD_DB": "/srv/ir.db"}
    cfg = resolve(env=env)
    assert (cfg.user, cfg.user_locked, str(cfg.db)) == ("bob", True, "/srv/ir.db")
    assert resolve(user="bob", env=env).user == "bob"
    with pytest.raises(InvalidInput, match="locked"):
        resolve(user="eve", env=env)
    with pytest.raises(InvalidInput, match="--db refused"):
        resolve(db="/tmp/mine.db", env=env)
    assert not resolve(user="eve", env={"IRCMD_DB": "/x"}).user_locked


def test_an_empty_as_is_refused_not_replaced_by_the_os_user(run_cli: RunCli, db_path: Path) -> None:
    assert_ok(run_cli("declare", "t", "--severity", "SEV3"))
    assert_error(run_cli("--as", "", "log", "INC-1", "x"), "--as needs a name")
    assert_error(run_cli("--as", "  ", "log", "INC-1", "x"), "--as needs a name")
    assert event_count(db_path) == 1


# ------------------------------------------------- no argument is a host path


@pytest.fixture
def host_files(locked: RunCli, tmp_path: Path, db_path: Path) -> Path:
    """An account's authorized_keys (and a symlink to it) next to the database, and in
    the record a note whose second line is an attacker's public key."""
    ssh = tmp_path / "account" / ".ssh"
    ssh.mkdir(parents=True)
    keys = ssh / "authorized_keys"
    keys.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAdministratorsOwnKey admin@host\n")
    (tmp_path / "account" / "link").symlink_to(keys)
    attack = "see below\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMallorysKey mallory@laptop"
    assert_ok(locked("log", "INC-1", attack))
    return keys


def path_spellings(target: str) -> list[list[str]]:
    """Every way to give report or evidence add a path on the host."""
    return [
        ["report", "INC-1", "-o", target],
        ["report", "INC-1", f"-o{target}"],
        ["report", "INC-1", "--output", target],
        ["report", "INC-1", f"--output={target}"],
        ["report", "INC-1", "--out", target],  # click has no abbreviations; still refused
        ["report", "INC-1", f"--outp={target}"],
        ["report", "-o", target, "INC-1"],
        ["report", "INC-1", "--format", "csv", "-o", target],
        ["report", "INC-1", "--", "-o", target],
        ["--", "report", "INC-1", "-o", target],
        ["evidence", "add", "INC-1", "the keys", "--file", target],
        ["evidence", "add", "INC-1", "the keys", f"--file={target}"],
        ["backup", target],
        ["migrate", "--from", target, "--to", "postgresql://127.0.0.1:1/elsewhere"],
        ["--db", target, "list"],
        [f"--db={target}", "show", "INC-1"],
        ["--playbooks", str(Path(target).parent), "playbooks"],
    ]


@pytest.mark.parametrize("which", ["authorized_keys", "link", "the db", "new file"])
def test_a_locked_session_reaches_no_file_the_client_names(
    locked: RunCli, host_files: Path, tmp_path: Path, db_path: Path, which: str
) -> None:
    target = {
        "authorized_keys": host_files,
        "link": tmp_path / "account" / "link",
        "the db": db_path,
        "new file": tmp_path / "account" / "new",
    }[which]
    before = files_under(tmp_path)
    spellings = path_spellings(str(target))
    if which != "authorized_keys":  # every spelling once is enough for the other targets
        spellings = spellings[::3]
    for args in spellings:
        assert_error(locked(*args))
        if which == "authorized_keys":
            assert_error(locked(ssh=shlex.join(args)))
        assert files_under(tmp_path) == before, args
    assert not (tmp_path / "account" / "new").exists()


def test_locked_refusals_name_what_was_refused(locked: RunCli, host_files: Path) -> None:
    keys = str(host_files)
    lock = "this session is locked by its administrator"
    assert_error(locked("report", "INC-1", "-o", keys), lock, "report -o refused")
    assert_error(locked("report", "INC-1", f"--output={keys}"), lock, "report --output refused")
    assert_error(locked("evidence", "add", "INC-1", "x", "--file", keys), "evidence add --file")
    assert_error(locked("backup", keys), lock, "backup refused")
    assert_error(locked("demo"), lock, "demo refused")
    assert_error(locked("migrate", "--to", "postgresql://127.0.0.1:1/x"), lock, "migrate refused")
    assert_error(locked("--db", keys, "list"), lock, "--db refused")
    # An option that does not exist at all is reported as such, not blamed on the lock.
    assert_error(locked("report", "INC-1", "--bogus"), "no such option")


def test_a_locked_client_can_neither_deliver_nor_name_a_config(
    locked: RunCli, tmp_path: Path
) -> None:
    """`deliver` reads the administrator's secrets and sends where they say; the
    client's command line cannot set IRCMD_CONFIG (it is arguments, not a shell's)."""
    evil = tmp_path / "evil.toml"
    evil.write_text('[[hooks]]\nname = "x"\nkind = "command"\ncommand = ["/bin/sh"]\n')
    evil.chmod(0o600)
    for line in ("deliver", "deliver --once", "ircmd deliver --once"):
        assert_error(locked(ssh=line), "deliver refused")
    assert_error(locked(ssh=f"IRCMD_CONFIG={evil} deliver --once"), "no such command")
    assert_error(locked(ssh=f"env IRCMD_CONFIG={evil} ingest"), "no such command")
    assert_error(locked(ssh=f"ingest --config {evil}"), "no such option")


def test_a_locked_session_is_offered_only_what_it_may_use(locked: RunCli) -> None:
    top = assert_ok(locked("--help"))
    assert "backup" not in top and "demo" not in top and "--db" not in top
    assert "migrate" not in top
    assert "report" in top and "evidence" in top
    report_help = assert_ok(locked("report", "--help"))
    assert "--output" not in report_help and "--format" in report_help
    evidence_help = assert_ok(locked("evidence", "add", "--help"))
    assert "--file" not in evidence_help and "--stdin" in evidence_help
    assert "0.1" in assert_ok(locked("--version"))
    assert "INC-1" in assert_ok(locked(ssh="report INC-1"))  # standard output still works


def test_the_allow_list_names_only_real_verbs_and_options() -> None:
    """A misspelt entry would silently take a verb or option away from every team."""
    from ircmd.cli import cli
    from ircmd.lock import allowed

    cli.list_commands(click.Context(cli))  # the slash verbs are made when first listed
    for verb, params in allowed().items():
        cmd: click.Command = cli
        for name in verb:
            assert isinstance(cmd, click.Group), verb
            found = cmd.commands.get(name)
            assert found is not None, verb
            cmd = found
        names = {p.name for p in cmd.params}
        assert params <= names, (verb, params - names)


def test_read_only_sessions_write_no_file(run_cli: RunCli, tmp_path: Path, db_path: Path) -> None:
    assert_ok(run_cli("declare", "Checkout failing", "--severity", "SEV2"))
    out = tmp_path / "out"
    out.mkdir()
    evidence_dir = tmp_path / "evidence"
    before = files_under(tmp_path)
    ro = {"IRCMD_READ_ONLY": "1", "IRCMD_EVIDENCE_DIR": str(evidence_dir)}
    for args in (
        ["report", "INC-1", "-o", str(out / "r.md")],
        ["report", "INC-1", f"--output={out / 'r.md'}"],
        ["backup", str(out / "copy.db")],
        ["migrate", "--to", "postgresql://127.0.0.1:1/nowhere"],
        ["demo"],
    ):
        assert_error(run_cli("--read-only", *args), "read-only", "refused")
        assert_error(run_cli(*args, env=ro), "read-only", "refused")
    r = run_cli("evidence", "add", "INC-1", "auth.log", "--stdin", input="bytes", env=ro)
    assert_error(r, "read-only", "evidence add refused")
    r = run_cli(
        "evidence",
        "add",
        "INC-1",
        "auth.log",
        "--stdin",
        input="bytes",
        env=ro | {"IRCMD_LOCK_USER": "bob"},
        user=None,
    )
    assert_error(r, "read-only", "evidence add refused")
    assert files_under(tmp_path) == before
    assert not evidence_dir.exists()
    assert "INC-1" in assert_ok(run_cli("--read-only", "report", "INC-1"))


# ------------------------------------------------------- evidence on stdin


def evidence_events(run_cli: RunCli) -> list[dict[str, object]]:
    shown = json.loads(assert_ok(run_cli("show", "INC-1", "--json")))
    return [e for e in shown["events"] if e["kind"] == "evidence_add"]


@pytest.mark.parametrize("session", ["locked", "unlocked"])
def test_evidence_from_stdin_is_hashed_as_it_streams_and_kept_privately(
    locked: RunCli, run_cli: RunCli, tmp_path: Path, session: str
) -> None:
    data = bytes(range(256)) * 8192 + b"\x00\r\n tail"  # 2 MiB and more, binary
    digest = hashlib.sha256(data).hexdigest()
    evidence_dir = tmp_path / "evidence"
    runner = locked if session == "locked" else run_cli
    r = subprocess.run(
        [
            *IRCMD,
            "evidence",
            "add",
            "INC-1",
            "auth.log from web-3",
            "--stdin",
            "--location",
            "bob's laptop",
        ],
        input=data,
        capture_output=True,
        env=clean_env(
            tmp_path / "home",
            {"IRCMD_DB": str(tmp_path / "ircmd.db"), "IRCMD_EVIDENCE_DIR": str(evidence_dir)}
            | ({"IRCMD_LOCK_USER": "bob"} if session == "locked" else {"IRCMD_USER": "bob"}),
        ),
        timeout=60,
    )
    assert (r.returncode, r.stdout) == (0, b"EV-1\n"), r.stderr
    assert r.stderr.decode() == f"sha256 {digest} ({len(data)} bytes)\n"
    kept = evidence_dir / f"sha256-{digest}"
    assert kept.read_bytes() == data
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(evidence_dir.stat().st_mode) == 0o700
    assert [p.name for p in evidence_dir.iterdir()] == [kept.name]  # no temporary left
    (event,) = evidence_events(runner)
    assert event["actor"] == "bob"
    assert event["data"] == {
        "n": 1,
        "location": f"bob's laptop; copy kept at {kept}",
        "sha256": digest,
        "filename": None,
        "custodian": "bob",
        "size": len(data),
    }


def test_evidence_from_stdin_without_a_directory_keeps_nothing(
    locked: RunCli, tmp_path: Path
) -> None:
    before = files_under(tmp_path)
    r = locked("evidence", "add", "INC-1", "pasted", "--stdin", input="hello")
    assert assert_ok(r) == "EV-1\n"
    assert r.stderr == f"sha256 {hashlib.sha256(b'hello').hexdigest()} (5 bytes)\n"
    changed = {k for k, v in files_under(tmp_path).items() if before.get(k) != v}
    assert changed <= {"ircmd.db", "ircmd.db-wal", "ircmd.db-shm"}


def test_evidence_the_record_refuses_leaves_no_copy(
    locked: RunCli, run_cli: RunCli, tmp_path: Path
) -> None:
    evidence_dir = tmp_path / "evidence"
    env = {"IRCMD_LOCK_USER": "bob", "IRCMD_EVIDENCE_DIR": str(evidence_dir)}
    r = locked("evidence", "add", "INC-9", "x", "--stdin", input="bytes", env=env)
    assert_error(r, "INC-9")
    assert list(evidence_dir.iterdir()) == []
    r = run_cli("evidence", "add", "INC-1", "x", "--stdin", "--file", "/etc/hostname", input="b")
    assert_error(r, "not both")


def test_evidence_over_the_ssh_command_line(locked: RunCli, run_cli: RunCli) -> None:
    r = locked(ssh="evidence add INC-1 'auth.log' --stdin", input="line one\nline two\n")
    assert assert_ok(r) == "EV-1\n"
    (event,) = evidence_events(run_cli)
    assert event["data"]["sha256"] == hashlib.sha256(b"line one\nline two\n").hexdigest()  # type: ignore[index]


def test_evidence_from_stdin_streams_in_bounded_memory(tmp_path: Path, run_cli: RunCli) -> None:
    """256 MiB through a pipe; the process's peak memory stays far below that."""
    assert_ok(run_cli("declare", "t", "--severity", "SEV3"))
    size = 256 << 20
    probe = (
        "import resource, subprocess, sys\n"
        "p = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)\n"
        "chunk = bytes(1 << 20)\n"
        f"for _ in range({size >> 20}):\n"
        "    p.stdin.write(chunk)\n"
        "p.stdin.close()\n"
        "assert p.wait() == 0\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", probe, *IRCMD, "evidence", "add", "INC-1", "disk image", "--stdin"],
        capture_output=True,
        text=True,
        env=clean_env(
            tmp_path / "home", {"IRCMD_DB": str(tmp_path / "ircmd.db"), "IRCMD_USER": "bob"}
        ),
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    peak_kib = int(r.stdout)
    assert peak_kib < 200 * 1024, f"peak {peak_kib} KiB for a {size >> 20} MiB item"
    assert hashlib.sha256(bytes(size)).hexdigest() in r.stderr


def test_an_evidence_directory_that_cannot_be_written_records_nothing(
    locked: RunCli, tmp_path: Path, db_path: Path
) -> None:
    not_a_dir = tmp_path / "evidence"
    not_a_dir.write_text("a file where the directory should be")
    before = event_count(db_path)
    env = {"IRCMD_LOCK_USER": "bob", "IRCMD_EVIDENCE_DIR": str(not_a_dir)}
    r = locked("evidence", "add", "INC-1", "x", "--stdin", input="bytes", env=env)
    assert_error(r, "cannot receive the evidence into", str(not_a_dir))
    assert event_count(db_path) == before
    assert not_a_dir.read_text() == "a file where the directory should be"
