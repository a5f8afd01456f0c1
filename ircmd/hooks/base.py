"""What every sender shares: the delivery it is handed, the outcome it returns, and
the readable text of an event for people (Slack, mail).

A sender is `async def send(hook: Hook, delivery: Delivery) -> Outcome`. It never
raises for a failure of the far end (that is an `Outcome`), and never puts a secret
(URL with a token, password) into `Outcome.reason`: outcomes are appended to the
record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..settings import Hook

#: The JSON shape of `Delivery.payload` (also the webhook's body and the command's
#: standard input):
#:   {"hook": "ops",
#:    "event": {"id": 41, "kind": "update", "incident": "INC-3", "occurred_at": ISO,
#:              "recorded_at": ISO, "actor": "alice", "text": "...", "data": {...},
#:              "hash": "..."},
#:    "incident": {"ref": "INC-3", "title": "...", "severity": "SEV2",
#:                 "status": "investigating", "type": "...", "commander": "..."} | null,
#:    "address": "legal@example.com" | null}     # a contact's address, for `notify`
PAYLOAD_VERSION = 1


@dataclass(frozen=True)
class Delivery:
    """One queued delivery of one event to one hook, as the deliverer hands it over."""

    id: int
    hook: str
    event_id: int
    #: Derived from the event's hash and the hook's name: the same on every retry,
    #: so a receiver can drop repeats.
    idempotency_key: str
    payload: dict[str, Any]
    attempt: int  # 1 on the first try
    #: The database the event is in: a command that records something back (the
    #: gh-issue example's `ircmd action link`) must write to this record, whatever
    #: the deliverer's own environment says (`ircmd deliver --db PATH`).
    record: str = ""


@dataclass(frozen=True)
class Outcome:
    """What became of one attempt."""

    ok: bool
    #: A transient failure (timeout, connection refused, 429, 5xx, SMTP 4xx):
    #: try again later. False with ok=False is a permanent failure.
    retry: bool
    #: Short: "200", "550", "timeout", "exit 3", "refused".
    status: str
    #: One line for people, without secrets: "mailbox unavailable".
    reason: str = ""
    #: Seconds the far end asked to wait (Retry-After), if it said.
    retry_after: float | None = None


Sender = Callable[[Hook, Delivery], Awaitable[Outcome]]


def headline(payload: dict[str, Any]) -> str:
    """The event in one readable line: "INC-3 SEV2 Checkout errors [investigating]"."""
    inc = payload.get("incident") or {}
    parts = [str(inc.get(k, "")) for k in ("ref", "severity", "title") if inc.get(k)]
    status = inc.get("status")
    return " ".join(parts) + (f" [{status}]" if status else "")


def body_text(payload: dict[str, Any]) -> str:
    """The event as plain text for people: headline, what happened, who, when."""
    ev = payload.get("event") or {}
    kind = str(ev.get("kind", "event")).replace("_", " ")
    lines = [headline(payload), ""]
    text = str(ev.get("text") or "")
    lines.append(f"{kind}: {text}" if text else kind)
    lines.append(f"by {ev.get('actor', '?')} at {ev.get('occurred_at', '?')}")
    return "\n".join(lines).strip() + "\n"
