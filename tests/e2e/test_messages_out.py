"""The messages-out issue's "Done when", end to end from the screen alone.

An update typed in the command bar (`/update external ...`) reaches a webhook
receiver that checks the HMAC signature, a Slack-format receiver and an SMTP server,
all real servers on 127.0.0.1, sent by a real `ircmd deliver` process whose
config.toml (chmod 600) holds the three hooks; the update's timeline line shows
each outcome. Then, with the receivers down, two more updates wait (shown retrying
and queued on the screen) and go out, in order, when the receivers come back, and
each arrives once: counted by the webhook's and Slack's Idempotency-Key and the
mail's Message-ID. The deliverer keeps the real time, so the screen does too.

The retries after the receivers come back follow `ircmd deliver`'s own backoff
(about 2 s, doubling): there is no knob to shorten it, so the waits are generous
deadlines on conditions, never sleeps.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path

import pytest
from helpers.processes import DEADLINE
from helpers.receivers import SECRET, SLACK_TOKEN, Receiver
from helpers.screen import lines_of, running, shown, submit, until
from helpers.serve import Deliver, write_config
from helpers.smtp import Inbox, serve

from ircmd.models import Severity
from ircmd.store import Store
from ircmd.store.store import utc_now

HOOKS = ("chat", "mail", "ops")  # as the timeline lists them: by name
#: Long enough for a few rounds of the deliverer's backoff on a loaded machine.
BACK = 3 * DEADLINE


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


def config_of(root: Path, receiver: Receiver, smtp_port: int) -> Path:
    root.mkdir()
    return write_config(
        root,
        f"""
[[hooks]]
name = "ops"
kind = "webhook"
url = "{receiver.url}"
secret = "{SECRET}"
events = ["update"]
audience = "external"

[[hooks]]
name = "chat"
kind = "slack"
url = "{receiver.slack_url}"
events = ["update"]
audience = "external"

[[hooks]]
name = "mail"
kind = "email"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
starttls = false
from = "ircmd@example.org"
to = ["status@example.org"]
events = ["update"]
audience = "external"
""",
    )


def webhook_texts(receiver: Receiver) -> list[str]:
    return [a.body["event"]["text"] for a in receiver.got() if a.path == "/hook"]


def slack_texts(receiver: Receiver) -> list[str]:
    return [a.body["text"] for a in receiver.got() if a.path != "/hook"]


async def test_updates_from_the_screen_reach_three_receivers_and_wait_while_they_are_down(
    tmp_path: Path, receiver: Receiver, inbox: Inbox
) -> None:
    mail_server = serve(inbox)
    port = mail_server.port
    config = config_of(tmp_path / "admin", receiver, port)
    db = tmp_path / "ircmd.db"
    async with await Store.open(db) as store:
        await store.declare("Checkout down", actor="alice", severity=Severity.SEV2)
    home = tmp_path / "home"
    home.mkdir()
    deliver = Deliver(db, home, config)
    try:
        assert deliver.first == "ircmd deliver: sending for ops, chat, mail"
        await deliver.routed()
        async with running(db, clock=utc_now, poll_interval=0.05) as pilot:
            # 1. Up: one update reaches all three, and its line says so.
            screen = await submit(pilot, "/update external Rolled back; checkout recovering")
            [hook, chat] = sorted(await receiver.until(2), key=lambda a: a.path)
            assert hook.path == "/hook" and hook.signed
            assert hook.body["event"]["text"] == "Rolled back; checkout recovering"
            assert chat.path == f"/services/{SLACK_TOKEN}" and "text" in chat.body
            assert "Rolled back; checkout recovering" in chat.body["text"]
            [mail] = await inbox.until(1)
            assert "Rolled back; checkout recovering" in mail.get_payload()
            first = hook.body["event"]["id"]
            await until(pilot, lambda: "→ chat ✓  mail ✓  ops ✓" in lines_of(screen, first)[-1])

            # 2. Down: two more updates wait, and the screen says they do.
            receiver.stop()
            mail_server.stop()
            await submit(pilot, "/update external Still watching error rates")
            await submit(pilot, "/update external All clear")
            second, third = (r.id for r in screen.timeline.rows[-2:])
            assert "Still watching" in lines_of(screen, second)[0]

            def waiting() -> bool:
                two, three = lines_of(screen, second)[-1], lines_of(screen, third)[-1]
                return all(f"{h} … retrying" in two and f"{h} … queued" in three for h in HOOKS)

            await until(pilot, waiting, timeout=BACK)
            assert "deliveries failing: 3" in shown(screen, "header")
            assert len(receiver.got()) == 2 and len(inbox.got()) == 1

            # 3. Back: both go out, in order, each once.
            receiver.start()
            mail_server = serve(inbox, port=port)
            await receiver.until(6, timeout=BACK)
            await inbox.until(3, timeout=BACK)

            def delivered() -> bool:
                return all(
                    "→ chat ✓  mail ✓  ops ✓" in lines_of(screen, e)[-1] for e in (second, third)
                )

            await until(pilot, delivered, timeout=BACK)
            assert "deliveries" not in shown(screen, "header")
        assert deliver.stop() == 0
    finally:
        deliver.kill()
        with contextlib.suppress(AssertionError):  # already stopped, when a wait failed
            mail_server.stop()

    said = [
        "Rolled back; checkout recovering",
        "Still watching error rates",
        "All clear",
    ]
    assert webhook_texts(receiver) == said
    assert [next(s for s in said if s in t) for t in slack_texts(receiver)] == said
    mails = inbox.got()
    assert [next(s for s in said if s in str(m.get_payload())) for m in mails] == said
    # Nothing twice: one arrival per key, and a key of its own for every event and hook.
    keys = Counter(a.key for a in receiver.got())
    keys.update(m["Message-ID"] for m in mails)
    assert len(keys) == 9 and set(keys.values()) == {1}, keys
    assert all(a.signed for a in receiver.got() if a.path == "/hook")
