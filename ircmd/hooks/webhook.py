"""The webhook sender: the delivery's payload as a signed JSON POST.

Headers: `X-Ircmd-Timestamp` (unix seconds), `X-Ircmd-Signature: sha256=<hex of
HMAC-SHA256(secret, timestamp + "." + body)>` (the timestamp is signed so that a
receiver can refuse an old request replayed), `Idempotency-Key` (the same on every
attempt of one event to one hook). `post` is shared with the Slack sender: it maps
what happened to an `Outcome` without ever naming the URL, which may hold a token.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

import aiohttp

from ..settings import Hook
from .base import Delivery, Outcome

#: Longest reason kept from a receiver's answer.
REASON_CHARS = 120


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def body_of(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


async def send(hook: Hook, delivery: Delivery) -> Outcome:
    assert hook.url and hook.secret  # the settings refuse a webhook hook without them
    body = body_of(delivery.payload)
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Ircmd-Timestamp": stamp,
        "X-Ircmd-Signature": signature(hook.secret, stamp, body),
        "Idempotency-Key": delivery.idempotency_key,
    }
    return await post(hook.url, body, headers, hook.timeout)


async def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Outcome:
    """POST `body`; 2xx is sent, 429, 408 and 5xx are worth retrying (Retry-After
    kept), any other answer is a permanent failure (a redirect too: the hook's URL
    is wrong). A timeout or a connection that fails is retried."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.post(url, data=body, headers=dict(headers), allow_redirects=False) as r,
        ):
            answer = (await r.content.read(REASON_CHARS * 4)).decode("utf-8", "replace")
            got = outcome_of(r.status, r.reason or "", answer, r.headers.get("Retry-After"))
            return _scrubbed(got, url)
    except TimeoutError:
        return Outcome(ok=False, retry=True, status="timeout", reason=f"no answer in {timeout:g} s")
    except aiohttp.ClientConnectorError as e:
        # The errno's words, not the error's own text: asyncio's names the address
        # ("Connect call failed ('10.0.0.5', 8443)"), which is no business of the record.
        errno = e.os_error.errno if e.os_error else None
        why = os.strerror(errno) if errno else "cannot connect"
        status = "refused" if isinstance(e.os_error, ConnectionRefusedError) else "unreachable"
        return Outcome(ok=False, retry=True, status=status, reason=why.lower())
    except aiohttp.InvalidURL:
        return Outcome(ok=False, retry=False, status="bad-url", reason="the hook's url is invalid")
    except aiohttp.ClientError as e:
        # The exception's text may quote the URL: only its type is kept.
        return Outcome(ok=False, retry=True, status="error", reason=type(e).__name__)


def _scrubbed(outcome: Outcome, url: str) -> Outcome:
    """The outcome without its reason if the receiver's answer quotes any part of
    the URL that could be a token (a Slack URL's path is its secret)."""
    parts = [p for p in re.split(r"[/?&=#:@]", url) if len(p) >= 8]
    if not any(p in outcome.reason for p in parts):
        return outcome
    return dataclasses.replace(outcome, reason="(the answer quoted the hook's url)")


def outcome_of(status: int, phrase: str, answer: str, retry_after: str | None) -> Outcome:
    reason = _one_line(phrase)
    if 200 <= status < 300:
        return Outcome(ok=True, retry=False, status=str(status), reason=reason)
    said = _one_line(answer)
    if said and said.casefold() != reason.casefold():
        reason = f"{reason}: {said}" if reason else said
    transient = status in (408, 429) or status >= 500
    return Outcome(
        ok=False,
        retry=transient,
        status=str(status),
        reason=reason[:REASON_CHARS],
        retry_after=_seconds(retry_after) if transient else None,
    )


def _one_line(text: str) -> str:
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _seconds(value: str | None) -> float | None:
    """Retry-After as seconds from now: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
