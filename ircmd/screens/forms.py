"""A generic modal form, and the forms of the response process built from it.

One form class serves the update draft, evidence, custody transfer, review and
follow-up action dialogs: each is a list of fields plus an async `submit` that
returns an error message (the form stays open, nothing typed is lost) or None
(the form closes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Checkbox, Input, Label, Select, Static, TextArea

from .. import display, entry, rules
from ..comms import draft_update
from ..hashing import hash_file
from ..models import (
    REVIEW_FIELDS,
    REVIEW_LABELS,
    ActionType,
    Audience,
    IncidentState,
    InvalidInput,
    IrcmdError,
    Review,
)
from ..store import Store
from .once import AnswersOnce

Values = dict[str, str]
Submit = Callable[[Values], Awaitable[str | None]]


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    kind: Literal["input", "text", "select", "check"] = "input"
    value: str = ""
    options: Sequence[tuple[str, str]] = field(default_factory=tuple)
    placeholder: str = ""


class FormScreen(AnswersOnce[bool]):
    """A titled form; Ctrl+S or the Save button submits, Escape cancels."""

    FOCUS_FIRST = ""  # the field to start in; the first one by default

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Save", priority=True),
    ]

    def __init__(
        self, title: str, fields: Sequence[Field], submit: Submit, ok: str = "Save"
    ) -> None:
        super().__init__(classes="form-screen")
        self._title = title
        self._fields = list(fields)
        self._submit = submit
        self._ok = ok
        self._saving = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="form"):
            yield Static(Content(display.printable(self._title)), classes="form-title")
            yield Static(
                Content.styled(f"Ctrl+S: {self._ok.lower()}   Escape: cancel", "$text-muted"),
                classes="form-keys",
            )
            for f in self._fields:
                if f.kind != "check":  # a checkbox carries its own label
                    yield Label(f.label, classes="form-label")
                yield self._widget(f)
            yield Static("", id="form-error", classes="form-error")
            with Horizontal(classes="form-buttons"):
                yield Button(self._ok, variant="primary", id="form-ok")
                yield Button("Cancel", id="form-cancel")

    @on(events.Mount)
    @on(events.Resize)
    def _fit(self) -> None:
        from .modals import SHORT, fit_fields

        fit_fields(self, short=self.app.size.height < SHORT)  # the first frame fits too

    @on(events.DescendantFocus)
    def _focused(self, event: events.DescendantFocus) -> None:
        event.widget.scroll_visible(animate=False)  # tabbed to below the fold: shown

    def on_mount(self) -> None:
        key = self.FOCUS_FIRST or self._fields[0].key
        # At once, not via call_later: keys typed right after the key that opened
        # the form must land in its first field, not in nothing.
        self.set_focus(self.query_one(f"#field-{key}"), scroll_visible=False)

    @staticmethod
    def _widget(f: Field) -> Input | TextArea | Select[str] | Checkbox:
        wid = f"field-{f.key}"
        match f.kind:
            case "text":
                return TextArea(f.value, id=wid, soft_wrap=True, placeholder=f.placeholder)
            case "select":
                options = [(Content(label), value) for label, value in f.options]
                return Select(options, value=f.value or options[0][1], allow_blank=False, id=wid)
            case "check":
                return Checkbox(f.label, value=f.value == "yes", id=wid)
        return Input(f.value, placeholder=f.placeholder, id=wid)

    def values(self) -> Values:
        out: Values = {}
        for f in self._fields:
            w = self.query_one(f"#field-{f.key}")
            if isinstance(w, TextArea):
                out[f.key] = w.text
            elif isinstance(w, Checkbox):
                out[f.key] = "yes" if w.value else ""
            elif isinstance(w, Select):
                out[f.key] = str(w.value)
            elif isinstance(w, Input):
                out[f.key] = w.value
        return out

    async def action_submit(self) -> None:
        """Save once: a second Ctrl+S while saving (hashing a big file, a busy
        database) is ignored, and the line under the fields says what is going on;
        so is any after the form has closed (`AnswersOnce`)."""
        if self._saving or self.answered:
            return
        line = self.query_one("#form-error", Static)
        values = self.values()
        for f in self._fields:
            # One-line fields only: there Enter submits, so lines typed ahead can save
            # the form by themselves; a text area needs Ctrl+S.
            refusal = entry.typed_ahead(values[f.key]) if f.kind == "input" else None
            if refusal:
                line.update(Content(refusal))
                self.query_one(f"#field-{f.key}").focus()
                return
        self._saving = True
        line.update(Content.styled("saving…", "$text-muted"))
        try:
            error = await self._submit(values)
        finally:
            self._saving = False
        if error:
            line.update(Content(display.printable(error)))
            line.scroll_visible(animate=False)  # at 80x24 it can sit below the fold
        else:
            self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed, "#form-ok")
    async def _ok_pressed(self) -> None:
        await self.action_submit()

    @on(Button.Pressed, "#form-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Input.Submitted)
    async def _enter(self) -> None:
        await self.action_submit()


class UpdateForm(FormScreen):
    """The update draft: switching the audience swaps in that audience's draft,
    unless the comms lead already edited the text (nothing typed is lost)."""

    FOCUS_FIRST = "text"

    def __init__(
        self,
        title: str,
        fields: Sequence[Field],
        submit: Submit,
        ok: str,
        drafts: dict[str, str],
    ) -> None:
        super().__init__(title, fields, submit, ok)
        self._drafts = drafts

    @on(Select.Changed, "#field-audience")
    def _audience(self, event: Select.Changed) -> None:
        area = self.query_one("#field-text", TextArea)
        if area.text in self._drafts.values() and str(event.value) in self._drafts:
            area.text = self._drafts[str(event.value)]


def update_form(
    state: IncidentState, now: datetime, submit: Submit, decision: str | None
) -> FormScreen:
    """The comms lead's draft: pre-filled from the incident, edited, then sent."""
    internal = draft_update(state, Audience.INTERNAL, now, decision)
    drafts = {
        Audience.INTERNAL.value: internal,
        Audience.EXTERNAL.value: draft_update(state, Audience.EXTERNAL, now, decision),
    }
    return UpdateForm(
        f"Stakeholder update for {state.incident.key}",
        [
            Field(
                "audience",
                "Audience",
                "select",
                "internal",
                [("internal", "internal"), ("external", "external")],
            ),
            Field("text", "Message (edit before sending)", "text", internal),
            Field("channel", "Channel", placeholder="#incident, email, status page"),
            Field("final", "Final update (closes the communication loop)", "check"),
        ],
        submit,
        "Send",
        drafts,
    )


