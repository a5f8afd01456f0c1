"""The command screen's modal dialogs: declare, assign, confirm a re-open or a
one-key write, help, entry.

Each returns a plain value through `dismiss` (None when cancelled); the command
screen turns it into a Store call, so the dialogs never write anything
themselves and a refused write can be shown on the screen that asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static, TextArea

from .. import entry, rules
from ..models import InvalidInput, IrcmdError, Level, Playbook, Role, Severity, Status
from ..playbooks import playbook_for_type
from ..widgets.style import user
from .once import AnswersOnce

KEYS = (
    ("Enter", "run the entry bar: a note, or a /command"),
    ("Up / Down", "recall earlier entries (in the bar); move in a pane"),
    ("Tab / Shift+Tab", "complete a /command; next / previous pane"),
    ("Escape", "leave the entry bar for the panes; back to the bar"),
    ("Ctrl+P", "command palette: every action"),
    ("F1", "this help"),
    ("F2", "declare an incident (form)"),
    ("F3", "assign a role (form)"),
    ("F4 .. F8", "tabs: Checklist, Comms, Evidence, Review, Actions (and go into it)"),
    ("Space / x  (steps)", "check or uncheck the selected step (Up / Down, k / j select)"),
    ("u / n  (Comms)", "draft a stakeholder update / notify the next contact (Enter confirms)"),
    ("e / t  (Evidence)", "register evidence / transfer custody (forms)"),
    ("r  (Review)", "edit the post-incident review (form)"),
    ("a  (Actions)", "add a follow-up action with owner and due date (form)"),
    ("Ctrl+S in a form", "save / send; Escape cancels"),
    ("Enter on timeline", "show the whole entry"),
    ("Enter on roles, steps", "show the whole pane"),
    ("other keys in a pane", "go to the entry bar"),
    ("PageUp / PageDown", "scroll the timeline; End follows new entries"),
    ("Ctrl+Q", "quit (press twice if the bar holds unsent text)"),
)


@dataclass(frozen=True)
class DeclareRequest:
    title: str
    severity: Severity
    type: str = ""
    impact: Level | None = None
    urgency: Level | None = None
    summary: str = ""
    playbook: str = ""
    detected_at: datetime | None = None
    started_at: datetime | None = None


SHORT = 32  # under this many lines the fields of a dialog or form lose their borders


def fit_fields(screen: ModalScreen[Any], *, short: bool) -> None:
    """On a short terminal (80x24) a field takes one line, not three, so a whole
    form fits, or most of it and the rest scrolls into view as the focus reaches it."""
    screen.set_class(short, "-short")
    for widget in screen.query("Input, Select, TextArea, Button, Checkbox"):
        if isinstance(widget, Input | Select | TextArea | Button | Checkbox):
            widget.compact = short


class Dialog(AnswersOnce[object]):
    """Escape cancels; a one-line error area shows why a submit was refused."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "ok", "OK")]

    @on(events.Mount)
    @on(events.Resize)
    def _fit(self) -> None:
        fit_fields(self, short=self.app.size.height < SHORT)  # the first frame fits too

    @on(events.DescendantFocus)
    def _focused(self, event: events.DescendantFocus) -> None:
        event.widget.scroll_visible(animate=False)  # tabbed to below the fold: shown

    @staticmethod
    def keys(*keys: str) -> Static:
        """The dialog's keys under its title, as the process forms show theirs."""
        return Static(Content.styled("   ".join(keys), "$text-muted"), classes="form-keys")

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_ok(self) -> None:
        raise NotImplementedError

    def error(self, message: str) -> None:
        self.query_one("#dialog-error", Static).update(user(message, "$text-error"))

    def typed_ahead(self, *fields: Input) -> bool:
        """True (and the error line says why) when a field holds a slash command:
        keys typed for the bar before this dialog opened, not an answer to it."""
        for field in fields:
            refusal = entry.typed_ahead(field.value)
            if refusal:
                self.error(refusal)
                field.focus()
                return True
        return False

    def buttons(self, ok: str) -> ComposeResult:
        yield Static("", id="dialog-error")
        with Horizontal(classes="dialog-buttons"):
            yield Button(ok, variant="primary", id="dialog-ok")
            yield Button("Cancel", id="dialog-cancel")

    @on(Button.Pressed, "#dialog-ok")
    def _ok(self) -> None:
        self.action_ok()

    @on(Button.Pressed, "#dialog-cancel")
    def _cancel(self) -> None:
        self.action_cancel()

    @on(Input.Submitted)
    def _enter(self) -> None:
        self.action_ok()


