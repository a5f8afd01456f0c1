"""The email hook against a real SMTP server (aiosmtpd) on loopback: what arrives,
STARTTLS with login, and what each refusal or fault becomes."""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from helpers.smtp import Inbox, free_port, serve

from ircmd.hooks import email as mail
from ircmd.hooks.base import Delivery, body_text
from ircmd.settings import Hook

PAYLOAD: dict[str, Any] = {
    "hook": "mail",
    "event": {
        "id": 41,
        "kind": "update",
        "incident": "INC-3",
        "occurred_at": "2026-12-01T19:40:00+00:00",
        "actor": "alice",
        "text": "Rolled back the deploy; error rate is falling.",
        "data": {"audience": "external"},
    },
    "incident": {
        "ref": "INC-3",
        "title": "Checkout errors\nInjected: header",
        "severity": "SEV2",
        "status": "mitigated",
    },
    "address": None,
}
PASSWORD = "s3cret-smtp-password"


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"ops", PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def plain(inbox: Inbox) -> Iterator[int]:
    """A relay without TLS or login, as on loopback."""
    controller = serve(inbox)
    yield controller.port
    controller.stop()


@dataclass(frozen=True)
class Tls:
    cert: Path
    key: Path


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tls:
    """A self-signed certificate for 127.0.0.1, which the client is made to trust."""
    assert shutil.which("openssl"), (
        "the openssl command makes the certificate (.ci/run installs it)"
    )
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return Tls(cert, key)


@pytest.fixture
def secured(inbox: Inbox, tls: Tls) -> Iterator[int]:
    """A submission server: STARTTLS before anything, then AUTH LOGIN/PLAIN."""
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert, tls.key)
    controller = serve(
        inbox,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticate,
    )
    yield controller.port
    controller.stop()


def hook(port: int, **kw: Any) -> Hook:
    fields: dict[str, Any] = {
        "name": "mail",
        "kind": "email",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "starttls": False,
        "from": "ircmd@example.org",
        "to": ["oncall@example.org", "exec@example.org"],
        "timeout": 10,
    }
    return Hook.model_validate(fields | kw)


def delivery(**payload: Any) -> Delivery:
    return Delivery(5, "mail", 41, "ab12cd34-mail", PAYLOAD | payload, 1)


async def test_the_mail_that_arrives(plain: int, inbox: Inbox) -> None:
    outcome = await mail.send(hook(plain), delivery())
    assert (outcome.ok, outcome.retry, outcome.status) == (True, False, "250")

    [(rcpt, raw)] = inbox.messages
    assert rcpt == ["oncall@example.org", "exec@example.org"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["From"] == "ircmd@example.org"
    assert msg["To"] == "oncall@example.org, exec@example.org"
    # A newline in the title cannot start a header of its own.
    assert msg["Subject"] == "INC-3 SEV2 Checkout errors Injected: header [mitigated]"
    assert "Injected" not in msg
    assert msg["Message-ID"] == "<ab12cd34-mail@example.org>"
    assert msg["X-Ircmd-Idempotency-Key"] == "ab12cd34-mail"
    assert msg.get_content_type() == "text/plain"
    body = msg.get_content()
    assert body.replace("\r\n", "\n") == body_text(PAYLOAD)
    assert "update: Rolled back the deploy; error rate is falling." in body
    assert "by alice at 2026-12-01T19:40:00+00:00" in body


async def test_a_repeat_has_the_same_message_id(plain: int, inbox: Inbox) -> None:
    for _ in range(2):
        assert (await mail.send(hook(plain), delivery())).ok
    ids = {email.message_from_bytes(raw)["Message-ID"] for _, raw in inbox.messages}
    assert len(inbox.messages) == 2 and len(ids) == 1


async def test_notify_goes_to_the_contacts_address(plain: int, inbox: Inbox) -> None:
    assert (await mail.send(hook(plain), delivery(address="legal@example.org"))).ok
    [(rcpt, raw)] = inbox.messages
    assert rcpt == ["legal@example.org"]
    assert email.message_from_bytes(raw)["To"] == "legal@example.org"


async def test_no_recipient_at_all_is_permanent(plain: int, inbox: Inbox) -> None:
    outcome = await mail.send(hook(plain, to=[]), delivery())
    assert (outcome.ok, outcome.retry, outcome.status) == (False, False, "no recipient")
    assert not inbox.messages


async def test_an_address_that_could_inject_headers_is_refused(plain: int, inbox: Inbox) -> None:
    forged = "legal@example.org\r\nBcc: everyone@example.org"
    outcome = await mail.send(hook(plain), delivery(address=forged))
    assert (outcome.ok, outcome.retry, outcome.status) == (False, False, "bad address")
    assert "\n" not in outcome.reason
    outcome = await mail.send(hook(plain, to=["a@example.org, b@example.org"]), delivery())
    assert outcome.status == "bad address"
    assert not inbox.messages


async def test_starttls_and_login(secured: int, inbox: Inbox) -> None:
    h = hook(secured, starttls=True, username="ops", password=PASSWORD)
    outcome = await mail.send(h, delivery())
    assert outcome.ok, outcome
    [(rcpt, _)] = inbox.messages  # the server takes mail only after STARTTLS and AUTH
    assert rcpt == ["oncall@example.org", "exec@example.org"]


async def test_wrong_password_is_permanent_and_not_recorded(secured: int, inbox: Inbox) -> None:
    h = hook(secured, starttls=True, username="ops", password="wrong-" + PASSWORD)
    outcome = await mail.send(h, delivery())
    assert (outcome.ok, outcome.retry, outcome.status) == (False, False, "535")
    assert outcome.reason.startswith("login as ops refused: ")
    assert "wrong-" not in outcome.reason and PASSWORD not in outcome.reason
    assert not inbox.messages


async def test_without_starttls_a_server_that_requires_it_refuses(
    secured: int, inbox: Inbox
) -> None:
    outcome = await mail.send(hook(secured, starttls=False), delivery())
    assert (outcome.ok, outcome.retry) == (False, False)
    assert outcome.status == "530"
    assert not inbox.messages


async def test_an_untrusted_certificate_is_permanent(
    secured: int, inbox: Inbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "none.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    h = hook(secured, starttls=True, username="ops", password=PASSWORD)
    outcome = await mail.send(h, delivery())
    assert (outcome.ok, outcome.retry) == (False, False), outcome
    assert "certificate" in outcome.reason.lower()
    assert not inbox.messages


async def test_550_rejection_is_permanent_with_the_servers_text(plain: int, inbox: Inbox) -> None:
    outcome = await mail.send(hook(plain, to=["rejected@example.org"]), delivery())
    assert (outcome.ok, outcome.retry, outcome.status) == (False, False, "550")
    assert outcome.reason == "rejected@example.org: 5.1.1 mailbox unavailable"


async def test_4xx_is_retried(plain: int, inbox: Inbox) -> None:
    outcome = await mail.send(hook(plain, to=["later@example.org"]), delivery())
    assert (outcome.ok, outcome.retry, outcome.status) == (False, True, "451")


async def test_server_down_is_retried() -> None:
    outcome = await mail.send(hook(free_port()), delivery())
    assert (outcome.ok, outcome.retry, outcome.status) == (False, True, "refused")


async def test_a_server_that_never_answers_times_out_and_is_retried() -> None:
    with socket.socket() as mute:  # listens, but never says hello
        mute.bind(("127.0.0.1", 0))
        mute.listen()
        outcome = await mail.send(hook(mute.getsockname()[1], timeout=1), delivery())
    assert (outcome.ok, outcome.retry, outcome.status) == (False, True, "timeout")
