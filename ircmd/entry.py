"""The entry-bar language: one typed line -> one command, without Textual.

Plain text is a note; a line starting with `/` is a slash command. Parsing is
pure (the caller passes `now` for back-dated entries) so it is unit-tested on
its own and the screen only has to map commands onto Store verbs. Every refusal
is a ParseError with a one-line message saying what to type instead.

`COMMANDS` declares each slash command once; the parser, F1 help, the palette, the
bar's completion and (for a `Spec` with `cli=True`) the CLI verb all read it. A
command is a `Command` subclass that knows how to `run` against a `Context` (the
screen, or one CLI invocation: see `Context`), its parser, and one `Spec`; the Store
verb it calls is the only other place a new command touches.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, TypeVar

from . import rules
from .display import already_checked, stamp
from .models import (
    ActionStatus,
    ActionType,
    Audience,
    InvalidInput,
    Kind,
    Mark,
    Phase,
    Role,
    Severity,
    Status,
    incident_key,
    parse_action_ref,
    parse_evidence_ref,
    parse_incident_ref,
)

if TYPE_CHECKING:
    from .models import Event, Playbook
    from .store import Store

T = TypeVar("T")


class ParseError(InvalidInput):
    """A line the entry bar cannot run: unknown command or bad argument."""


class Form(StrEnum):
    """What a command alone opens on the screen (a form, or the help)."""

    DECLARE = "declare"
    ASSIGN = "assign"
    ACTION = "action"
    UPDATE = "update"
    EVIDENCE = "evidence"
    TRANSFER = "transfer"
    REVIEW = "review"
    HELP = "help"


class Context(Protocol):
    """What a command runs against: the screen, or one CLI invocation.

    The verbs are the Store's; what differs between front ends is here: which
    incident is meant, how a write is run (the screen pokes its feed), what the
    forms and dialogs are, and how a refusal that needs a choice is put."""

    @property
    def store(self) -> Store: ...

    @property
    def actor(self) -> str: ...

    def ref(self) -> int:
        """The incident meant: the open one on the screen, the named one on the CLI."""
        ...

    async def write(self, op: Callable[[], Awaitable[T]]) -> T:
        """Run one Store write (refused at once in a read-only session)."""
        ...

    async def show(self, form: Form) -> None:
        """Open a form or the help (the CLI has none: it says what to type instead)."""
        ...

    async def open(self, number: int) -> None: ...

    async def contact(self, typed: str, confirmed: bool, at: datetime | None) -> str | None:
        """`typed` as the escalation list spells it; None when a dialog took over to
        ask about a name the list does not hold."""
        ...

    async def status(self, status: Status, reason: str, at: datetime | None) -> str | None:
        """Move the incident (the screen asks for a reason before going back)."""
        ...

    async def confirm(self, question: str, again: Command) -> bool:
        """Whether to go ahead: the screen asks, running `again` on yes, and says
        False (a dialog took over); the command line goes ahead."""
        ...

    async def close(self, override: str, at: datetime | None) -> str:
        """The closure gate, phrased for this front end."""
        ...

    def playbook(self, name: str) -> Playbook: ...


@dataclass(frozen=True)
class Command(ABC):
    """What one line of the bar asks for; each command in COMMANDS parses to a subclass
    that runs itself. `at` back-dates it (`/at TIME /command ...`)."""

    @abstractmethod
    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        """Run against `ctx`: the confirmation, or None when a dialog took over."""


async def _not_before_it_began(ctx: Context, at: datetime) -> None:
    """`HH:MM` later than now is read as yesterday's; when that lands before the
    incident began, it was almost surely a slip (a local time, a typo), not a day-old
    fact: refused, with how to say yesterday if it was meant."""
    inc = await ctx.store.incident(ctx.ref())
    began = min(t for t in (inc.started_at, inc.detected_at, inc.declared_at) if t)
    if at < began:
        raise ParseError(
            f"{at:%H:%M} is later than now, so it reads as yesterday ({stamp(at)} UTC),"
            f" before {inc.key} began; if that is meant, type the date: {at:%Y-%m-%dT%H:%MZ}"
        )


def _form(at: datetime | None, form: Form) -> Form:
    if at is not None:
        raise ParseError(f"/at back-dates a command with its arguments, not the {form} form")
    return form


@dataclass(frozen=True)
class Entry(Command):
    """A timeline entry: a note or decision, back-dated when `at` is set."""

    text: str
    kind: Kind = Kind.NOTE
    at: datetime | None = None
    shifted: bool = field(default=False, compare=False)  # `at` read as yesterday's HH:MM

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        when = self.at or at
        ref = ctx.ref()
        if self.shifted and self.at is not None:
            await _not_before_it_began(ctx, self.at)
        ev = await ctx.write(
            lambda: ctx.store.log(ref, self.text, actor=ctx.actor, kind=self.kind, at=when)
        )
        if when is not None:  # say which moment `/at HH:MM` chose (maybe yesterday)
            return f"#{ev.id} added at {stamp(ev.occurred_at)} UTC"
        return f"#{ev.id} added"


@dataclass(frozen=True)
class Declare(Command):
    """`/declare` alone opens the form; with a title it declares at once.
    `--detected TIME` and `--started TIME` say when it was noticed and when impact
    began, the moments the metrics measure from."""

    title: str = ""
    severity: Severity | None = None
    detected_at: datetime | None = None
    started_at: datetime | None = None

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        if not self.title and self.severity is None:
            await ctx.show(_form(at, Form.DECLARE))
            return None
        inc = await ctx.write(
            lambda: ctx.store.declare(
                self.title,
                actor=ctx.actor,
                severity=self.severity,
                at=at,
                detected_at=self.detected_at,
                started_at=self.started_at,
            )
        )
        await ctx.open(inc.id)
        return f"{inc.key} declared ({inc.severity}); {ctx.actor} commands (/ic PERSON hands over)"


@dataclass(frozen=True)
class Open(Command):
    number: int

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        await ctx.open(self.number)
        return f"{incident_key(self.number)} opened"


@dataclass(frozen=True)
class SetSeverity(Command):
    severity: Severity
    reason: str = ""

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        ref = ctx.ref()
        await ctx.write(
            lambda: ctx.store.set_severity(
                ref, self.severity, actor=ctx.actor, reason=self.reason, at=at
            )
        )
        return f"severity {self.severity}"


@dataclass(frozen=True)
class SetStatus(Command):
    status: Status
    reason: str = ""

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        return await ctx.status(self.status, self.reason, at)


@dataclass(frozen=True)
class Assign(Command):
    """`/assign` without arguments opens the form; `/ic bob` is a commander hand-off."""

    role: Role | None = None
    person: str = ""
    confirmed: bool = False  # command handed to someone not yet on the incident, once asked

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        role = self.role
        if role is None:
            await ctx.show(_form(at, Form.ASSIGN))
            return None
        ref = ctx.ref()
        if role is Role.COMMANDER and not self.confirmed:
            state = await ctx.store.state(ref)
            on_it = {p.casefold() for r in Role for p in state.people(r)}
            if self.person.casefold() not in on_it | {ctx.actor.casefold()}:
                again = Assign(role, self.person, confirmed=True)
                question = (
                    f"{self.person} is not on {state.incident.key} yet. Hand command to"
                    f" {self.person}? (a typo here would leave nobody able to take it back)"
                )
                if not await ctx.confirm(question, Backdated(at, again) if at else again):
                    return None
        await ctx.write(lambda: ctx.store.assign(ref, role, self.person, actor=ctx.actor, at=at))
        return f"{self.person} is {role}"


@dataclass(frozen=True)
class AddItem(Command):
    text: str
    phase: Phase = Phase.CONTAINMENT

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        ref = ctx.ref()
        item = await ctx.write(
            lambda: ctx.store.add_item(ref, self.text, actor=ctx.actor, phase=self.phase, at=at)
        )
        return f"step {item.n} added"


@dataclass(frozen=True)
class Check(Command):
    n: int
    done: bool = True

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        ref = ctx.ref()
        ev = await ctx.write(
            lambda: ctx.store.check(ref, self.n, actor=ctx.actor, done=self.done, at=at)
        )
        if ev.data.get("already"):  # someone else got there first
            return already_checked(self.n, ev.data["already"])
        return f"step {self.n} {'checked' if self.done else 'unchecked'}"


@dataclass(frozen=True)
class AddAction(Command):
    """`/action TITLE` adds at once; `/action` alone opens the form (owner, due date)."""

    title: str = ""

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        if not self.title:
            await ctx.show(_form(at, Form.ACTION))
            return None
        ref = ctx.ref()
        action = await ctx.write(
            lambda: ctx.store.add_action(ref, self.title, actor=ctx.actor, at=at)
        )
        return f"{action.key} added (owner and due date: /action alone opens the form)"


@dataclass(frozen=True)
class SetAction(Command):
    """`/act ACT-n STATUS [NOTE]`: verified and wont_do need the note.
    `/act ACT-n owner NAME`, `due DATE` or `review DATE` change the rest."""

    action_id: int
    status: ActionStatus | None = None
    note: str = ""
    owner: str | None = None
    due: date | None = None
    review: date | None = None

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        moved = await ctx.write(
            lambda: ctx.store.set_action(
                self.action_id,
                self.status,
                actor=ctx.actor,
                note=self.note,
                owner=self.owner,
                due=self.due,
                review_date=self.review,
                at=at,
            )
        )
        if self.status is not None:
            return f"{moved.key} {moved.status}"
        review = moved.review_date or "-"
        return f"{moved.key}: owner {moved.owner or '-'}, due {moved.due or '-'}, review {review}"


@dataclass(frozen=True)
class LinkAction(Command):
    """`/link ACT-n URL`: where the action is tracked outside ircmd (an issue)."""

    action_id: int
    url: str

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        linked = await ctx.write(
            lambda: ctx.store.link_action(self.action_id, self.url, actor=ctx.actor, at=at)
        )
        return f"{linked.key} tracked at {linked.link}"


@dataclass(frozen=True)
class Amend(Command):
    event_id: int
    text: str

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        ref = ctx.ref()
        ev = await ctx.write(
            lambda: ctx.store.amend(ref, self.event_id, self.text, actor=ctx.actor, at=at)
        )
        return f"#{ev.id} amends #{self.event_id}"


@dataclass(frozen=True)
class Update(Command):
    """`/update AUDIENCE [--final] TEXT` logs at once; `/update` alone opens the
    draft form. `--final` (first or last word) marks the update closure needs."""

    audience: Audience | None = None
    text: str = ""
    final: bool = False

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        audience = self.audience
        if audience is None:
            await ctx.show(_form(at, Form.UPDATE))
            return None
        ref = ctx.ref()
        await ctx.write(
            lambda: ctx.store.send_update(
                ref, audience, self.text, actor=ctx.actor, final=self.final, at=at
            )
        )
        return f"{audience} update logged" + (" (final)" if self.final else "")


@dataclass(frozen=True)
class ApplyPlaybook(Command):
    name: str

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        book = ctx.playbook(self.name)
        ref = ctx.ref()
        await ctx.write(lambda: ctx.store.apply_playbook(ref, book, actor=ctx.actor, at=at))
        return f"playbook {self.name} applied"


@dataclass(frozen=True)
class Notify(Command):
    """`confirmed`: a name the escalation list does not hold, recorded once asked."""

    who: str
    confirmed: bool = False

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        who = await ctx.contact(self.who, self.confirmed, at)
        if who is None:
            return None
        ref = ctx.ref()
        ev = await ctx.write(lambda: ctx.store.notify(ref, who, actor=ctx.actor, at=at))
        return await notified(ctx.store, who, ev)


async def notified(store: Store, who: str, ev: Event) -> str:
    """What the screen and `ircmd notify` say once `who` is recorded as told (event
    `ev`): whether a hook is reaching them too. While hooks are configured (a
    deliverer wrote its routing), a contact with no channel is said to be recorded
    only, so nobody believes Legal was told when nothing was sent; with no hooks at
    all the record is all anyone expects."""
    hooks = [d.hook for d in await store.deliveries(ev.incident_id, event_ids=[ev.id])]
    said = (
        f"{who} was already told by {ev.data['already']}; yours is recorded too"
        if ev.data.get("already")
        else f"{who} notified"
    )
    if hooks:
        return f"{said}; sending via {', '.join(hooks)}"
    if await store.routes():
        return f"{said} (recorded only: no channel for {who} in config.toml's [contacts])"
    return said


@dataclass(frozen=True)
class AddEvidence(Command):
    """`/evidence DESCRIPTION` registers (no file); alone it opens the form."""

    description: str = ""

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        if not self.description:
            await ctx.show(_form(at, Form.EVIDENCE))
            return None
        ref = ctx.ref()
        item = await ctx.write(
            lambda: ctx.store.add_evidence(ref, self.description, actor=ctx.actor, at=at)
        )
        return f"{item.key} registered, held by {ctx.actor}"


@dataclass(frozen=True)
class Transfer(Command):
    """`/transfer EV-n TO REASON`; alone it opens the form."""

    n: int | None = None
    to: str = ""
    reason: str = ""

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        n = self.n
        if n is None:
            await ctx.show(_form(at, Form.TRANSFER))
            return None
        ref = ctx.ref()
        await ctx.write(
            lambda: ctx.store.transfer_evidence(
                ref, n, self.to, reason=self.reason, actor=ctx.actor, at=at
            )
        )
        return f"EV-{n} now held by {self.to}"


@dataclass(frozen=True)
class EditReview(Command):
    """`/review` opens the post-incident review form."""

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        await ctx.show(_form(at, Form.REVIEW))
        return None


@dataclass(frozen=True)
class Close(Command):
    """`/close` passes the closure gate; `/close REASON` overrides it on the record."""

    override: str = ""

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        return await ctx.close(self.override, at)


@dataclass(frozen=True)
class Help(Command):
    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        await ctx.show(_form(at, Form.HELP))
        return ""


@dataclass(frozen=True)
class Unassign(Command):
    """A role given in error, or someone standing down: named on the record."""

    role: Role
    person: str

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        ref = ctx.ref()
        await ctx.write(
            lambda: ctx.store.unassign(ref, self.role, self.person, actor=ctx.actor, at=at)
        )
        return f"{self.person} is no longer {self.role}"


@dataclass(frozen=True)
class Unnotify(Command):
    """A contact checked off by mistake goes back to pending; both stay on the record."""

    who: str
    reason: str

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        ref = ctx.ref()
        ev = await ctx.write(
            lambda: ctx.store.unnotify(ref, self.who, self.reason, actor=ctx.actor, at=at)
        )
        return f"{ev.data['who']} is to be told again (#{ev.data['corrects']} retracted)"


@dataclass(frozen=True)
class Retype(Command):
    action_id: int
    type: ActionType
    reason: str = ""

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        action = await ctx.write(
            lambda: ctx.store.retype_action(
                self.action_id, self.type, actor=ctx.actor, reason=self.reason, at=at
            )
        )
        return f"{action.key} is {action.type}"


@dataclass(frozen=True)
class Skip(Command):
    """Step N does not apply to this incident: settled for closing, with the reason."""

    n: int
    reason: str

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        ref = ctx.ref()
        await ctx.write(
            lambda: ctx.store.skip_item(ref, self.n, self.reason, actor=ctx.actor, at=at)
        )
        return f"step {self.n} skipped: {self.reason}"


@dataclass(frozen=True)
class Own(Command):
    """Step N's owner; None leaves it with nobody."""

    n: int
    person: str | None

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        ref = ctx.ref()
        await ctx.write(
            lambda: ctx.store.own_item(ref, self.n, self.person, actor=ctx.actor, at=at)
        )
        return f"step {self.n} " + (f"is {self.person}'s" if self.person else "has no owner")