def _levels(prompt: str) -> Select[str]:
    return Select([(lv.value, lv.value) for lv in Level], prompt=prompt, allow_blank=True)


class DeclareScreen(Dialog):
    """Title, type, impact x urgency (suggesting a severity, with its meaning), summary,
    playbook. The severity follows the suggestion; the playbook follows the type (the
    playbook whose name or `types` list matches it, as `ircmd declare --type` applies)
    until it is chosen by hand, "none" included."""

    TYPED = ("title", "type", "summary")  # the free-text fields (`Dialog.typed_ahead`)

    def __init__(
        self, playbooks: dict[str, Playbook], title: str = "", now: datetime | None = None
    ) -> None:
        super().__init__(classes="dialog")
        self._playbooks = playbooks
        self._title = title
        self._now = now  # what HH:MM in the two moments is read against (the session's clock)
        self._book_by_hand = False
        self._book_moves = 0  # Select.Changed messages of our own still to arrive

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog-body"):
            yield Static(Content.styled("Declare an incident", "bold"))
            yield self.keys("Enter/Tab: next field", "Ctrl+S: declare", "Escape: cancel")
            yield Label("Title")
            yield Input(self._title, id="declare-title", placeholder="what is broken, for whom")
            yield Label("Type; impact began, detected at (HH:MM UTC or ISO-8601)")
            with Horizontal(classes="dialog-row"):
                yield Input(id="declare-type", placeholder="e.g. service-outage")
                yield Input(id="declare-started", placeholder="impact began")
                yield Input(id="declare-detected", placeholder="detected")
            with Horizontal(classes="dialog-row"):
                impact = _levels("impact")
                impact.id = "declare-impact"
                yield impact
                urgency = _levels("urgency")
                urgency.id = "declare-urgency"
                yield urgency
            yield Static(id="declare-suggestion")
            yield Label("Severity")
            yield Select(
                [(f"{s.value} {s.label}", s.value) for s in Severity],
                id="declare-severity",
                allow_blank=False,
                value=Severity.SEV3.value,
            )
            yield Label("Summary")
            yield Input(id="declare-summary", placeholder="optional")
            yield Label("Playbook")
            yield Select(
                [(user(f"{p.name}: {p.title}"), p.name) for p in self._playbooks.values()],
                id="declare-playbook",
                prompt="none",
            )
            yield from self.buttons("Declare")

    def on_mount(self) -> None:
        self._suggest()
        self.query_one("#declare-title", Input).focus()

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        """Enter moves on to the next field: a title typed and Enter pressed is not yet
        an incident declared as SEV3 with nothing else filled in. Ctrl+S declares."""
        event.prevent_default()  # not Dialog's Enter, which submits
        self.focus_next()

    def _level(self, wid: str) -> Level | None:
        value = self.query_one(wid, Select).value
        return Level(str(value)) if isinstance(value, str) else None

    @on(Select.Changed, "#declare-impact, #declare-urgency")
    def _suggest(self) -> None:
        sev = rules.suggest_severity(
            self._level("#declare-impact"), self._level("#declare-urgency")
        )
        self.query_one("#declare-severity", Select).value = sev.value
        self.query_one("#declare-suggestion", Static).update(
            Content.assemble(("suggested ", "$text-muted"), (sev.value, "bold"), f" {sev.meaning}")
        )

    @on(Input.Changed, "#declare-type")
    def _follow_type(self, event: Input.Changed) -> None:
        """Select the type's playbook as the type is typed, so what Declare will apply
        is on screen before it is applied; a choice made by hand is left alone."""
        if self._book_by_hand:
            return
        book = playbook_for_type(event.value, self._playbooks)
        select = self.query_one("#declare-playbook", Select)
        wanted = book.name if book else None
        if wanted == (select.value if isinstance(select.value, str) else None):
            return
        self._book_moves += 1  # the value changes, so one Changed message follows
        if wanted is None:
            select.clear()
        else:
            select.value = wanted

    @on(Select.Changed, "#declare-playbook")
    def _book_chosen(self) -> None:
        """A change this form did not make itself is the user's choice: it stays."""
        if self._book_moves:
            self._book_moves -= 1
        else:
            self._book_by_hand = True

    def action_ok(self) -> None:
        title = self.query_one("#declare-title", Input).value
        if self.typed_ahead(*(self.query_one(f"#declare-{k}", Input) for k in self.TYPED)):
            return
        if not title.strip():
            self.error("a title is needed")
            self.query_one("#declare-title", Input).focus()
            return
        playbook = self.query_one("#declare-playbook", Select).value
        moments: dict[str, datetime | None] = {}
        for name in ("started", "detected"):
            field = self.query_one(f"#declare-{name}", Input)
            try:
                moments[name] = (
                    rules.parse_at(field.value, self._now or datetime.now(UTC))
                    if field.value.strip()
                    else None
                )
            except IrcmdError as e:
                self.error(str(e))
                field.focus()
                return
        self.dismiss(
            DeclareRequest(
                title=title.strip(),
                severity=Severity(str(self.query_one("#declare-severity", Select).value)),
                type=self.query_one("#declare-type", Input).value.strip(),
                impact=self._level("#declare-impact"),
                urgency=self._level("#declare-urgency"),
                summary=self.query_one("#declare-summary", Input).value.strip(),
                playbook=playbook if isinstance(playbook, str) else "",
                detected_at=moments["detected"],
                started_at=moments["started"],
            )
        )


