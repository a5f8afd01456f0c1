"""Pilot tests of the response-process forms and panels, asserting on the Store."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from helpers.screen import until
from textual.app import App, ComposeResult
from textual.events import Key
from textual.widgets import Input, TextArea

from ircmd.escalation import load_escalation
from ircmd.models import ActionStatus, Audience, Kind
from ircmd.screens.forms import (
    FormScreen,
    action_form,
    evidence_form,
    review_form,
    submit_action,
    submit_evidence,
    submit_review,
    submit_transfer,
    submit_update,
    transfer_form,
    update_form,
)
from ircmd.store import Store
from ircmd.widgets.process import ActionsPanel, CommsPanel, EvidencePanel, ReviewPanel

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
MARKUP = "[/] [bold]x [@click=app.quit]q[/] \x1b[31mred"


class Host(App[None]):
    """Pushes one form; records whether it closed."""

    def __init__(self, form: FormScreen) -> None:
        super().__init__()
        self.form = form
        self.closed: bool | None = None

    def on_mount(self) -> None:
        self.push_screen(self.form, callback=self._done)

    def _done(self, result: bool | None) -> None:
        self.closed = result


async def _store(tmp_path: Path) -> Store:
    store = await Store.open(tmp_path / "ir.db")
    await store.declare("Checkout errors", actor="alice", severity=None)
    return store


async def _type_into(host: Host, pilot: object, selector: str, text: str) -> None:
    widget = host.screen.query_one(selector)
    widget.focus()
    if isinstance(widget, TextArea):
        widget.text = ""
    elif isinstance(widget, Input):
        widget.value = ""
    await pilot.press(*text)  # type: ignore[attr-defined]


async def test_review_form_saves_each_field(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    pokes: list[int] = []
    try:
        state = await store.state(1)
        submit = submit_review(store, 1, "alice", lambda: pokes.append(1), state.review)
        host = Host(review_form(state, submit))
        async with host.run_test(size=(100, 50)) as pilot:
            await _type_into(host, pilot, "#field-summary", "bad deploy")
            await _type_into(host, pilot, "#field-root_cause", "no canary")
            await _type_into(host, pilot, "#field-lessons", "canary all")
            host.screen.query_one("#field-whys", TextArea).text = "why one\n\nwhy two"
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert host.closed is True
        review = (await store.state(1)).review
        assert (review.summary, review.root_cause, review.lessons) == (
            "bad deploy",
            "no canary",
            "canary all",
        )
        assert review.whys == ("why one", "why two")
        assert review.recorded and pokes == [1]
    finally:
        await store.close()


async def test_form_keeps_text_and_shows_refusal(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    try:
        host = Host(action_form(submit_action(store, 1, "alice", lambda: None)))
        async with host.run_test(size=(100, 40)) as pilot:
            await _type_into(host, pilot, "#field-title", "Add canary")
            await _type_into(host, pilot, "#field-due", "next friday")
            await pilot.press("ctrl+s")
            await pilot.pause()
            error = str(host.screen.query_one("#form-error").render())
            assert "not a due date" in error
            assert host.closed is None
            assert host.screen.query_one("#field-title", Input).value == "Add canary"
            await _type_into(host, pilot, "#field-due", "2026-12-01")
            await _type_into(host, pilot, "#field-owner", "dave")
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert host.closed is True
        [action] = await store.actions()
        assert (action.title, action.owner, action.due, action.status) == (
            "Add canary",
            "dave",
            "2026-12-01",
            ActionStatus.OPEN,
        )
    finally:
        await store.close()


async def test_update_form_is_prefilled_and_sends(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    try:
        state = await store.state(1)  # alice commands: she declared it
        form = update_form(state, NOW, submit_update(store, 1, "carol", lambda: None), None)
        host = Host(form)
        async with host.run_test(size=(100, 40)) as pilot:
            draft = host.screen.query_one("#field-text", TextArea).text
            assert "INC-1" in draft and "Checkout errors" in draft and "Commander: alice" in draft
            assert "Next update by 07:00 UTC" in draft  # SEV3: every 4 h from now
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert host.closed is True
        [update] = (await store.state(1)).updates
        assert update.audience is Audience.INTERNAL and update.text == draft
        assert update.sent_by == "carol"
    finally:
        await store.close()


async def test_evidence_forms_register_hash_and_transfer(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    log = tmp_path / "auth.log"
    log.write_bytes(b"Failed password for root\n")
    try:
        host = Host(evidence_form(submit_evidence(store, 1, "alice", lambda: None)))
        async with host.run_test(size=(100, 40)) as pilot:
            await _type_into(host, pilot, "#field-description", "auth log")
            await _type_into(host, pilot, "#field-file", str(tmp_path / "missing.log"))
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert "cannot read" in str(host.screen.query_one("#form-error").render())
            await _type_into(host, pilot, "#field-file", str(log))
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert host.closed is True
        [item] = (await store.state(1)).evidence
        assert item.sha256 == hashlib.sha256(log.read_bytes()).hexdigest()
        host = Host(
            transfer_form(await store.state(1), submit_transfer(store, 1, "alice", lambda: None))
        )
        async with host.run_test(size=(100, 40)) as pilot:
            await _type_into(host, pilot, "#field-to", "carol")
            await _type_into(host, pilot, "#field-reason", "to forensics")
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert host.closed is True
        [item] = (await store.state(1)).evidence
        assert item.custodian == "carol"
        assert [(t.from_person, t.to_person) for t in item.transfers] == [("alice", "carol")]
    finally:
        await store.close()


class PanelHost(App[None]):
    def compose(self) -> ComposeResult:
        yield CommsPanel(load_escalation(None), id="comms")
        yield EvidencePanel(id="evidence")
        yield ReviewPanel(id="review")
        yield ActionsPanel(id="actions")


async def test_panels_show_user_text_literally(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "ir.db", clock=lambda: NOW)
    try:
        await store.declare(MARKUP, actor="alice", severity=None)
        await store.send_update(1, Audience.EXTERNAL, MARKUP, actor="alice")
        await store.notify(1, "Team lead", actor="alice")
        await store.add_evidence(1, MARKUP, actor="alice", location=MARKUP)
        await store.save_review(1, actor="alice", summary=MARKUP)
        await store.add_action(1, MARKUP, actor="alice", owner="bob")
        state = await store.state(1)
        events = await store.events(1)
        assert events[-1].kind is Kind.ACTION_ADD
        app = PanelHost()
        async with app.run_test(size=(120, 60)) as pilot:
            for panel in app.query("#comms, #evidence, #review, #actions"):
                assert hasattr(panel, "show")
                panel.show(state, NOW)
            await pilot.pause()
            shown = {
                str(w.id): getattr(w.render(), "plain", None)
                for w in app.query("#comms, #evidence, #review, #actions")
            }
            for wid, plain in shown.items():
                assert plain is not None, wid
                assert "[/] [bold]x [@click=app.quit]q[/] ␛[31mred" in plain, wid
            assert app.is_running
            assert "1/1 told" in shown["comms"]
            assert "due -" in shown["actions"]
    finally:
        await store.close()


async def test_keys_arriving_together_save_a_form_once(tmp_path: Path) -> None:
    """Two Enters in one read (a slow link, a key held down): the second was already
    handed to the form when the first saved it. It must neither save again nor close
    the screen beneath the form."""
    store = await _store(tmp_path)
    try:
        host = Host(action_form(submit_action(store, 1, "alice", lambda: None)))
        async with host.run_test(size=(100, 40)) as pilot:
            await _type_into(host, pilot, "#field-title", "Add canary")
            host.screen.query_one("#field-title").focus()
            await pilot.pause()
            for _ in range(3):
                host.post_message(Key("enter", "\r"))
            await until(pilot, lambda: host.closed is True)
            for _ in range(5):  # let any late key reach what is left
                await pilot.pause()
            assert host.is_running and host.screen is not host.form
        assert [a.title for a in await store.actions()] == ["Add canary"]
    finally:
        await store.close()
