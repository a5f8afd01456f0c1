"""ircmd through a real sshd, the way a team runs it: one key per person in
authorized_keys, each with a forced command that locks the identity.

A private sshd listens on loopback with its own host key and config; the client is
OpenSSH's `ssh` inside tmux (for the screen) or plain (for one-shot commands and
`--stdin` streams). CI installs openssh-server; without it this fails, never skips.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers.cli import files_under
from helpers.tmux import Tmux

pytestmark = pytest.mark.e2e

IRCMD = Path(sys.executable).with_name("ircmd")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Host:
    """A running sshd and what a client needs to reach it as one person."""

    port: int
    keys: dict[str, Path]
    db: Path
    home: Path
    authorized_keys: Path
    evidence: Path

    def ssh(self, person: str, *, tty: bool = False) -> list[str]:
        return [
            "ssh",
            *(["-tt"] if tty else ["-T"]),
            "-p", str(self.port),
            "-i", str(self.keys[person]),
            "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR",
            "--",  # the rest is the remote command, even `--as`
            "127.0.0.1",
        ]  # fmt: skip

    def run(
        self, person: str, *args: str, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        # ssh joins its arguments with spaces, so quote them as a user would.
        return subprocess.run(
            [*self.ssh(person), shlex.join(args)],
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def send(self, person: str, *args: str, data: bytes) -> subprocess.CompletedProcess[bytes]:
        """`run` with bytes on standard input, as `ssh host CMD < file` sends them."""
        return subprocess.run(
            [*self.ssh(person), shlex.join(args)], input=data, capture_output=True, timeout=120
        )


def keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, timeout=30
    )


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    assert Path(sshd).exists(), "sshd is not installed (apt-get install openssh-server)"
    assert shutil.which("ssh"), "ssh is not installed (apt-get install openssh-client)"
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
    d = tmp_path / "sshd"
    d.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    db = tmp_path / "team.db"
    keygen(d / "host_key")
    keys: dict[str, Path] = {}
    lines = []
    for person in ("alice", "bob", "viewer"):
        keygen(d / person)
        keys[person] = d / person
        env = {
            "IRCMD_LOCK_USER": person,
            "IRCMD_DB": str(db),
            "IRCMD_EVIDENCE_DIR": str(tmp_path / "evidence"),
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_CONFIG_HOME": str(home / "config"),
        } | ({"IRCMD_READ_ONLY": "1"} if person == "viewer" else {})
        forced = "env " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        forced += f" {shlex.quote(str(IRCMD))}"
        public = (d / f"{person}.pub").read_text().strip()
        lines.append(f'restrict,pty,command="{forced}" {public}')
    (d / "authorized_keys").write_text("\n".join(lines) + "\n")
    port = free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\n"
        f"PidFile {d / 'sshd.pid'}\nAuthorizedKeysFile {d / 'authorized_keys'}\n"
        "StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UsePAM no\nPermitRootLogin prohibit-password\nLogLevel ERROR\n"
    )
    proc = subprocess.Popen(
        [sshd, "-D", "-e", "-f", str(d / "sshd_config")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, (
                    f"sshd exited: {proc.stdout.read() if proc.stdout else ''}"
                )
                assert time.monotonic() < deadline, "sshd did not start listening"
                time.sleep(0.05)
        yield Host(
            port=port,
            keys=keys,
            db=db,
            home=home,
            authorized_keys=d / "authorized_keys",
            evidence=tmp_path / "evidence",
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def events(db: Path) -> list[tuple[str, str, str]]:
    out = subprocess.run(
        [str(IRCMD), "--db", str(db), "show", "INC-1", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return [(e["actor"], e["kind"], e["text"]) for e in json.loads(out)["events"]]


def test_one_shot_commands_and_streams_over_ssh_act_as_the_key_owner(host: Host) -> None:
    r = host.run("alice", "declare", "Checkout down (ssh)", "--severity", "SEV2")
    assert (r.returncode, r.stdout, r.stderr) == (0, "INC-1\n", "")
    r = host.run("bob", "log", "INC-1", "--stdin", input="from a pipe\nand another\n")
    assert r.returncode == 0, r.stderr
    r = host.run("bob", "--as", "alice", "log", "INC-1", "pretending")
    assert r.returncode == 1
    assert (
        r.stderr.strip()
        == "ircmd: error: this session is locked to user 'bob'; --as 'alice' refused"
    )
    r = host.run("bob", "--db", "/tmp/elsewhere.db", "list")
    assert r.returncode == 1 and "--db refused" in r.stderr
    # As people type it: ssh joins the words with spaces, the apostrophe unquoted.
    plain = [*host.ssh("bob"), "log", "INC-1", "rollback done, can't see 5xx now"]
    r = subprocess.run(plain, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert events(host.db) == [
        ("alice", "declare", "Checkout down (ssh)"),
        ("bob", "note", "from a pipe"),
        ("bob", "note", "and another"),
        ("bob", "note", "rollback done, can't see 5xx now"),
    ]


def test_the_screen_over_ssh_in_a_real_terminal(host: Host, tmp_path: Path) -> None:
    assert host.run("alice", "declare", "Checkout down", "--severity", "SEV2").returncode == 0
    tmux = Tmux(tmp_path / "tmux.sock")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRCMD_")}
    env["TERM"] = "xterm-256color"
    tmux.start(shlex.join(host.ssh("bob", tty=True)), env)
    try:
        tmux.wait(lambda s: "INC-1" in s and "Checkout down" in s, "the board over ssh")
        tmux.key("Enter")  # the board's highlighted incident becomes current
        tmux.wait(lambda s: "Timeline INC-1" in s, "INC-1 opened")
        tmux.type("typed over ssh by bob")
        tmux.wait(lambda s: "typed over ssh by bob" in s, "the text in the bar")
        tmux.key("Enter")
        tmux.wait(lambda s: "#2 added" in s, "the note confirmed")
        # Another person's one-shot command shows up on bob's screen.
        assert host.run("alice", "log", "INC-1", "alice via ssh log").returncode == 0
        screen = tmux.wait(lambda s: "alice via ssh log" in s, "alice's note on bob's screen")
        assert all(len(line) <= 80 for line in screen.splitlines())
        tmux.quit("the ssh session did not end when ircmd quit")
    finally:
        if tmux.alive():
            tmux.run("kill-server")
    assert events(host.db)[1:] == [
        ("bob", "note", "typed over ssh by bob"),
        ("alice", "note", "alice via ssh log"),
    ]


# --------------------------------------------- a locked key reaches no host file


def path_attempts(target: Path) -> list[tuple[str, ...]]:
    t = str(target)
    return [
        ("report", "INC-1", "-o", t),
        ("report", "INC-1", f"-o{t}"),
        ("report", "INC-1", "--output", t),
        ("report", "INC-1", f"--output={t}"),
        ("report", "INC-1", "--out", t),
        ("report", "INC-1", "--format", "md", "-o", t),
        ("report", "INC-1", "--", "-o", t),
        ("--", "report", "INC-1", "-o", t),
        ("evidence", "add", "INC-1", "keys", "--file", t),
        ("backup", t),
        ("--db", t, "list"),
        ("restore", t),
        ("anchor", "--log", t),
        ("anchor", "--sign", t),
        ("status-page", "--out", t),
        ("serve", "--cert", t, "--key", t, "--listen", "127.0.0.1:0"),
        ("migrate", "--from", t, "--to", "postgresql://x@127.0.0.1:1/y"),
    ]


def logs_in_with_a_shell(host: Host, key: Path) -> bool:
    ssh = host.ssh("alice")
    ssh[ssh.index(str(host.keys["alice"]))] = str(key)
    r = subprocess.run([*ssh, "echo shell-for-$USER"], capture_output=True, text=True, timeout=60)
    return r.returncode == 0 and "shell-for-" in r.stdout


def test_the_authorized_keys_attack_is_refused_in_every_spelling(
    host: Host, tmp_path: Path
) -> None:
    """Issue 9: log a note whose second line is your own public key, then write the
    report over the account's authorized_keys, and log in again with a plain shell."""
    assert host.run("alice", "declare", "Checkout down", "--severity", "SEV2").returncode == 0
    keygen(tmp_path / "mallory")
    public = (tmp_path / "mallory.pub").read_text().strip()
    r = host.run("bob", "log", "INC-1", f"ignore this\n{public}")
    assert r.returncode == 0, r.stderr
    r = host.run("bob", "log", "INC-1", "--stdin", input=f"{public}\n")
    assert r.returncode == 0, r.stderr
    link = tmp_path / "keys-link"
    link.symlink_to(host.authorized_keys)
    before = files_under(tmp_path)
    for person in ("bob", "viewer"):  # a read-only key too
        for target in (host.authorized_keys, link, host.db, tmp_path / "new"):
            attempts = path_attempts(target)
            if target != host.authorized_keys:
                attempts = attempts[::2]
            for args in attempts:
                r = host.run(person, *args)
                lines = r.stderr.splitlines()
                assert r.returncode != 0 and len(lines) == 1, (person, args, r.stderr)
                assert lines[0].startswith("ircmd: error: "), lines[0]
                assert files_under(tmp_path) == before, (person, args)
    assert not logs_in_with_a_shell(host, tmp_path / "mallory")
    assert "ircmd: error: this session is locked by its administrator; report -o refused" in (
        host.run("bob", "report", "INC-1", "-o", str(host.authorized_keys)).stderr
    )
    # What a locked key may do still works: the report on standard output.
    r = host.run("bob", "report", "INC-1")
    assert r.returncode == 0 and public in r.stdout