@dataclass(frozen=True)
class EditStep(Command):
    n: int
    text: str

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        ref = ctx.ref()
        await ctx.write(lambda: ctx.store.edit_item(ref, self.n, self.text, actor=ctx.actor, at=at))
        return f"step {self.n} corrected"


@dataclass(frozen=True)
class Retitle(Command):
    title: str

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        ref = ctx.ref()
        await ctx.write(lambda: ctx.store.retitle(ref, self.title, actor=ctx.actor, at=at))
        return "retitled (the old title stays on the record)"


@dataclass(frozen=True)
class Summary(Command):
    text: str

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        ref = ctx.ref()
        await ctx.write(lambda: ctx.store.set_summary(ref, self.text, actor=ctx.actor, at=at))
        return "summary updated"


@dataclass(frozen=True)
class MarkMoment(Command):
    """`/mark impact|detected TIME REASON`: when it really began, or was noticed."""

    what: Mark
    when: datetime
    reason: str

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        ref = ctx.ref()
        await ctx.write(
            lambda: ctx.store.mark(ref, self.what, self.when, self.reason, actor=ctx.actor, at=at)
        )
        return f"{self.what} marked at {stamp(self.when)} UTC; metrics measure from it"


@dataclass(frozen=True)
class SetImpact(Command):
    """`/impact [users=N] [records=N] [services=A,B] [loss=FROM..TO] [TEXT]`: only what
    is given changes."""

    customer_impact: str | None = None
    services: tuple[str, ...] | None = None
    users: int | None = None
    records: int | None = None
    loss_from: datetime | None = None
    loss_to: datetime | None = None

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        ref = ctx.ref()
        await ctx.write(
            lambda: ctx.store.set_impact(
                ref,
                actor=ctx.actor,
                customer_impact=self.customer_impact,
                services=self.services,
                users_affected=self.users,
                records_affected=self.records,
                data_loss_from=self.loss_from,
                data_loss_to=self.loss_to,
                at=at,
            )
        )
        return "impact recorded"


