"""The entry-bar language: one typed line -> one command, without Textual.

Plain text is a note; a line starting with `/` is a slash command. Parsing is
pure (the caller passes `now` for back-dated entries) so it is unit-tested on
its own and the screen only has to map commands onto Store verbs. Every refusal
is a ParseError with a one-line message saying what to type instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from . import rules
from .models import (
    ActionStatus,
    Audience,
    InvalidInput,
    Kind,
    Phase,
    Role,
    Severity,
    Status,
    parse_action_ref,
    parse_incident_ref,
)


class ParseError(InvalidInput):
    """A line the entry bar cannot run: unknown command or bad argument."""


@dataclass(frozen=True)
class Entry:
    """A timeline entry: a note or decision, back-dated when `at` is set."""

    text: str
    kind: Kind = Kind.NOTE
    at: datetime | None = None


@dataclass(frozen=True)
class Declare:
    """`/declare` alone opens the form; with a title it declares at once."""

    title: str = ""
    severity: Severity | None = None


@dataclass(frozen=True)
class Open:
    number: int


@dataclass(frozen=True)
class SetSeverity:
    severity: Severity


@dataclass(frozen=True)
class SetStatus:
    status: Status
    reason: str = ""


@dataclass(frozen=True)
class Assign:
    """`/assign` without arguments opens the form; `/ic bob` is a commander hand-off."""

    role: Role | None = None
    person: str = ""


@dataclass(frozen=True)
class AddItem:
    text: str
    phase: Phase = Phase.CONTAINMENT


@dataclass(frozen=True)
class Check:
    n: int
    done: bool = True


@dataclass(frozen=True)
class AddAction:
    """`/action TITLE` adds at once; `/action` alone opens the form (owner, due date)."""

    title: str = ""


@dataclass(frozen=True)
class SetAction:
    """`/act ACT-n STATUS [NOTE]`: verified and wont_do need the note.
    `/act ACT-n owner NAME`, `due DATE` or `review DATE` change the rest."""

    action_id: int
    status: ActionStatus | None = None
    note: str = ""
    owner: str | None = None
    due: date | None = None
    review: date | None = None


@dataclass(frozen=True)
class Amend:
    event_id: int
    text: str


@dataclass(frozen=True)
class Update:
    """`/update AUDIENCE [--final] TEXT` logs at once; `/update` alone opens the
    draft form. `--final` (first or last word) marks the update closure needs."""

    audience: Audience | None = None
    text: str = ""
    final: bool = False


@dataclass(frozen=True)
class ApplyPlaybook:
    name: str


@dataclass(frozen=True)
class Notify:
    who: str


@dataclass(frozen=True)
class AddEvidence:
    """`/evidence DESCRIPTION` registers (no file); alone it opens the form."""

    description: str = ""


@dataclass(frozen=True)
class Transfer:
    """`/transfer EV-n TO REASON`; alone it opens the form."""

    n: int | None = None
    to: str = ""
    reason: str = ""


@dataclass(frozen=True)
class EditReview:
    """`/review` opens the post-incident review form."""


@dataclass(frozen=True)
class Close:
    """`/close` passes the closure gate; `/close REASON` overrides it on the record."""

    override: str = ""


@dataclass(frozen=True)
class Help:
    pass


Command = (
    Entry
    | Declare
    | Open
    | SetSeverity
    | SetStatus
    | Assign
    | AddItem
    | Check
    | AddAction
    | SetAction
    | Amend
    | Update
    | ApplyPlaybook
    | Notify
    | AddEvidence
    | Transfer
    | EditReview
    | Close
    | Help
)


@dataclass(frozen=True)
class Usage:
    name: str
    args: str
    help: str

    @property
    def syntax(self) -> str:
        return f"/{self.name} {self.args}".rstrip()


USAGES: tuple[Usage, ...] = (
    Usage("declare", "SEVn TITLE", "declare a new incident (alone: open the form)"),
    Usage("open", "INC-n", "make another incident current"),
    Usage("sev", "N", "change severity (commander or deputy)"),
    Usage("status", "STATUS [REASON]", "move the incident; going back needs a reason"),
    Usage("assign", "ROLE PERSON", "give a role (alone: open the form)"),
    Usage("ic", "PERSON", "hand command to PERSON"),
    Usage("add", "TEXT", "add a containment step"),
    Usage("recovery", "TEXT", "add a recovery step"),
    Usage("check", "N", "check step N"),
    Usage("uncheck", "N", "uncheck step N"),
    Usage("decision", "TEXT", "record a decision"),
    Usage("action", "TEXT", "add a follow-up action (alone: form with owner, due date)"),
    Usage(
        "act",
        "ACT-n STATUS [NOTE] | ACT-n owner|due|review VALUE",
        "move an action (verified/wont_do need the note), or set its owner or dates",
    ),
    Usage("at", "HH:MM TEXT", "a note back-dated to HH:MM UTC"),
    Usage("amend", "ID TEXT", "correct timeline entry #ID"),
    Usage(
        "update",
        "internal|external [--final] TEXT",
        "log a stakeholder update; --final: the last one (alone: draft form)",
    ),
    Usage("playbook", "NAME", "apply a playbook's checklist"),
    Usage("notify", "WHO", "check off an escalation contact as told"),
    Usage("evidence", "DESCRIPTION", "register evidence, you hold it (alone: form)"),
    Usage("transfer", "EV-n TO REASON", "hand evidence custody to TO (alone: form)"),
    Usage("review", "", "edit the post-incident review (form)"),
    Usage("close", "[OVERRIDE REASON]", "close; missing items are listed, a reason overrides"),
    Usage("help", "", "show keys and commands"),
)

COMMAND_NAMES = tuple(u.name for u in USAGES)
ROLE_KEYS = ("commander", "ic", "deputy", "scribe", "comms", "responder", "liaison")

# Words completed after a command and its space, so `/status c` suggests `contained`.
ARGUMENT_WORDS: dict[str, tuple[str, ...]] = {
    "sev": ("1", "2", "3", "4"),
    "declare": ("SEV1", "SEV2", "SEV3", "SEV4"),
    "status": tuple(s.value for s in Status),
    "assign": ROLE_KEYS,
    "update": tuple(a.value for a in Audience),
}
ACTION_WORDS = tuple(a.value for a in ActionStatus)


def usage_of(name: str) -> Usage:
    return next(u for u in USAGES if u.name == name)


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
        return _PARSERS[name](rest, now or datetime.now(UTC))
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


def _declare(rest: str, now: datetime) -> Command:
    first, _, tail = rest.partition(" ")
    tail = tail.strip()
    if first.upper().startswith("SEV"):
        severity = rules.parse_severity(first)
        if not tail:
            raise ParseError(f"usage: {usage_of('declare').syntax} (the title is missing)")
        return Declare(tail, severity)
    return Declare(rest)


def _open(rest: str, now: datetime) -> Command:
    return Open(parse_incident_ref(_need(rest, "open")))


def _sev(rest: str, now: datetime) -> Command:
    return SetSeverity(rules.parse_severity(_need(rest, "sev")))


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
    try:
        status = ActionStatus(value.lower().replace("-", "_"))
    except ValueError:
        allowed = ", ".join(a.value for a in ActionStatus)
        raise ParseError(f"/act: unknown action status {value!r} ({allowed})") from None
    note = note.strip()
    if status in (ActionStatus.VERIFIED, ActionStatus.WONT_DO) and not note:
        need = "a reason" if status is ActionStatus.WONT_DO else "how it was verified"
        raise ParseError(f"usage: {usage_of('act').syntax} ({status} needs a note: {need})")
    return SetAction(parse_action_ref(ref), status, note)


def _at(rest: str, now: datetime) -> Command:
    when, text = _split(rest, "at")
    at = rules.parse_at(when, now)
    if not text:
        raise ParseError(f"usage: {usage_of('at').syntax} (the text is missing)")
    return Entry(text, Kind.NOTE, at)


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
    return Notify(rules.check_name(_need(rest, "notify"), "contact"))


def _evidence(rest: str, now: datetime) -> Command:
    return AddEvidence(rest)


def _evidence_ref(value: str) -> int:
    digits = value.upper().removeprefix("EV-").removeprefix("EV").lstrip("#")
    if not digits.isdigit() or int(digits) == 0:
        raise ParseError(
            f"/transfer: {value!r} is not an evidence id; usage: {usage_of('transfer').syntax}"
        )
    return int(digits)


def _transfer(rest: str, now: datetime) -> Command:
    if not rest:
        return Transfer()
    ref, tail = _split(rest, "transfer")
    n = _evidence_ref(ref)
    to, _, reason = tail.partition(" ")
    if not to:
        raise ParseError(f"usage: {usage_of('transfer').syntax} (to whom?)")
    if not reason.strip():
        raise ParseError(f"usage: {usage_of('transfer').syntax} (the reason is missing)")
    return Transfer(n, rules.check_name(to, "recipient"), reason.strip())


def _review(rest: str, now: datetime) -> Command:
    return EditReview()


def _close(rest: str, now: datetime) -> Command:
    return Close(rest)


def _help(rest: str, now: datetime) -> Command:
    return Help()


_PARSERS = {
    "declare": _declare,
    "open": _open,
    "sev": _sev,
    "status": _status,
    "assign": _assign,
    "ic": _ic,
    "add": _add,
    "recovery": _recovery,
    "check": _check,
    "uncheck": _uncheck,
    "decision": _decision,
    "action": _action,
    "act": _act,
    "at": _at,
    "amend": _amend,
    "update": _update,
    "playbook": _playbook,
    "notify": _notify,
    "evidence": _evidence,
    "transfer": _transfer,
    "review": _review,
    "close": _close,
    "help": _help,
}


def complete(value: str) -> str | None:
    """The completion of a half-typed slash command, or None: used by the bar's suggester."""
    if not value.startswith("/") or value.startswith("//"):
        return None
    name, space, arg = value[1:].partition(" ")
    if not space:
        lowered = name.lower()
        match = (
            lowered
            if lowered in COMMAND_NAMES
            else next((n for n in COMMAND_NAMES if n.startswith(lowered) and name), None)
        )
        return "/" + match + " " if match and value[1:] != match + " " else None
    words = ARGUMENT_WORDS.get(name.lower(), ())
    if name.lower() == "act" and arg.count(" ") == 1:
        # `/act ACT-3 d` -> `/act ACT-3 done `: the status is the second word.
        ref, _, arg = arg.partition(" ")
        found = next(
            (w for w in ACTION_WORDS if arg and w.startswith(arg.lower()) and w != arg), None
        )
        return f"/{name} {ref} {found} " if found else None
    if not arg or " " in arg:
        return None
    found = next((w for w in words if w.lower().startswith(arg.lower()) and w != arg), None)
    return f"/{name} {found} " if found else None