def evidence_form(submit: Submit, *, host_files: bool = True) -> FormScreen:
    """Without host_files (a locked session) there is no file to hash: the client's
    paths are not the host's, and the host's files are not the client's to read."""
    file = Field("file", "File to hash (optional)", placeholder="/var/log/auth.log")
    return FormScreen(
        "Register evidence (you become its custodian)",
        [
            Field("description", "Description"),
            *([file] if host_files else []),
            Field("location", "Where it is kept", placeholder="evidence locker 3, s3://bucket/key"),
        ],
        submit,
        ok="Register",
    )


def transfer_form(state: IncidentState, submit: Submit) -> FormScreen:
    items = [
        (f"{e.key} {display.printable(e.description)[:50]} (held by {e.custodian})", str(e.n))
        for e in state.evidence
    ]
    return FormScreen(
        "Transfer custody",
        [
            Field("n", "Item", "select", items[0][1] if items else "", items),
            Field("to", "To"),
            Field("reason", "Reason"),
        ],
        submit,
        ok="Transfer",
    )


# Where the form asks more than the field's label says.
REVIEW_QUESTIONS = {
    "whys": "Five whys (one per line)",
    "went_well": "What went well",
    "went_poorly": "What went poorly",
    "lessons": "Lessons learned",
}


def review_form(state: IncidentState, submit: Submit) -> FormScreen:
    r = state.review
    fields = [
        Field(
            k,
            REVIEW_QUESTIONS.get(k, REVIEW_LABELS[k]),
            "text",
            "\n".join(r.whys) if k == "whys" else getattr(r, k),
        )
        for k in REVIEW_FIELDS
    ]
    fields.insert(
        0,
        Field(
            IMPACT_FIELD,
            "Customer impact: who and what was hit, how much (/impact sets the numbers)",
            "text",
            state.impact.customer_impact,
        ),
    )
    return FormScreen(f"Post-incident review of {state.incident.key}", fields, submit)


def action_form(submit: Submit, title: str = "") -> FormScreen:
    return FormScreen(
        "Follow-up action",
        [
            Field("title", "Title", value=title),
            Field("type", "Type", "select", "corrective", [(t.value, t.value) for t in ActionType]),
            Field("owner", "Owner"),
            Field("due", "Due date", placeholder="YYYY-MM-DD"),
            Field("review", "Review date (effectiveness)", placeholder="YYYY-MM-DD"),
        ],
        submit,
        ok="Add",
    )


