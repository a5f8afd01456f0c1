"""Anchors: the chain's head written down outside the database, so a rewrite shows.

The hash chain alone proves only that the record agrees with itself: whoever can
write the file can rewrite it whole, cut its tail or replace it, and the chain still
checks. An anchor is one JSON line appended to a log kept away from the database
(count, head id, head hash, time, the database's resolved path), optionally signed
with an SSH key through `ssh-keygen -Y sign`. `verify` checks every anchor of the
database; each process that opens the record checks the newest one (one indexed
query), and long-running processes anchor on their own (`AutoAnchor`).

No Textual here: the CLI, the screen and any future `serve` share this module.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .config import AnchorSettings
from .domain import InvalidInput, StorageError
from .store.reader import hash_of

if TYPE_CHECKING:  # a one-shot command's SyncStore runs without asyncio or aiosqlite
    import asyncio

    from .models import Head
    from .store import Store
    from .store.facade import Face
    from .store.sync import SyncStore

T = TypeVar("T")

NAMESPACE = "ircmd-anchor"  # ssh-keygen's signature namespace: a signature for nothing else
SIGN_TIMEOUT = 30.0  # seconds ssh-keygen may take (a hardware key waits for a touch)
TAIL_LIMIT = 1 << 20  # bytes read back from the log's end looking for this database's anchor
_BLOCK = 8192


@dataclass(frozen=True, kw_only=True)
class Anchor:
    """One line of the anchor log. `sig`, when present, is ssh-keygen's armored
    signature over `payload()`: every other field, canonically encoded.

    A plain dataclass, not a pydantic model: every process that opens the record
    reads the newest anchor, a one-shot `ircmd log` too, which never imports pydantic."""

    v: int = 1
    db: str
    count: int
    head_id: int
    head_hash: str
    at: str
    sig: str | None = None

    @classmethod
    def parse(cls, raw: bytes) -> Anchor | None:
        """The anchor a line of the log holds; None for anything else: not JSON, a
        field missing, unknown or of another type (a bool is no count)."""
        try:
            body = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(body, dict) or not body.keys() <= {f.name for f in fields(cls)}:
            return None
        try:
            a = cls(**body)
        except TypeError:  # a field missing
            return None
        typed = (
            all(type(n) is int for n in (a.v, a.count, a.head_id))
            and all(type(t) is str for t in (a.db, a.head_hash, a.at))
            and (a.sig is None or type(a.sig) is str)
        )
        return a if typed else None

    def payload(self) -> bytes:
        body = asdict(self)
        del body["sig"]
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def line(self) -> bytes:
        body = {k: v for k, v in asdict(self).items() if v is not None}
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode() + b"\n"

    def describe(self, number: int) -> str:
        return f"anchor at line {number} ({self.at}, head #{self.head_id}, {self.count} events)"


def db_key(path: Path | str) -> str:
    """The database as anchors name it: its resolved absolute path, or its URL
    without a password."""
    if isinstance(path, str):
        from .store.postgres import redact

        return redact(path)
    return str(path.expanduser().resolve())


def check_log_path(log: Path, db: Path | str) -> None:
    """Refuse an anchor log beside the database: whoever can replace files in the
    database's directory could replace the log with it."""
    if (
        isinstance(db, Path)
        and log.expanduser().resolve().parent == db.expanduser().resolve().parent
    ):
        raise InvalidInput(
            f"the anchor log {log} is in the database's directory; keep it elsewhere"
            " (IRCMD_ANCHOR_LOG)"
        )


# ------------------------------------------------------------------ the log


