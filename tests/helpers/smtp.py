"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the email hook: it keeps what it
accepted, and refuses recipients as a test scripts it by their address.

`serve` starts one on a free port (or a given one: the same server back after it
was stopped, to a deliverer that still has its address). aiosmtpd runs it on a
thread of its own, so a test drives it the same way whether the sender is a
coroutine in the test's loop or another process.
"""

from __future__ import annotations

import asyncio
import email
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from .processes import DEADLINE


@dataclass
class Inbox:
    """What the server accepted; RCPT to a `rejected@` address is refused for good,
    to a `later@` one for now."""

    messages: list[tuple[list[str], bytes]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("rejected@"):
            return "550 5.1.1 mailbox unavailable"
        if address.startswith("later@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        assert isinstance(content, bytes)
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), content))
        return "250 2.0.0 queued"

    def got(self) -> list[email.message.Message]:
        """The mails so far, parsed (the server's thread may be adding one)."""
        with self._lock:
            raw = [content for _, content in self.messages]
        return [email.message_from_bytes(r) for r in raw]

    async def until(self, n: int, timeout: float = DEADLINE) -> list[email.message.Message]:
        """At least `n` mails, waiting up to `timeout` seconds while the test's event
        loop (a screen under Pilot) keeps running."""
        end = time.monotonic() + timeout
        while len(got := self.got()) < n:
            if time.monotonic() > end:
                raise AssertionError(f"{len(got)} mails within {timeout} s, wanted {n}")
            await asyncio.sleep(0.01)
        return got


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(inbox: Inbox, port: int | None = None, **kw: Any) -> Controller:
    """An SMTP server for `inbox`, started, on `port` or a free one (its `.port`);
    `kw` goes to aiosmtpd's Controller (TLS, login). The caller stops it."""
    controller = Controller(inbox, hostname="127.0.0.1", port=port or free_port(), **kw)
    controller.start()
    return controller