@dataclass(frozen=True)
class ChatLines(Command):
    """A pasted chat log: one note per line, each at its own time (see `chat_lines`)."""

    lines: tuple[tuple[datetime, str], ...]
    shifted: bool = field(default=False, compare=False)  # the first read as yesterday's

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        ref = ctx.ref()
        if self.shifted:
            await _not_before_it_began(ctx, self.lines[0][0])
        added = await ctx.write(lambda: ctx.store.log_lines(ref, self.lines, actor=ctx.actor))
        first, last = self.lines[0][0], self.lines[-1][0]
        return f"{len(added)} entries added, {stamp(first)} to {stamp(last)} UTC"


@dataclass(frozen=True)
class Backdated(Command):
    """`/at TIME /command ...`: the command, recorded as having happened at `at`."""

    at: datetime
    command: Command
    shifted: bool = field(default=False, compare=False)  # `at` read as yesterday's HH:MM

    async def run(self, ctx: Context, at: datetime | None = None) -> str | None:
        # A declaration back-dated to yesterday begins an incident of its own: there is
        # none yet (or it is not the open one) to have begun after it.
        if self.shifted and not isinstance(self.command, Declare):
            await _not_before_it_began(ctx, self.at)
        done = await self.command.run(ctx, self.at)
        return f"{done} (at {stamp(self.at)} UTC)" if done else done


