"""The Slack sender: an incoming webhook's `{"text": ...}`, which Mattermost and
Rocket.Chat accept too. The text is for people: the incident's severity, title and
status, what happened (the update's text), who and when (`base.body_text`).

The URL is the secret (the token is its path): `webhook.post` never puts it in an
outcome, nor a receiver's answer that quotes it.
"""

from __future__ import annotations

from typing import Any

from ..settings import Hook
from .base import Delivery, Outcome, body_text, headline
from .webhook import body_of, post


def text_of(payload: dict[str, Any]) -> str:
    """The message: the headline in bold, then what happened, by whom, when; a
    `notify` says whom it is meant for."""
    top = headline(payload)
    rest = body_text(payload).removeprefix(top).strip("\n")
    lines = [f"*{top}*" if top else "", rest]
    if payload.get("address"):
        lines.append(f"for {payload['address']}")
    return "\n".join(line for line in lines if line)


async def send(hook: Hook, delivery: Delivery) -> Outcome:
    assert hook.url  # the settings refuse a slack hook without one
    body = body_of({"text": text_of(delivery.payload)})
    headers = {"Content-Type": "application/json", "Idempotency-Key": delivery.idempotency_key}
    return await post(hook.url, body, headers, hook.timeout)