def append(log: Path, anchor: Anchor) -> None:
    """Append one line with O_APPEND and fsync it; the file is created 0600.

    A line torn by a crash would swallow the next one, so a log that does not end
    with a newline gets one first.
    """
    log = log.expanduser()
    try:
        log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(log, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as e:
        raise StorageError(f"cannot open the anchor log {log}: {e.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise StorageError(f"the anchor log {log} is not a regular file")
        data = anchor.line()
        if info.st_size and os.pread(fd, 1, info.st_size - 1) != b"\n":
            data = b"\n" + data
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    except OSError as e:
        raise StorageError(f"cannot write the anchor log {log}: {e.strerror}") from None
    finally:
        os.close(fd)


def read_all(log: Path, db: Path | str) -> Iterator[tuple[int, Anchor | None]]:
    """(line number, anchor) for each line about `db`, in order; None for a line that
    is not an anchor at all (torn or edited). A missing log has no lines."""
    key = db_key(db)
    try:
        f = log.expanduser().open("rb")
    except FileNotFoundError:
        return
    except OSError as e:
        raise StorageError(f"cannot read the anchor log {log}: {e.strerror}") from None
    with f:
        for number, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            anchor = Anchor.parse(raw)
            if anchor is None or anchor.db == key:
                yield number, anchor


def newest(log: Path, db: Path | str) -> Anchor | None:
    """The last anchor of `db`, read backwards from the log's end (usually one block:
    the cost of every `ircmd log` stays flat however long the log grows)."""
    key = db_key(db)
    try:
        f = log.expanduser().open("rb")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise StorageError(f"cannot read the anchor log {log}: {e.strerror}") from None
    with f:
        end = f.seek(0, os.SEEK_END)
        pos, tail = end, b""
        while pos > 0 and end - pos < TAIL_LIMIT:
            step = min(_BLOCK, pos)
            pos -= step
            f.seek(pos)
            tail = f.read(step) + tail
            lines = tail.split(b"\n")
            # The first piece may be a partial line unless we reached the start.
            complete, tail = (lines, b"") if pos == 0 else (lines[1:], lines[0])
            for raw in reversed(complete):
                anchor = Anchor.parse(raw) if raw.strip() else None
                if anchor is not None and anchor.db == key:
                    return anchor
    return None


# ---------------------------------------------------------------- signatures


def _ssh_keygen(args: list[str], data: bytes) -> subprocess.CompletedProcess[bytes]:
    """Run ssh-keygen without a shell, in its own session: with no terminal it cannot
    prompt for a passphrase over the screen, it fails instead."""
    try:
        return subprocess.run(
            ["ssh-keygen", *args],
            input=data,
            capture_output=True,
            timeout=SIGN_TIMEOUT,
            start_new_session=True,
            check=False,
        )
    except FileNotFoundError:
        raise StorageError("ssh-keygen is not installed: cannot sign or check anchors") from None
    except subprocess.TimeoutExpired:
        raise StorageError(f"ssh-keygen took longer than {SIGN_TIMEOUT:g} s") from None


def _last_line(output: bytes) -> str:
    lines = output.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "no reason given"


def sign(anchor: Anchor, key: Path) -> Anchor:
    """The anchor with its signature by `key` (a private key file, or the public
    half of a key held by ssh-agent)."""
    r = _ssh_keygen(["-Y", "sign", "-f", str(key.expanduser()), "-n", NAMESPACE], anchor.payload())
    if r.returncode != 0 or b"BEGIN SSH SIGNATURE" not in r.stdout:
        raise StorageError(f"cannot sign the anchor with {key}: {_last_line(r.stderr)}")
    return replace(anchor, sig=r.stdout.decode().strip())


def check_signature(anchor: Anchor, signers: Path | None) -> str | None:
    """Why the anchor's signature does not hold, or None when it does.

    With an allowed_signers file the signing key must be listed there
    (`ssh-keygen -Y find-principals`, then `-Y verify`); without one, only that the
    signature is sound for the key it carries (`-Y check-novalidate`), which proves
    the line unedited but not who made it.
    """
    assert anchor.sig is not None
    with tempfile.TemporaryDirectory(prefix="ircmd-anchor-") as tmp:
        sig = Path(tmp) / "anchor.sig"
        sig.write_text(anchor.sig + "\n", encoding="ascii")
        if signers is None:
            r = _ssh_keygen(
                ["-Y", "check-novalidate", "-n", NAMESPACE, "-s", str(sig)], anchor.payload()
            )
            return None if r.returncode == 0 else "its signature does not match it"
        found = _ssh_keygen(["-Y", "find-principals", "-s", str(sig), "-f", str(signers)], b"")
        principals = found.stdout.decode(errors="replace").split()
        if found.returncode != 0 or not principals:
            return f"it is not signed by a key in {signers}"
        who = principals[0]
        args = ["-Y", "verify", "-f", str(signers), "-I", who, "-n", NAMESPACE, "-s", str(sig)]
        r = _ssh_keygen(args, anchor.payload())
        return None if r.returncode == 0 else "its signature does not match it"


# ---------------------------------------------------------------- the checks


# asyncio is imported where it is used: a one-shot command's opening check
# (`open_warning_sync`) runs without an event loop.


async def to_thread(fn: Callable[..., T], /, *args: Any) -> T:
    """`asyncio.to_thread`: signing and the log's fsync keep the event loop free."""
    import asyncio

    return await asyncio.to_thread(fn, *args)


def _new_lock() -> asyncio.Lock:
    import asyncio

    return asyncio.Lock()


def disagreement(anchor: Anchor, found: str | None) -> str | None:
    """Why the record no longer agrees with `anchor`, given the hash it now holds for
    the anchored head event (`found`, None when there is no such event), or None."""
    if anchor.head_id == 0:
        return None  # anchored while empty: nothing to find
    if found is None:
        return f"event #{anchor.head_id} is gone"
    if found != anchor.head_hash:
        return f"event #{anchor.head_id} is not the event that was anchored (its hash differs)"
    return None


async def mismatch(store: Store, anchor: Anchor) -> str | None:
    """Why the record no longer agrees with `anchor` (one indexed query), or None."""
    return disagreement(anchor, await store.hash_of(anchor.head_id))


def _to_check(store: Face, settings: AnchorSettings) -> Anchor | str | None:
    """The newest anchor of the database to check on opening; the reason, as the
    warning, when the log cannot be read; None when there is no log or no anchor."""
    if settings.log is None:
        return None
    try:
        return newest(settings.log, store.location)
    except StorageError as e:
        return str(e)


def _warning(anchor: Anchor, why: str | None) -> str | None:
    if why is None:
        return None
    return (
        f"the record does not match its newest anchor ({anchor.at}, head #{anchor.head_id}):"
        f" {why}; it was changed outside ircmd, run `ircmd verify`"
    )


async def open_warning(store: Store, settings: AnchorSettings) -> str | None:
    """What a process says on opening the record when the newest anchor of this
    database does not match it; None when it matches or there is none."""
    anchor = _to_check(store, settings)
    if not isinstance(anchor, Anchor):
        return anchor
    return _warning(anchor, await mismatch(store, anchor))


def open_warning_sync(store: SyncStore, settings: AnchorSettings) -> str | None:
    """`open_warning` for a one-shot command's SyncStore."""
    anchor = _to_check(store, settings)
    if not isinstance(anchor, Anchor):
        return anchor
    return _warning(anchor, disagreement(anchor, store.read(hash_of, anchor.head_id)))


@dataclass(frozen=True)
class AnchorCheck:
    """What `verify` found in the anchor log: how many anchors matched and, at the
    first one that did not, why."""

    log: Path | None
    checked: int = 0
    failure: str | None = None


async def verify_anchors(store: Store, settings: AnchorSettings, head: Head) -> AnchorCheck:
    """Check every anchor of this database in order; stop at the first that fails.

    An anchor fails when its head event is gone or different, when the record now
    holds fewer events than it did, or when its signature does not hold (or it is
    unsigned while an allowed_signers file says anchors must be signed).
    """
    log = settings.log
    if log is None:
        return AnchorCheck(log=None)
    checked = 0
    for number, anchor in read_all(log, store.location):
        if anchor is None:
            return AnchorCheck(log, checked, f"line {number} of {log} is not an anchor")
        why = await mismatch(store, anchor)
        if why is None and head.count < anchor.count:
            why = f"the record holds {head.count} events, fewer than the {anchor.count} anchored"
        if why is None and anchor.sig is not None:
            why = await to_thread(check_signature, anchor, settings.signers)
        if why is None and anchor.sig is None and settings.signers is not None:
            why = f"it is unsigned, but IRCMD_ANCHOR_SIGNERS ({settings.signers}) is set"
        if why is not None:
            return AnchorCheck(log, checked, f"{anchor.describe(number)} does not hold: {why}")
        checked += 1
    return AnchorCheck(log, checked)


# ------------------------------------------------------------------ anchoring


async def write_anchor(
    store: Store, settings: AnchorSettings, now: datetime, *, key: Path | None = None
) -> Anchor:
    """Anchor the record's head now: refuse when the newest anchor no longer matches
    (anchoring then would bless a rewrite), else append a line, signed if a key is
    given or configured."""
    log = settings.log
    if log is None:
        raise InvalidInput("no anchor log is configured (IRCMD_ANCHOR_LOG)")
    check_log_path(log, store.location)
    warning = await open_warning(store, settings)
    if warning is not None:
        raise StorageError(f"{warning}; nothing anchored")
    head = await store.head()
    anchor = Anchor(
        db=db_key(store.location),
        count=head.count,
        head_id=head.id,
        head_hash=head.hash,
        at=now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
    signer = key or settings.key
    if signer is not None:
        anchor = await to_thread(sign, anchor, signer)
    await to_thread(append, log, anchor)
    return anchor


@dataclass
class AutoAnchor:
    """Anchoring for a long-running process: every `every_events` new events and
    every `every_minutes` of its clock, whichever comes first (0 turns one off).

    Cheap by design: whether an anchor is due is decided from the newest event id
    the process already knows (its change feed) and its clock; only then is the head
    read (one query) and a line appended. A time-triggered anchor is written only
    when the head moved since the last one, so an idle screen adds nothing.
    """

    store: Store
    settings: AnchorSettings
    clock: Callable[[], datetime]
    last_id: int = 0
    last_at: datetime | None = None
    _known: int = field(default=0, init=False)
    # A feed batch and a heartbeat may both find an anchor due: one line, not two.
    _busy: asyncio.Lock = field(default_factory=_new_lock, init=False)

    def __post_init__(self) -> None:
        self._known = self.last_id
        if self.last_at is None:
            self.last_at = self.clock()

    def due(self, newest_id: int | None = None) -> bool:
        """Is an anchor due, given the newest event id seen (None: only the clock)?"""
        if newest_id is not None:
            self._known = max(self._known, newest_id)
        if self._known <= self.last_id:
            return False
        s = self.settings
        if s.every_events and self._known - self.last_id >= s.every_events:
            return True
        assert self.last_at is not None
        elapsed = self.clock() - self.last_at
        return bool(s.every_minutes) and elapsed >= timedelta(minutes=s.every_minutes)

    async def tick(self, newest_id: int | None = None) -> Anchor | None:
        """Anchor if due. Raises StorageError (the log cannot be written, the key
        cannot sign, the record no longer matches its newest anchor)."""
        async with self._busy:
            if self.settings.log is None or not self.due(newest_id):
                return None
            now = self.clock()
            anchor = await write_anchor(self.store, self.settings, now)
            self.last_id, self.last_at = anchor.head_id, now
            self._known = max(self._known, anchor.head_id)
            return anchor