class Who(StrEnum):
    """Who may run a command: said in its help line; the Store enforces it on write."""

    ANYONE = "anyone"  # reads or shows only: runs in a read-only session too
    WRITER = "writer"  # writes to the record (or opens a form that does)
    LEAD = "lead"  # writes, and only the commander or a deputy may


class Arg(StrEnum):
    """What a command's argument is, for completion: fixed words or what the incident holds."""

    SEVERITY = "severity"
    SEV_LEVEL = "sev-level"
    STATUS = "status"
    ROLE = "role"
    AUDIENCE = "audience"
    ACTION_STATUS = "action-status"
    ACTION = "action"
    STEP = "step"  # one not done yet
    DONE_STEP = "done-step"
    PERSON = "person"
    CONTACT = "contact"
    EVIDENCE = "evidence"
    INCIDENT = "incident"
    PLAYBOOK = "playbook"
    NOTIFIED = "notified"  # a contact told, "quoted" when it holds a space
    MARK = "mark"
    ACTION_TYPE = "action-type"


ROLE_KEYS = ("commander", "ic", "deputy", "scribe", "comms", "responder", "liaison")

# The words each fixed kind of argument completes to; the others come from the incident
# (see `complete`'s `known`).
FIXED_WORDS: dict[Arg, tuple[str, ...]] = {
    Arg.SEV_LEVEL: ("1", "2", "3", "4"),
    Arg.SEVERITY: ("SEV1", "SEV2", "SEV3", "SEV4"),
    Arg.STATUS: tuple(s.value for s in Status),
    Arg.ROLE: ROLE_KEYS,
    Arg.AUDIENCE: tuple(a.value for a in Audience),
    Arg.ACTION_STATUS: tuple(a.value for a in ActionStatus),
    Arg.MARK: tuple(m.value for m in Mark),
    Arg.ACTION_TYPE: tuple(t.value for t in ActionType),
}

Parser = Callable[[str, datetime], Command]


@dataclass(frozen=True)
class Spec:
    """One slash command, declared once: the parser, F1 help, the palette's template and
    the bar's completion are all read from here. `completes` names what each word of
    the arguments is, in order."""

    name: str
    args: str
    about: str
    parse: Parser
    who: Who = Who.WRITER
    completes: tuple[Arg, ...] = ()
    palette: bool = True  # listed in the palette as a template to finish in the bar
    form: str = ""  # what the command alone opens, as the palette lists it
    key: str = ""  # the key that opens the same, shown beside it
    cli: bool = False  # also `ircmd NAME INC-n ARGS... [--at TIME]`, generated from this

    @property
    def syntax(self) -> str:
        return f"/{self.name} {self.args}".rstrip()

    @property
    def help(self) -> str:
        """The help line: what it does, and who may when that is narrower than anyone."""
        return self.about + (" (commander or deputy)" if self.who is Who.LEAD else "")


def usage_of(name: str) -> Spec:
    return _BY_NAME[name]


