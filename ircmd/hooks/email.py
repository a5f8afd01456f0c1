"""The `email` hook: a plain-text mail through an SMTP server, with STARTTLS and login.

To the payload's "address" when `notify` names a contact with one, otherwise to the
hook's `to`. The Message-ID is made from the delivery's idempotency key, so a mail
sent twice (the deliverer died between the server's "250" and recording it) carries
the same Message-ID both times, and mail clients and list servers drop the repeat.

Port 465 is SMTP over TLS from the first byte; any other port starts in clear and is
upgraded by STARTTLS unless the hook says `starttls = false` (a relay on loopback).
A 4xx reply, a refused or dropped connection and a timeout are tried again; a 5xx
reply (a refused mailbox, a wrong password) and a TLS failure are permanent.
"""

from __future__ import annotations

import re
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from ..display import printable
from ..settings import Hook
from .base import Delivery, Outcome, body_text, headline

SMTPS_PORT = 465
_REASON_CHARS = 200
#: One plain address: no name part, no list, nothing that could end a header line.
_ADDRESS = re.compile(r"^[^\s@<>,;:\"()\[\]\\]+@[^\s@<>,;:\"()\[\]\\]+$")


def message(hook: Hook, delivery: Delivery, to: tuple[str, ...]) -> EmailMessage:
    """The mail of one delivery: headline as subject, `body_text` as body."""
    payload = delivery.payload
    msg = EmailMessage()
    msg["Subject"] = _one_line(headline(payload)) or "ircmd"
    msg["From"] = hook.sender or ""
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id(delivery.idempotency_key, hook.sender or "")
    msg["X-Ircmd-Idempotency-Key"] = delivery.idempotency_key
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to it
    msg.set_content(body_text(payload))
    return msg


def message_id(key: str, sender: str) -> str:
    """`<KEY@domain-of-sender>`: the same on every retry of one delivery."""
    domain = sender.rpartition("@")[2] if "@" in sender else "ircmd.invalid"
    local = re.sub(r"[^A-Za-z0-9._-]", "-", key) or "ircmd"
    return f"<{local}@{re.sub(r'[^A-Za-z0-9.-]', '-', domain)}>"


def recipients(hook: Hook, delivery: Delivery) -> tuple[str, ...]:
    address = delivery.payload.get("address")
    return (str(address),) if address else hook.to


async def send(hook: Hook, delivery: Delivery) -> Outcome:
    """Send one mail; see the module's docstring for what each failure means."""
    to = recipients(hook, delivery)
    if not to:
        return Outcome(False, False, "no recipient", "no address for this notify and no `to`")
    bad = next((a for a in to if not _ADDRESS.match(a)), None)
    if bad is not None:
        return Outcome(False, False, "bad address", f"not one plain address: {_one_line(bad)!r}")
    implicit = hook.smtp_port == SMTPS_PORT
    try:
        errors, reply = await aiosmtplib.send(
            message(hook, delivery, to),
            hostname=hook.smtp_host,
            port=hook.smtp_port,
            username=hook.username,
            password=hook.password,
            use_tls=implicit,
            start_tls=False if implicit else hook.starttls,
            timeout=hook.timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as e:
        first = e.recipients[0]
        return _reply(hook, first.code, f"{first.recipient}: {first.message}")
    except aiosmtplib.SMTPAuthenticationError as e:
        return _reply(hook, e.code, f"login as {hook.username} refused: {e.message}")
    except aiosmtplib.SMTPResponseException as e:
        return _reply(hook, e.code, e.message)
    except aiosmtplib.SMTPTimeoutError:
        return Outcome(False, True, "timeout", f"{hook.smtp_host} did not answer in time")
    except ssl.SSLError as e:
        return Outcome(False, False, "tls", _clean(hook, f"TLS with {hook.smtp_host}: {e}"))
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, OSError) as e:
        return Outcome(False, True, "refused", _clean(hook, str(e)))
    except aiosmtplib.SMTPException as e:
        # What the server cannot do (no STARTTLS, no AUTH): the hook's settings.
        return Outcome(False, False, "refused", _clean(hook, str(e)))
    if errors:  # some of several recipients refused: the rest have it, so no retry
        who, (code, text) = next(iter(errors.items()))
        return Outcome(False, False, str(code), _clean(hook, f"{who}: {text}"))
    return Outcome(True, False, "250", _clean(hook, reply))


def _reply(hook: Hook, code: int, text: str) -> Outcome:
    """A server's refusal: 4xx is "try later", anything else permanent."""
    return Outcome(False, 400 <= code < 500, str(code), _clean(hook, text))


def _one_line(text: str) -> str:
    return printable(" ".join(text.split()))


def _clean(hook: Hook, text: str) -> str:
    """A reason fit for the record: one line, short, without the password."""
    line = _one_line(text)
    if hook.password:
        line = line.replace(hook.password, "***")
    return line if len(line) <= _REASON_CHARS else line[: _REASON_CHARS - 1] + "…"