def test_a_read_only_key_writes_nothing(host: Host, tmp_path: Path) -> None:
    assert host.run("alice", "declare", "Checkout down", "--severity", "SEV2").returncode == 0
    # A reader opens the WAL database as any reader does (SQLite's -wal/-shm index
    # files appear); from then on nothing the viewer tries changes a byte.
    r = host.run("viewer", "show", "INC-1")
    assert r.returncode == 0 and "Checkout down" in r.stdout
    before = files_under(tmp_path)
    for args in (
        ("log", "INC-1", "x"),
        ("backup", str(tmp_path / "copy.db")),
        ("restore", str(host.db)),
        ("anchor",),
        ("report", "INC-1", "-o", str(tmp_path / "r.md")),
        ("evidence", "add", "INC-1", "x", "--stdin"),
        ("status-page", "--out", str(tmp_path / "page")),
        ("serve", "--cert", str(host.db), "--key", str(host.db), "--listen", "127.0.0.1:0"),
        ("migrate", "--from", str(host.db), "--to", "postgresql://x@127.0.0.1:1/y"),
        ("pg-setup", "--apply"),
    ):
        r = host.run("viewer", *args, input="bytes")
        assert r.returncode != 0 and len(r.stderr.splitlines()) == 1, (args, r.stderr)
    assert files_under(tmp_path) == before


def test_evidence_streams_over_ssh_and_is_kept_by_the_host(host: Host) -> None:
    assert host.run("alice", "declare", "Breach", "--severity", "SEV1").returncode == 0
    data = os.urandom(3 << 20) + b"\x00\r\nlast line without newline"
    digest = hashlib.sha256(data).hexdigest()
    r = host.send("bob", "evidence", "add", "INC-1", "auth.log", "--stdin", data=data)
    assert (r.returncode, r.stdout) == (0, b"EV-1\n"), r.stderr
    assert r.stderr.decode() == f"sha256 {digest} ({len(data)} bytes)\n"
    kept = host.evidence / f"sha256-{digest}"
    assert kept.read_bytes() == data and (kept.stat().st_mode & 0o777) == 0o600
    shown = subprocess.run(
        [str(IRCMD), "--db", str(host.db), "evidence", "list", "INC-1", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    (item,) = json.loads(shown)
    assert (item["sha256"], item["collected_by"]) == (digest, "bob")