def parse(line: str, *, now: datetime | None = None) -> Command:
    """One line of the entry bar -> a command, or ParseError with a one-line message.

    `now` anchors `/at HH:MM` (the most recent such moment, never the future).
    """
    stripped = line.strip()
    if not stripped:
        raise ParseError("nothing to add: type a note, or /help for commands")
    if not stripped.startswith("/") or stripped.startswith("//"):
        # `//text` is an escape for a note that starts with a slash.
        return Entry(stripped[1:] if stripped.startswith("//") else stripped)
    name, _, rest = stripped[1:].partition(" ")
    name = name.lower()
    rest = rest.strip()
    if name not in COMMAND_NAMES:
        near = [n for n in COMMAND_NAMES if n.startswith(name[:2])] if name else []
        hint = f" (did you mean /{near[0]}?)" if near else ""
        raise ParseError(f"unknown command /{name}{hint}; /help lists them")
    try:
        return _BY_NAME[name].parse(rest, now or datetime.now(UTC))
    except ParseError:
        raise
    except InvalidInput as e:
        raise ParseError(f"/{name}: {e}") from None


def _need(rest: str, name: str) -> str:
    if not rest:
        raise ParseError(f"usage: {usage_of(name).syntax}")
    return rest


def _split(rest: str, name: str) -> tuple[str, str]:
    first, _, tail = _need(rest, name).partition(" ")
    return first, tail.strip()


# `--detected TIME` / `--started TIME` at the end of a /declare line.
# TIME begins with a digit: `--detected later` stays words of the title.
_MOMENT = re.compile(r"\s+--(detected|started)(?:=|\s+)(\d\S*)$", re.IGNORECASE)


def _declare(rest: str, now: datetime) -> Command:
    moments: dict[str, datetime] = {}
    while m := _MOMENT.search(" " + rest):
        moments.setdefault(m.group(1).lower(), rules.parse_at(m.group(2), now))
        rest = (" " + rest)[: m.start()].strip()
    detected, started = moments.get("detected"), moments.get("started")
    first, _, tail = rest.partition(" ")
    tail = tail.strip()
    severity = None
    if first.upper().startswith("SEV"):
        severity = rules.parse_severity(first)
        if not tail:
            raise ParseError(f"usage: {usage_of('declare').syntax} (the title is missing)")
        rest = tail
    if moments and not rest:
        raise ParseError(f"usage: {usage_of('declare').syntax} (the title is missing)")
    return Declare(rest, severity, detected, started)


def _open(rest: str, now: datetime) -> Command:
    return Open(parse_incident_ref(_need(rest, "open")))


def _sev(rest: str, now: datetime) -> Command:
    value, reason = _split(_need(rest, "sev"), "sev")
    return SetSeverity(rules.parse_severity(value), reason)


def _status(rest: str, now: datetime) -> Command:
    value, reason = _split(rest, "status")
    return SetStatus(rules.parse_status(value), reason)


def _assign(rest: str, now: datetime) -> Command:
    if not rest:
        return Assign()
    role, person = _split(rest, "assign")
    parsed = rules.parse_role(role)
    if not person:
        raise ParseError(f"usage: {usage_of('assign').syntax} (who is {parsed}?)")
    return Assign(parsed, rules.check_name(person, "person"))


def _ic(rest: str, now: datetime) -> Command:
    return Assign(Role.COMMANDER, rules.check_name(_need(rest, "ic"), "person"))


def _add(rest: str, now: datetime) -> Command:
    return AddItem(_need(rest, "add"))


def _recovery(rest: str, now: datetime) -> Command:
    return AddItem(_need(rest, "recovery"), Phase.RECOVERY)


def _number(value: str, name: str) -> int:
    digits = value.lstrip("#")
    if not digits.isdigit() or int(digits) == 0:
        raise ParseError(f"/{name}: {value!r} is not a number; usage: {usage_of(name).syntax}")
    return int(digits)


def _check(rest: str, now: datetime) -> Command:
    return Check(_number(_need(rest, "check"), "check"))


def _uncheck(rest: str, now: datetime) -> Command:
    return Check(_number(_need(rest, "uncheck"), "uncheck"), done=False)


def _decision(rest: str, now: datetime) -> Command:
    return Entry(_need(rest, "decision"), Kind.DECISION)


def _action(rest: str, now: datetime) -> Command:
    return AddAction(rest)


# `/act ACT-n FIELD VALUE`: what each settable field takes.
ACT_FIELDS = {"owner": "NAME", "due": "YYYY-MM-DD", "review": "YYYY-MM-DD"}


def _act(rest: str, now: datetime) -> Command:
    ref, tail = _split(rest, "act")
    value, _, note = tail.partition(" ")
    if not value:
        raise ParseError(f"usage: {usage_of('act').syntax} (the new status is missing)")
    field, note = value.lower(), note.strip()
    if field in ACT_FIELDS:
        if not note:
            raise ParseError(
                f"usage: /act ACT-n {field} {ACT_FIELDS[field]} (the value is missing)"
            )
        action_id = parse_action_ref(ref)
        if field == "owner":
            return SetAction(action_id, owner=rules.check_name(note, "owner"))
        when = rules.parse_date(note, f"{field} date")
        return (
            SetAction(action_id, due=when) if field == "due" else SetAction(action_id, review=when)
        )
    status = rules.parse_action_status(value)
    if status in (ActionStatus.VERIFIED, ActionStatus.WONT_DO) and not note:
        need = "a reason" if status is ActionStatus.WONT_DO else "how it was verified"
        raise ParseError(f"usage: {usage_of('act').syntax} ({status} needs a note: {need})")
    return SetAction(parse_action_ref(ref), status, note)


def _link(rest: str, now: datetime) -> Command:
    ref, url = _split(rest, "link")
    if not url:
        raise ParseError(f"usage: {usage_of('link').syntax} (the URL is missing)")
    return LinkAction(parse_action_ref(ref), rules.check_link(url))


