"""A real HTTP receiver on 127.0.0.1 for the hooks: it checks the webhook's
signature, records what arrived, and answers as a test scripts it.

It runs its own event loop in a thread, so a test drives it the same way whether
the deliverer is a coroutine in the test's loop or another process. It can be
stopped and started again on the same port (a receiver that is down), made to hold
requests (slow, or a sender killed mid-send) and to answer with a script of
statuses (500 then 200, 429 with Retry-After, 400).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from .processes import DEADLINE

SECRET = "receiver-secret-0123456789abcdef"
#: Part of every Slack-format URL the tests use, as a token would be.
SLACK_TOKEN = "T0KEN-abcdef0123456789-never-shown"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "ok"


@dataclass(frozen=True)
class Arrival:
    path: str
    key: str
    body: Any
    signed: bool  # the webhook signature checked out (False when there was none)
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival


class Receiver:
    """One receiver; `url` is its webhook endpoint, `slack_url` a Slack-like one."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.arrivals: list[Arrival] = []
        self.script: list[Reply] = []
        self.port = 0
        self._lock = threading.Lock()
        self._open = threading.Event()
        self._open.set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._runner: web.AppRunner | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def slack_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/{SLACK_TOKEN}"

    # ------------------------------------------------------------ control

    def start(self) -> None:
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(DEADLINE)

    def stop(self) -> None:
        """Down: connections are refused until `start`."""
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(DEADLINE)

    def close(self) -> None:
        self._open.set()
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(DEADLINE)

    def hold(self) -> None:
        """Requests are recorded, then not answered until `release`."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def answer(self, *replies: Reply) -> None:
        """The next requests' answers, in order; then 200 again."""
        with self._lock:
            self.script.extend(replies)

    def got(self) -> list[Arrival]:
        with self._lock:
            return list(self.arrivals)

    def wait_for(self, n: int, timeout: float = DEADLINE) -> list[Arrival]:
        """At least `n` arrivals, waiting up to `timeout` seconds."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = self.got()
            if len(got) >= n:
                return got
            time.sleep(0.01)
        raise AssertionError(f"{len(self.got())} arrivals within {timeout} s, wanted {n}")

    async def until(self, n: int, timeout: float = DEADLINE) -> list[Arrival]:
        """`wait_for` for a test whose event loop must keep running meanwhile."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = self.got()
            if len(got) >= n:
                return got
            await asyncio.sleep(0.01)
        raise AssertionError(f"{len(self.got())} arrivals within {timeout} s, wanted {n}")

    # ------------------------------------------------------------ serving

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = runner.addresses[0][1]
        self._runner = runner

    async def _stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        stamp = request.headers.get("X-Ircmd-Timestamp", "")
        given = request.headers.get("X-Ircmd-Signature", "")
        mac = hmac.new(self.secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256)
        signed = bool(given) and hmac.compare_digest(given, "sha256=" + mac.hexdigest())
        arrival = Arrival(
            path=request.path,
            key=request.headers.get("Idempotency-Key", ""),
            body=json.loads(raw),
            signed=signed,
            headers=dict(request.headers),
            at=time.monotonic(),
        )
        with self._lock:
            self.arrivals.append(arrival)
            reply = self.script.pop(0) if self.script else Reply()
        while not self._open.is_set():
            await asyncio.sleep(0.01)
        if request.path == "/hook" and not signed:
            return web.Response(status=401, text="bad signature")
        return web.Response(status=reply.status, text=reply.body, headers=reply.headers)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        with contextlib.suppress(Exception):
            r.close()