class AssignScreen(Dialog):
    """Pick a role and type a person; returns entry.Assign. The role starts at the
    first one the incident still needs (commander before all), else responder."""

    def __init__(self, incident_key: str, missing: Sequence[Role] = ()) -> None:
        super().__init__(classes="dialog")
        self._key = incident_key
        self._role = missing[0] if missing else Role.RESPONDER

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog-body"):
            yield Static(Content.styled(f"Assign a role on {self._key}", "bold"))
            yield self.keys("Enter/Ctrl+S: assign", "Escape: cancel")
            yield Label("Role")
            yield Select(
                [(r.value, r.value) for r in Role],
                id="assign-role",
                allow_blank=False,
                value=self._role.value,
            )
            yield Label("Person")
            yield Input(id="assign-person", placeholder="user name")
            yield from self.buttons("Assign")

    def on_mount(self) -> None:
        self.query_one("#assign-person", Input).focus()

    def action_ok(self) -> None:
        person = self.query_one("#assign-person", Input).value
        try:
            name = rules.check_name(person, "person")
        except InvalidInput as e:
            self.error(str(e))
            return
        role = Role(str(self.query_one("#assign-role", Select).value))
        self.dismiss(entry.Assign(role, name))


class ReopenScreen(Dialog):
    """Going back in status is a re-open: ask why (the record keeps the reason)."""

    def __init__(self, incident_key: str, current: Status, new: Status) -> None:
        super().__init__(classes="dialog")
        self._what = f"Re-open {incident_key}: {current} -> {new}"

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog-body"):
            yield Static(Content.styled(self._what, "bold"))
            yield self.keys("Enter/Ctrl+S: re-open", "Escape: cancel")
            yield Label("Reason (kept in the record)")
            yield Input(id="reopen-reason", placeholder="why is it going back?")
            yield from self.buttons("Re-open")

    def on_mount(self) -> None:
        self.query_one("#reopen-reason", Input).focus()

    def action_ok(self) -> None:
        field = self.query_one("#reopen-reason", Input)
        if self.typed_ahead(field):
            return
        reason = field.value.strip()
        if not reason:
            self.error("a re-open needs a reason")
            return
        self.dismiss(reason)