def _at(rest: str, now: datetime) -> Command:
    """`/at TIME TEXT` is a back-dated note; `/at TIME /command ...` back-dates any
    command that writes (`//text` after the time is a note starting with a slash)."""
    when, text = _split(rest, "at")
    at = rules.parse_at(when, now)
    shifted = rules.is_time_of_day(when) and at.date() != now.astimezone(UTC).date()
    if not text:
        raise ParseError(f"usage: {usage_of('at').syntax} (the text is missing)")
    if not text.startswith("/") or text.startswith("//"):
        return Entry(text[1:] if text.startswith("//") else text, Kind.NOTE, at, shifted)
    inner = parse(text, now=now)
    name = text[1:].partition(" ")[0].lower()
    if name == "at" or _BY_NAME[name].who is Who.ANYONE:
        raise ParseError(f"/at back-dates what goes on the record, not /{name}")
    if isinstance(inner, Entry):
        return Entry(inner.text, inner.kind, at, shifted)
    return Backdated(at, inner, shifted)


def _amend(rest: str, now: datetime) -> Command:
    ref, text = _split(rest, "amend")
    if not text:
        raise ParseError(f"usage: {usage_of('amend').syntax} (the correction is missing)")
    return Amend(_number(ref, "amend"), text)


FINAL = "--final"


def _update(rest: str, now: datetime) -> Command:
    if not rest:
        return Update()
    audience, text = _split(rest, "update")
    parsed = rules.parse_audience(audience)
    words = text.split(" ")
    final = FINAL in (words[0], words[-1])
    if words[0] == FINAL:
        text = text[len(FINAL) :].strip()
    elif words[-1] == FINAL:
        text = text[: -len(FINAL)].strip()
    if not text:
        raise ParseError(f"usage: {usage_of('update').syntax} (the update text is missing)")
    return Update(parsed, text, final)


def _playbook(rest: str, now: datetime) -> Command:
    return ApplyPlaybook(_need(rest, "playbook"))


def _notify(rest: str, now: datetime) -> Command:
    who, tail = _quoted_first(rest, "notify")
    quoted = rest.strip()[0] in "\"'"
    if quoted and tail:
        raise ParseError(f"usage: {usage_of('notify').syntax} (nothing after the quoted name)")
    return Notify(rules.check_name(who if quoted else rest.strip(), "contact"))


def _evidence(rest: str, now: datetime) -> Command:
    return AddEvidence(rest)


def _transfer(rest: str, now: datetime) -> Command:
    if not rest:
        return Transfer()
    ref, tail = _split(rest, "transfer")
    n = parse_evidence_ref(ref)
    to, _, reason = tail.partition(" ")
    if not to:
        raise ParseError(f"usage: {usage_of('transfer').syntax} (to whom?)")
    if not reason.strip():
        raise ParseError(f"usage: {usage_of('transfer').syntax} (the reason is missing)")
    return Transfer(n, rules.check_name(to, "recipient"), reason.strip())


def _unassign(rest: str, now: datetime) -> Command:
    role, person = _split(rest, "unassign")
    if not person:
        raise ParseError(f"usage: {usage_of('unassign').syntax} (who?)")
    return Unassign(rules.parse_role(role), rules.check_name(person, "person"))


def _quoted_first(rest: str, name: str) -> tuple[str, str]:
    """`"Status page" the rest` or `CTO the rest`: a name that holds spaces is quoted."""
    rest = _need(rest, name)
    if rest[0] in "\"'":
        end = rest.find(rest[0], 1)
        if end == -1:
            raise ParseError(f"/{name}: the quote {rest[0]} is not closed")
        return rest[1:end].strip(), rest[end + 1 :].strip()
    return _split(rest, name)


def _unnotify(rest: str, now: datetime) -> Command:
    who, reason = _quoted_first(rest, "unnotify")
    if not reason:
        raise ParseError(f"usage: {usage_of('unnotify').syntax} (the reason is missing)")
    return Unnotify(rules.check_name(who, "contact"), reason)


def _retype(rest: str, now: datetime) -> Command:
    ref, tail = _split(rest, "retype")
    kind, _, reason = tail.partition(" ")
    if not kind:
        raise ParseError(f"usage: {usage_of('retype').syntax} (the type is missing)")
    try:
        parsed = ActionType(kind.lower())
    except ValueError:
        raise ParseError(f"/retype: unknown type {kind!r} (corrective or preventive)") from None
    return Retype(parse_action_ref(ref), parsed, reason.strip())


def _step_and(rest: str, name: str, what: str) -> tuple[int, str]:
    n, tail = _split(rest, name)
    number = _number(n, name)
    if not tail:
        raise ParseError(f"usage: {usage_of(name).syntax} (the {what} is missing)")
    return number, tail


def _skip(rest: str, now: datetime) -> Command:
    return Skip(*_step_and(rest, "skip", "reason"))


NOBODY = "-"  # `/own N -`: the step has no owner


def _own(rest: str, now: datetime) -> Command:
    n, person = _step_and(rest, "own", "person")
    return Own(n, None if person == NOBODY else rules.check_name(person, "owner"))


def _edit(rest: str, now: datetime) -> Command:
    return EditStep(*_step_and(rest, "edit", "corrected text"))


def _title(rest: str, now: datetime) -> Command:
    return Retitle(_need(rest, "title"))


def _summary(rest: str, now: datetime) -> Command:
    return Summary(_need(rest, "summary"))