class NoteForm(FormScreen):
    """A pasted block of lines, with the cursor after it: typing goes on from its end."""

    @on(events.Mount)
    def _at_end(self) -> None:
        area = self.query_one("#field-text", TextArea)
        area.move_cursor(area.document.end)


def note_form(text: str, submit: Submit) -> FormScreen:
    """A pasted block of lines, shown whole to check before it becomes one note."""
    return NoteForm(
        "Note of several lines (pasted)", [Field("text", "Note", "text", text)], submit, ok="Add"
    )


# ------------------------------------------------------------------ submitting


def guarded(action: Callable[[Values], Awaitable[object]], after: Callable[[], None]) -> Submit:
    """Run a store call; a refusal becomes the form's error line, success closes it."""

    async def submit(values: Values) -> str | None:
        try:
            await action(values)
        except IrcmdError as e:
            return str(e)
        after()
        return None

    return submit


def submit_update(store: Store, ref: int, actor: str, after: Callable[[], None]) -> Submit:
    return guarded(
        lambda v: store.send_update(
            ref,
            rules.parse_audience(v["audience"]),
            v["text"],
            actor=actor,
            channel=v["channel"].strip(),
            final=bool(v["final"]),
        ),
        after,
    )


def submit_evidence(store: Store, ref: int, actor: str, after: Callable[[], None]) -> Submit:
    async def add(v: Values) -> None:
        digest = name = None
        location = v["location"].strip()
        if v.get("file", "").strip():
            path = Path(v["file"].strip()).expanduser()
            hashed = await asyncio.to_thread(hash_file, path, location)
            digest, name, location = hashed.sha256, hashed.name, hashed.location
        await store.add_evidence(
            ref, v["description"], actor=actor, location=location, sha256=digest, filename=name
        )

    return guarded(add, after)


def submit_transfer(store: Store, ref: int, actor: str, after: Callable[[], None]) -> Submit:
    async def transfer(v: Values) -> None:
        if not v["n"].isdigit():
            raise InvalidInput("there is no evidence to transfer")
        await store.transfer_evidence(ref, int(v["n"]), v["to"], reason=v["reason"], actor=actor)

    return guarded(transfer, after)


IMPACT_FIELD = "customer_impact"  # in the review form: the structured impact's text


def submit_review(
    store: Store,
    ref: int,
    actor: str,
    after: Callable[[], None],
    opened_on: Review,
    opened_impact: str = "",
) -> Submit:
    """Saves the review form field by field, against the review it opened on.

    Only the fields the user changed are sent (emptied ones as empty, which clears
    them), each with the value the form started from: the Store refuses, inside its
    transaction, if someone changed one of those fields since, and the form stays
    open with the typed text. Fields the user left alone are never sent, so two
    people editing different fields both land.
    """

    async def save(values: Values) -> str | None:
        changed: dict[str, Any] = {}  # keyword arguments of save_review
        started: dict[str, str | list[str]] = {}
        for k in REVIEW_FIELDS:
            was: str | list[str]
            now: str | list[str]
            if k == "whys":
                was = list(opened_on.whys)
                now = [w for w in values[k].splitlines() if w.strip()]
            else:
                was = getattr(opened_on, k)
                now = values[k] if values[k].strip() else ""
            if now != was:
                changed[k], started[k] = now, was
        impact = values[IMPACT_FIELD].strip()
        if not changed and impact == opened_impact:
            return "nothing changed: edit a field, or Escape to close"
        try:
            if changed:
                await store.save_review(ref, actor=actor, base=started, **changed)
            if impact != opened_impact:  # after the review: a refused review saves neither
                await store.set_impact(ref, actor=actor, customer_impact=impact)
        except IrcmdError as e:
            return str(e)
        after()
        return None

    return save


def submit_action(store: Store, ref: int, actor: str, after: Callable[[], None]) -> Submit:
    async def add(v: Values) -> None:
        due = rules.parse_date(v["due"], "due date") if v["due"].strip() else None
        review = rules.parse_date(v["review"], "review date") if v["review"].strip() else None
        await store.add_action(
            ref,
            v["title"],
            actor=actor,
            owner=v["owner"].strip() or None,
            due=due,
            type=ActionType(v["type"]),
            review_date=review,
        )

    return guarded(add, after)


def submit_note(store: Store, ref: int, actor: str, after: Callable[[], None]) -> Submit:
    async def add(v: Values) -> None:
        await store.log(ref, v["text"], actor=actor)

    return guarded(add, after)