class ConfirmScreen(Dialog):
    """Enter before a one-key action writes to the record. Someone typing a note
    with focus in a tab (`need eyes on…`) types on: any printable key says no and,
    like every key after it (Enter included), is handed to `on_typing` for the
    entry bar, so a stray letter writes no false entry and no typing is lost."""

    def __init__(
        self, question: str, on_typing: Callable[[events.Key], None], *, no: str = "no"
    ) -> None:
        super().__init__(classes="dialog")
        self._question = question
        self._on_typing = on_typing
        self._no = no  # what Escape does, said in the keys line

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog-body"):
            yield Static(user(self._question, "bold"), classes="dialog-title")
            yield Static(
                Content.styled(
                    f"Enter: yes    Escape: {self._no}    (typing goes to the entry bar)",
                    "$text-muted",
                )
            )

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        if self.answered:  # keys typed fast arrive before the screen is gone
            self._on_typing(event)
            return
        if event.key != "enter":
            self._on_typing(event)
        self.dismiss(event.key == "enter")


class TextScreen(Dialog):
    """A long read: help, or one timeline entry in full."""

    BINDINGS = [Binding("escape,q,f1,enter", "cancel", "Close")]

    def __init__(
        self, title: str, body: Content, on_typing: Callable[[events.Key], None] | None = None
    ) -> None:
        super().__init__(classes="dialog text-dialog")
        self._title = title
        self._body = body
        self._on_typing = on_typing

    def on_key(self, event: events.Key) -> None:
        """Typing while reading is not lost: the view closes and the key goes to the
        entry bar (q, like Escape, only closes)."""
        if self._on_typing is None or not event.is_printable or event.key == "q":
            return
        if not event.character or event.key == "space":
            return
        event.stop()
        event.prevent_default()
        self.dismiss(None)
        self._on_typing(event)

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog-body"):
            yield Static(user(self._title, "bold"), classes="dialog-title")
            yield from self.body()
            yield Static(
                Content.styled("Escape closes (typing goes to the entry bar)", "$text-muted")
                if self._on_typing
                else Content.styled("Escape closes", "$text-muted")
            )

    def body(self) -> ComposeResult:
        yield Static(self._body)

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()


class HelpScreen(TextScreen):
    """F1: the keys and every slash command, from the registry (entry.COMMANDS) so it
    cannot drift. Two columns, each wrapping under itself: one text padded into a
    column, at 80 columns, put a description's first word at the right edge and the
    rest under the commands."""

    def __init__(self, on_typing: Callable[[events.Key], None] | None = None) -> None:
        super().__init__("ircmd: keys and commands", Content(""), on_typing)

    def body(self) -> ComposeResult:
        yield Static(Content.styled("Keys", "bold"))
        yield self._columns(KEYS)
        yield Static(
            Content.styled("Entry bar (plain text is a note)", "bold"), classes="help-head"
        )
        yield self._columns((u.syntax, u.help) for u in entry.COMMANDS)
        yield Static(
            Content("Roles: " + ", ".join(entry.ROLE_KEYS))
            + Content("\nStatus: " + " -> ".join(s.value for s in Status)),
            classes="help-head",
        )

    @staticmethod
    def _columns(rows: Iterable[tuple[str, str]]) -> Grid:
        cells = [
            cell
            for left, right in rows
            for cell in (Static(Content.styled(left, "bold")), Static(Content(right)))
        ]
        return Grid(*cells, classes="help-columns")