def _mark(rest: str, now: datetime) -> Command:
    what, tail = _split(rest, "mark")
    try:
        moment = Mark(what.lower())
    except ValueError:
        raise ParseError(f"/mark: {what!r} is not impact or detected") from None
    when, _, reason = tail.partition(" ")
    if not when or not reason.strip():
        raise ParseError(f"usage: {usage_of('mark').syntax} (the time and the reason)")
    return MarkMoment(moment, rules.parse_at(when, now), reason.strip())


_IMPACT_FIELDS = ("users", "records", "services", "loss")


def _count(fields: Mapping[str, str], key: str) -> int | None:
    value = fields.get(key)
    if value is None:
        return None
    digits = value.replace(",", "").replace("_", "")
    if not digits.isdigit():
        raise ParseError(f"/impact: {key}={value!r} is not a number")
    return int(digits)


def _impact(rest: str, now: datetime) -> Command:
    fields: dict[str, str] = {}
    words = _need(rest, "impact").split(" ")
    while words and words[0].partition("=")[0].lower() in _IMPACT_FIELDS and "=" in words[0]:
        key, _, value = words.pop(0).partition("=")
        fields[key.lower()] = value
    services = fields.get("services")
    loss_from = loss_to = None
    if "loss" in fields:
        start, sep, end = fields["loss"].partition("..")
        if not sep or not start or not end:
            raise ParseError("/impact: loss=FROM..TO (two times, ISO-8601 or HH:MM)")
        loss_from, loss_to = rules.parse_at(start, now), rules.parse_at(end, now)
    return SetImpact(
        " ".join(words).strip() or None,
        tuple(s for s in services.split(",") if s) if services is not None else None,
        _count(fields, "users"),
        _count(fields, "records"),
        loss_from,
        loss_to,
    )


def _review(rest: str, now: datetime) -> Command:
    return EditReview()


def _close(rest: str, now: datetime) -> Command:
    return Close(rest)


def _help(rest: str, now: datetime) -> Command:
    return Help()


COMMANDS: tuple[Spec, ...] = (
    Spec(
        "declare",
        "SEVn TITLE [--detected TIME] [--started TIME]",
        "declare a new incident; when it was noticed, when impact began (alone: form)",
        _declare,
        completes=(Arg.SEVERITY,),
        form="Declare an incident (form)",
        key="F2",
    ),
    Spec(
        "open",
        "INC-n",
        "make another incident current",
        _open,
        Who.ANYONE,
        completes=(Arg.INCIDENT,),
    ),
    Spec(
        "sev",
        "N [REASON]",
        "change severity",
        _sev,
        Who.LEAD,
        completes=(Arg.SEV_LEVEL,),
    ),
    Spec(
        "status",
        "STATUS [REASON]",
        "move the incident; going back needs a reason",
        _status,
        completes=(Arg.STATUS,),
    ),
    Spec(
        "assign",
        "ROLE PERSON",
        "give a role (alone: open the form)",
        _assign,
        completes=(Arg.ROLE, Arg.PERSON),
        form="Assign a role (form)",
        key="F3",
    ),
    Spec("ic", "PERSON", "hand command to PERSON", _ic, completes=(Arg.PERSON,), cli=True),
    Spec("add", "TEXT", "add a containment step", _add),
    Spec("recovery", "TEXT", "add a recovery step", _recovery),
    Spec("check", "N", "check step N", _check, completes=(Arg.STEP,)),
    Spec("uncheck", "N", "uncheck step N", _uncheck, completes=(Arg.DONE_STEP,)),
    Spec("decision", "TEXT", "record a decision", _decision),
    Spec(
        "action",
        "TEXT",
        "add a follow-up action (alone: form with owner, due date)",
        _action,
        form="Add a follow-up action (form)",
        key="a",
    ),
    Spec(
        "act",
        "ACT-n STATUS [NOTE] | ACT-n owner|due|review VALUE",
        "move an action (verified/wont_do need the note), or set its owner or dates",
        _act,
        completes=(Arg.ACTION, Arg.ACTION_STATUS),
    ),
    Spec(
        "retype",
        "ACT-n corrective|preventive [REASON]",
        "correct an action's type",
        _retype,
        completes=(Arg.ACTION, Arg.ACTION_TYPE),
        cli=True,
    ),
    Spec(
        "link",
        "ACT-n URL",
        "record where an action is tracked outside ircmd (an issue's URL)",
        _link,
        completes=(Arg.ACTION,),
    ),
    Spec(
        "at",
        "TIME TEXT|/COMMAND ...",
        "back-date a note or any command; TIME is HH:MM (UTC, latest such) or ISO-8601",
        _at,
    ),
    Spec("amend", "ID TEXT", "correct timeline entry #ID", _amend),
    Spec(
        "update",
        "internal|external [--final] TEXT",
        "log a stakeholder update; --final: the last one (alone: draft form)",
        _update,
        completes=(Arg.AUDIENCE,),
        form="Draft a stakeholder update (form)",
        key="u",
    ),
    Spec(
        "unassign",
        "ROLE PERSON",
        "take a role back (given in error, or stood down)",
        _unassign,
        completes=(Arg.ROLE, Arg.PERSON),
    ),
    Spec("edit", "N TEXT", "correct step N's text", _edit, completes=(Arg.STEP,), cli=True),
    Spec(
        "skip",
        "N REASON",
        "step N does not apply here (settled for closing)",
        _skip,
        completes=(Arg.STEP,),
        cli=True,
    ),
    Spec(
        "own",
        "N PERSON|-",
        "give step N an owner (- for nobody)",
        _own,
        completes=(Arg.STEP, Arg.PERSON),
        cli=True,
    ),
    Spec("title", "TEXT", "retitle the incident (the old title stays)", _title, cli=True),
    Spec("summary", "TEXT", "replace the incident's summary", _summary, cli=True),
    Spec(
        "impact",
        "[users=N] [records=N] [services=A,B] [loss=FROM..TO] [TEXT]",
        "what it did to customers; only what is given changes",
        _impact,
        cli=True,
    ),
    Spec(
        "mark",
        "impact|detected TIME REASON",
        "re-mark when impact (or a worse one) began, or it was noticed",
        _mark,
        completes=(Arg.MARK,),
        cli=True,
    ),
    Spec(
        "playbook",
        "NAME",
        "apply a playbook's checklist",
        _playbook,
        completes=(Arg.PLAYBOOK,),
    ),
    Spec(
        "notify",
        "WHO",
        "check off an escalation contact as told",
        _notify,
        completes=(Arg.CONTACT,),
    ),
    Spec(
        "unnotify",
        "WHO REASON",
        'a contact checked off by mistake is to be told again ("quote" a name with spaces)',
        _unnotify,
        completes=(Arg.NOTIFIED,),
        cli=True,
    ),
    Spec(
        "evidence",
        "DESCRIPTION",
        "register evidence, you hold it (alone: form)",
        _evidence,
        form="Register evidence (form)",
        key="e",
    ),
    Spec(
        "transfer",
        "EV-n TO REASON",
        "hand evidence custody to TO (alone: form)",
        _transfer,
        completes=(Arg.EVIDENCE, Arg.PERSON),
        form="Transfer evidence custody (form)",
        key="t",
    ),
    Spec(
        "review",
        "",
        "edit the post-incident review (form)",
        _review,
        form="Edit the post-incident review (form)",
        key="r",
    ),
    Spec(
        "close", "[OVERRIDE REASON]", "close; missing items are listed, a reason overrides", _close
    ),
    Spec(
        "help",
        "",
        "show keys and commands",
        _help,
        Who.ANYONE,
        palette=False,
        form="Help: keys and slash commands",
        key="F1",
    ),
)

_BY_NAME = {spec.name: spec for spec in COMMANDS}
COMMAND_NAMES = tuple(_BY_NAME)


def typed_ahead(text: str) -> str | None:
    """Why a dialog's field may not hold `text`: it starts with a slash command
    ("/status triaged x"), so it is a line typed for the bar that the dialog, opening
    meanwhile, took; kept, it would go on the record as a title or a reason."""
    word = text.strip().partition(" ")[0].lower()
    if not word.startswith("/") or word[1:] not in _BY_NAME:
        return None
    return f"{word} … is a command typed ahead, not an answer here: edit it, or Escape"


# `23:41 carol: text`, `[23:41:05] carol: text`, `23:41 <carol> text`: a chat line.
_CHAT = re.compile(r"^\[?(\d{1,2}:\d{2}(?::\d{2})?)\]?\s+(?:<([^>]+)>|([^:\s][^:]{0,63}):)\s*(.*)$")


def chat_lines(text: str, now: datetime) -> ChatLines | None:
    """A paste of timestamped chat lines (`23:41 name: text`), one entry per line at its
    own time (the latest such moment, as `/at HH:MM` reads it), "name: text" kept
    whole; None when any non-blank line is not one, fewer than two are, or their
    times run backwards (a log in another time zone than UTC, read across midnight)."""
    found: list[tuple[datetime, str]] = []
    shifted = False
    for line in text.splitlines():
        if not line.strip():
            continue
        m = _CHAT.match(line.strip())
        if m is None:
            return None
        when, speaker, said = m.group(1), m.group(2) or m.group(3), m.group(4).strip()
        try:
            at = rules.parse_at(when, now)
        except InvalidInput:
            return None
        if found and at < found[-1][0]:
            return None
        shifted |= at.date() != now.astimezone(UTC).date()
        found.append((at, f"{speaker.strip()}: {said}" if said else f"{speaker.strip()}:"))
    return ChatLines(tuple(found), shifted) if len(found) >= 2 else None


def complete(value: str, known: Mapping[Arg, Iterable[str]] | None = None) -> str | None:
    """The first completion of a half-typed slash command, or None: the bar's grey
    suggestion. Nothing is suggested for an argument not begun yet."""
    if value.endswith(" "):
        return None
    found = completions(value, known)
    return found[0] if found else None


def completions(value: str, known: Mapping[Arg, Iterable[str]] | None = None) -> list[str]:
    """Every completion of a half-typed slash command, in order: what Tab cycles through.

    After the name, the word being typed completes from what the command's `completes`
    says that word is: fixed words, or those `known` lists for the open incident
    (step numbers, people, contacts, playbooks, EV-n, ACT-n). The last argument may
    hold spaces ("Status page"), so it is matched whole."""
    if not value.startswith("/") or value.startswith("//"):
        return []
    name, space, arg = value[1:].partition(" ")
    if not space:
        lowered = name.lower()
        if lowered in COMMAND_NAMES:
            names = [lowered]
        else:
            names = [n for n in COMMAND_NAMES if n.startswith(lowered) and name]
        return ["/" + n + " " for n in names if value[1:] != n + " "]
    spec = _BY_NAME.get(name.lower())
    if spec is None:
        return []
    words = arg.split(" ")
    index = min(len(words), len(spec.completes)) - 1
    if index < 0 or (len(words) > len(spec.completes) and index < len(spec.completes) - 1):
        return []
    before, typed = words[:index], " ".join(words[index:])
    if index < len(spec.completes) - 1 and " " in typed:
        return []
    kind = spec.completes[index]
    options = FIXED_WORDS.get(kind) or tuple((known or {}).get(kind, ()))
    found = [w for w in options if w.lower().startswith(typed.lower()) and w != typed]
    return [" ".join([f"/{name}", *before, w]) + " " for w in found]
