"""Pure domain rules: validation, transitions, permissions, cadence, closure, metrics.

Nothing here touches SQLite or the clock: callers pass `now`. The store enforces
these rules inside its write transactions, so every front end gets the same answer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

from .domain import (
    MAX_LINK_CHARS,
    MAX_NAME_CHARS,
    MAX_TEXT_BYTES,
    REVIEW_LABELS,
    ROLE_ALIASES,
    ActionStatus,
    Audience,
    Gap,
    GapKind,
    InvalidInput,
    Kind,
    Level,
    Mark,
    Phase,
    Role,
    RuleViolation,
    Severity,
    Status,
)

if TYPE_CHECKING:
    from .models import Action, Event, Evidence, IncidentState, Metrics, Moment


# ---------------------------------------------------------------- validation


def check_text(text: str, what: str = "text", limit: int = MAX_TEXT_BYTES) -> str:
    """Refuse empty, whitespace-only and oversized text (over `limit` bytes of UTF-8:
    IRCMD_MAX_TEXT, 64 KiB by default); otherwise return it unchanged.

    The record keeps exactly what was typed (markup, escapes and all): it is the
    display's job to show it safely, not the store's to rewrite evidence.
    """
    if not text or not text.strip():
        raise InvalidInput(f"{what} is empty")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} is not valid Unicode (lone surrogate)") from None
    if size > limit:
        unit = f" ({limit // 1024} KiB)" if limit % 1024 == 0 else " bytes"
        raise InvalidInput(f"{what} is {size} bytes; the limit is {limit}{unit}")
    return text


def clip_text(text: str, limit: int, where: str) -> str:
    """`text` whole if it fits in `limit` bytes of UTF-8, else its head and a note
    saying it was cut and `where` it is whole, together within the limit.

    For text a machine sent (an alert's summary and description): refusing it would
    refuse the alert with it, and a sender does not retry a refusal. Text a person
    typed is refused instead (`check_text`), so that nothing of it is lost.
    """
    raw = text.encode("utf-8", "surrogatepass")  # a lone surrogate is `check_text`'s to refuse
    if len(raw) <= limit:
        return text
    note = f" … [cut at {limit} bytes: {where}]"
    room = limit - len(note.encode("utf-8"))
    if room <= 0:  # a limit too small for the note: the head alone
        return raw[:limit].decode("utf-8", "ignore")
    return raw[:room].decode("utf-8", "ignore") + note


# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): characters a
# renderer may draw as nothing. Some are letters (U+3164 HANGUL FILLER is Lo), so
# the general category alone does not find them.
_DEFAULT_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
# Controls, format characters (the bidi controls among them), line and paragraph
# separators, surrogates, private-use and unassigned code points.
_NOT_IN_A_NAME = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def check_name(name: str, what: str = "name") -> str:
    """A person, role holder, custodian, owner, contact or channel, as the record
    keeps it: NFKC-normalised, spaces collapsed, at most 100 characters.

    Two spellings that look the same are one name: NFKC folds compatibility forms
    (fullwidth `ｃａｒｏｌ`, ligatures, non-breaking spaces) into the plain ones, and
    a name holding an invisible character is refused rather than kept, so `carol`
    and `carol` followed by a Hangul filler (U+3164), a zero-width space or a
    variation selector cannot be two people. Refused: default-ignorable code
    points, controls, bidi controls and other format characters, separators,
    private-use and unassigned characters."""
    typed = name
    name = " ".join(unicodedata.normalize("NFKC", name).split())
    if not name:
        raise InvalidInput(f"{what} is empty")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput(f"{what} is longer than {MAX_NAME_CHARS} characters")
    # The typed text first, so the error names the character that was typed.
    hidden = _hidden(typed) or _hidden(name)
    if hidden:
        raise InvalidInput(
            f"{what} contains invisible or control characters (U+{ord(hidden):04X});"
            " type the name plainly"
        )
    return name


def check_link(url: str) -> str:
    """A link an action points to (an issue, a ticket), as the record keeps it.

    Only http and https, which every reader of a report can open and none of which
    runs anything (no `javascript:`, `file:`); at most MAX_LINK_CHARS; nothing
    invisible or a control character, so what is shown is what a click opens. No
    user name or password in it: the record keeps a link for good."""
    url = url.strip()
    if not url:
        raise InvalidInput("link is empty")
    if len(url) > MAX_LINK_CHARS:
        raise InvalidInput(f"link is longer than {MAX_LINK_CHARS} characters")
    hidden = _hidden(url) or next((c for c in url if c.isspace()), None)
    if hidden:
        raise InvalidInput(
            f"link contains a space, an invisible or a control character (U+{ord(hidden):04X})"
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as e:
        raise InvalidInput(f"link is not a valid URL: {e}") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise InvalidInput(f"link must be an http:// or https:// URL with a host: {url!r}")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("link holds a user name or password; the record would keep it")
    return url


def _hidden(text: str) -> str | None:
    """The first character of `text` that has no place in a name, if any."""
    found = _DEFAULT_IGNORABLE.search(text)
    if found:
        return found.group()
    return next((c for c in text if unicodedata.category(c) in _NOT_IN_A_NAME), None)


def parse_severity(value: str) -> Severity:
    """`SEV2`, `sev2`, `2` -> Severity.SEV2."""
    v = value.strip().upper()
    if v.isdigit():
        v = "SEV" + v
    try:
        return Severity(v)
    except ValueError:
        raise InvalidInput(f"unknown severity {value!r} (use SEV1..SEV4)") from None


def parse_status(value: str) -> Status:
    v = value.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return Status(v)
    except ValueError:
        names = ", ".join(s.value for s in Status)
        raise InvalidInput(f"unknown status {value!r} (use one of: {names})") from None


def parse_role(value: str) -> Role:
    v = value.strip().lower()
    if v in ROLE_ALIASES:
        return ROLE_ALIASES[v]
    try:
        return Role(v)
    except ValueError:
        names = ", ".join(["ic"] + [r.value for r in Role])
        raise InvalidInput(f"unknown role {value!r} (use one of: {names})") from None


def parse_level(value: str, what: str) -> Level:
    try:
        return Level(value.strip().lower())
    except ValueError:
        raise InvalidInput(f"unknown {what} {value!r} (use high, medium or low)") from None


def parse_audience(value: str) -> Audience:
    try:
        return Audience(value.strip().lower())
    except ValueError:
        raise InvalidInput(f"unknown audience {value!r} (use internal or external)") from None


def parse_action_status(value: str) -> ActionStatus:
    """`done`, `in-progress`, `WONT_DO`... -> the status, or InvalidInput listing them."""
    try:
        return ActionStatus(value.strip().lower().replace("-", "_"))
    except ValueError:
        allowed = ", ".join(s.value for s in ActionStatus)
        raise InvalidInput(f"unknown action status {value!r} (use: {allowed})") from None


_HHMM = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")

# How far ahead of this host's clock a time may be: another machine's clock skew.
CLOCK_SKEW = timedelta(minutes=1)
# How long before an incident's impact start an entry may be dated: earlier is a typo
# (a wrong day or year) far more often than history.
BEFORE_IMPACT = timedelta(days=7)


def is_time_of_day(value: str) -> bool:
    """`HH:MM[:SS]`, which `parse_at` reads as its latest moment (maybe yesterday's)."""
    return _HHMM.match(value.strip()) is not None


def parse_at(value: str, now: datetime) -> datetime:
    """Parse `--at`: ISO-8601 (naive means UTC) or `HH:MM[:SS]` UTC.

    `HH:MM` is the most recent such moment: typed at 00:10 UTC, `23:55` means
    yesterday, because a scribe back-dating an entry never means the future. A time
    a few minutes ahead stays today (and is then refused as future by
    `check_time`, rather than silently read as yesterday). Only parses: whether a
    time is plausible is `check_time`'s question, asked where it is written.
    """
    value = value.strip()
    m = _HHMM.match(value)
    if m:
        h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        if h > 23 or mi > 59 or s > 59:
            raise InvalidInput(f"not a time of day: {value!r}")
        candidate = datetime.combine(now.astimezone(UTC).date(), time(h, mi, s), UTC)
        if candidate > now + timedelta(minutes=5):
            candidate -= timedelta(days=1)
        return candidate
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"not a time: {value!r} (use ISO-8601 or HH:MM, UTC)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59-23:00 lands past year 9999
        raise InvalidInput(f"not a time: {value!r} (out of range)") from None


def check_time(
    at: datetime, now: datetime, origin: datetime | None = None, what: str = "time"
) -> datetime:
    """Refuse a time that cannot be meant: in the future beyond CLOCK_SKEW, or more
    than BEFORE_IMPACT before the incident's `origin` (impact start, else detection,
    else declaration). Back-dating anywhere within an incident's real span passes.
    `--force-time` (IRCMD_FORCE_TIME) skips this check for a clock that is wrong."""
    shown = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if at > now + CLOCK_SKEW:
        raise InvalidInput(
            f"{what} {shown} UTC is in the future (this host's clock says"
            f" {now.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC); --force-time records it anyway"
        )
    if origin is not None and at < origin - BEFORE_IMPACT:
        raise InvalidInput(
            f"{what} {shown} UTC is more than a week before the incident's impact start"
            f" ({origin.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC); --force-time records it anyway"
        )
    return at


def parse_date(value: str, what: str = "date") -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"not a {what}: {value!r} (use YYYY-MM-DD)") from None


# ------------------------------------------------------------ classification

_MATRIX: dict[tuple[Level, Level], Severity] = {
    (Level.HIGH, Level.HIGH): Severity.SEV1,
    (Level.HIGH, Level.MEDIUM): Severity.SEV2,
    (Level.MEDIUM, Level.HIGH): Severity.SEV2,
    (Level.HIGH, Level.LOW): Severity.SEV3,
    (Level.MEDIUM, Level.MEDIUM): Severity.SEV3,
    (Level.LOW, Level.HIGH): Severity.SEV3,
    (Level.MEDIUM, Level.LOW): Severity.SEV4,
    (Level.LOW, Level.MEDIUM): Severity.SEV4,
    (Level.LOW, Level.LOW): Severity.SEV4,
}


def suggest_severity(impact: Level | None, urgency: Level | None) -> Severity:
    """Impact x urgency -> severity; unknown halves count as medium."""
    return _MATRIX[(impact or Level.MEDIUM, urgency or Level.MEDIUM)]


# --------------------------------------------------------------- permissions


def can_command(state: IncidentState, actor: str) -> bool:
    """Severity, status, roles and closing: commander or deputy, or anyone while
    no commander is assigned (someone must be able to take charge)."""
    commanders = state.people(Role.COMMANDER)
    if not commanders:
        return True
    return actor in commanders or actor in state.people(Role.DEPUTY)


def require_command(state: IncidentState, actor: str, what: str) -> None:
    if not can_command(state, actor):
        who = ", ".join(state.people(Role.COMMANDER) + state.people(Role.DEPUTY))
        raise RuleViolation(
            f"only the commander or deputy may {what} on {state.incident.key} ({who}); "
            f"you are {actor}"
        )


def check_custody_transfer(state: IncidentState, item: Evidence, to: str, actor: str) -> None:
    """Custody passes from hand to hand: only the holder may hand an item on, or
    the commander or deputy when the holder is unavailable. Unlike command, nobody
    may take an item just because no commander is assigned: take charge first.

    Handing an item to the person who already holds it is refused (nothing moves).
    """
    if to == item.custodian:
        raise RuleViolation(f"{item.key} is already held by {to}")
    if actor == item.custodian:
        return
    commanders = list(dict.fromkeys(state.people(Role.COMMANDER) + state.people(Role.DEPUTY)))
    if actor in commanders:
        return
    who = ", ".join(commanders) or "none assigned"
    raise RuleViolation(
        f"{item.key} is held by {item.custodian}; only {item.custodian} or the "
        f"commander/deputy ({who}) may transfer it; you are {actor}"
    )


# --------------------------------------------------------------- transitions


def check_transition(current: Status, new: Status, reason: str | None) -> None:
    """Forward moves and skips are free; going back is a re-open and needs a reason.

    Setting the status it already has is allowed: two people choosing the same
    status at the same moment both land on the record, neither is told off.
    """
    if new.rank < current.rank and not (reason and reason.strip()):
        raise RuleViolation(f"moving back from {current} to {new} is a re-open: give a reason")


_ACTION_MOVES: dict[ActionStatus, set[ActionStatus]] = {
    ActionStatus.OPEN: {ActionStatus.IN_PROGRESS, ActionStatus.DONE, ActionStatus.WONT_DO},
    ActionStatus.IN_PROGRESS: {ActionStatus.OPEN, ActionStatus.DONE, ActionStatus.WONT_DO},
    ActionStatus.DONE: {ActionStatus.VERIFIED, ActionStatus.IN_PROGRESS, ActionStatus.WONT_DO},
    ActionStatus.VERIFIED: set(),
    ActionStatus.WONT_DO: {ActionStatus.OPEN},
}


def check_action_transition(current: ActionStatus, new: ActionStatus, note: str | None) -> None:
    """open -> in_progress -> done -> verified; wont_do needs a reason and verified
    needs the verification of effectiveness; done -> in_progress when it did not work."""
    if new not in _ACTION_MOVES[current]:
        allowed = ", ".join(sorted(s.value for s in _ACTION_MOVES[current])) or "nothing"
        raise RuleViolation(f"an action cannot go from {current} to {new} (allowed: {allowed})")
    if new in (ActionStatus.WONT_DO, ActionStatus.VERIFIED) and not (note and note.strip()):
        need = "a reason" if new is ActionStatus.WONT_DO else "how effectiveness was verified"
        raise RuleViolation(f"{new} needs --note with {need}")


def action_overdue(action: Action, now: datetime, tz: tzinfo = UTC) -> bool:
    """Overdue once the due date has fully passed in the owner's time zone."""
    if not action.due or action.status in (ActionStatus.VERIFIED, ActionStatus.WONT_DO):
        return False
    end = datetime.combine(date.fromisoformat(action.due) + timedelta(days=1), time(0), tz)
    return now >= end


def action_flag(action: Action, now: datetime, tz: tzinfo = UTC) -> str:
    """What an action's line says after its due date. A done action is the verifier's
    to close, not the owner's to chase: "awaiting verification", never OVERDUE (it
    still counts as owed for the overdue list until it is verified)."""
    if action.status is ActionStatus.DONE:
        return "awaiting verification"
    return "OVERDUE" if action_overdue(action, now, tz) else ""


# -------------------------------------------------------- cadence, escalation

CADENCE: dict[Severity, timedelta | None] = {
    Severity.SEV1: timedelta(minutes=30),
    Severity.SEV2: timedelta(minutes=60),
    Severity.SEV3: timedelta(hours=4),
    Severity.SEV4: None,
}

REQUIRED_ROLES: dict[Severity, tuple[Role, ...]] = {
    Severity.SEV1: (Role.COMMANDER, Role.SCRIBE, Role.COMMS),
    Severity.SEV2: (Role.COMMANDER, Role.COMMS),
    Severity.SEV3: (Role.COMMANDER,),
    Severity.SEV4: (),
}


def next_update_due(state: IncidentState) -> datetime | None:
    """When the next stakeholder update is due; None once resolved or for SEV4."""
    inc = state.incident
    cadence = CADENCE[inc.severity]
    if cadence is None or inc.status.rank >= Status.RESOLVED.rank:
        return None
    last = max((u.sent_at for u in state.updates), default=inc.declared_at)
    return last + cadence


def missing_roles(state: IncidentState) -> list[Role]:
    """Roles the severity or an applied playbook needs that nobody holds yet."""
    needed: list[Role] = list(REQUIRED_ROLES[state.incident.severity])
    for pb in state.playbooks:
        needed += [r for r in pb.required_roles if r not in needed]
    return [r for r in needed if not state.people(r)]


def contact_name(who: str, required: Iterable[str]) -> str:
    """The escalation list's own spelling of `who` when it names a listed contact
    ("legal counsel" for "Legal Counsel"), so one contact is not recorded as two."""
    who = check_name(who, "contact")
    key = who.casefold()
    return next((w for w in required if w.casefold() == key), who)


def pending_notifications(required: Iterable[str], state: IncidentState) -> list[str]:
    told = {n.who.casefold() for n in state.notifications}
    return [w for w in required if w.casefold() not in told]


# ------------------------------------------------------------------- closure


def final_update_sent(state: IncidentState, resolved_at: datetime | None) -> bool:
    return any(u.final or (resolved_at and u.sent_at >= resolved_at) for u in state.updates)


def steps_not_done(state: IncidentState, phase: Phase) -> list[int]:
    """Numbers (as users see and `check` them) of the phase's steps not done now;
    a step checked and then unchecked is not done. A skipped step (not applicable,
    with the reason on the record) is settled, so it is not listed."""
    return sorted(i.n for i in state.checklist if i.phase is phase and not i.done and not i.skipped)


def checklist_gaps(state: IncidentState) -> list[Gap]:
    """One line per phase with open steps, e.g. "2 containment steps not done (3, 5)"."""
    gaps: list[Gap] = []
    for phase in (Phase.CONTAINMENT, Phase.RECOVERY):
        open_ = steps_not_done(state, phase)
        if open_:
            steps = "step" if len(open_) == 1 else "steps"
            listed = ", ".join(str(n) for n in open_)
            gaps.append(
                Gap(GapKind.STEPS, f"{len(open_)} {phase.value} {steps} not done ({listed})")
            )
    return gaps


def final_update_missing(how: str = "mark it --final") -> str:
    """The final-update gap; `how` is the front end's way to mark an update final."""
    return f"no final update sent (send one after resolving, or {how})"


def closure_gaps(state: IncidentState, resolved_at: datetime | None) -> list[Gap]:
    """What stands between this incident and `closed`; empty means it may close.

    Open checklist steps come first (containment, then recovery): they are the work
    of the incident itself. Resolving with recovery steps open is allowed (the SOP
    resolves on restored service); only closing is gated."""
    gaps = checklist_gaps(state)
    if not state.review.recorded:
        missing = [
            f for f in ("summary", "root_cause", "lessons") if not getattr(state.review, f).strip()
        ]
        listed = ", ".join(REVIEW_LABELS[f].lower() for f in missing)
        gaps.append(Gap(GapKind.REVIEW, "review missing: " + listed))
    for a in state.actions:
        if a.status is ActionStatus.WONT_DO:
            continue
        lacks = [w for w, v in (("owner", a.owner), ("due date", a.due)) if not v]
        if lacks:
            gaps.append(Gap(GapKind.ACTION, f"{a.key} has no {' or '.join(lacks)}"))
    if not final_update_sent(state, resolved_at):
        gaps.append(Gap(GapKind.FINAL_UPDATE, final_update_missing()))
    return gaps


# ------------------------------------------------------------------- metrics


# The only kinds of event `metrics` reads: a report can fetch just these.
METRIC_KINDS = frozenset({Kind.DECLARE, Kind.ASSIGN, Kind.STATUS, Kind.MARK})


def status_reached(events: Sequence[Event], status: Status) -> datetime | None:
    """The first time the incident reached `status` or beyond (skips count)."""
    times = [
        e.occurred_at
        for e in events
        if e.kind is Kind.STATUS and Status(e.data["to"]).rank >= status.rank
    ]
    return min(times, default=None)


class Span(NamedTuple):
    """One end of a metric's span for a report: what happens then, and when (None
    while the record does not say), so it can say what each duration runs between."""

    what: str
    at: datetime | None


def metric_spans(events: Sequence[Event]) -> dict[str, tuple[Span, Span]]:
    """Each metric's two moments, from the record alone (back-dated times honoured).

    detect = impact start -> detected; report = detected -> declared;
    acknowledge = declared -> first commander (at once when the declarer took
    command); contain and resolve are measured from impact start (or detection,
    or declaration, whichever is known first). Impact start and detection are
    the latest `mark` of each (by event id: the last word on the record), else
    what the declaration said."""
    declare = next((e for e in events if e.kind is Kind.DECLARE), None)
    if declare is None:
        return {}
    moments = _moments(declare, events)
    declared, started, detected = moments["declared"], moments["impact"], moments["detected"]
    origin = started or detected or declared
    commanders = [
        e.occurred_at
        for e in events
        if e.kind is Kind.ASSIGN and e.data.get("role") == Role.COMMANDER.value
    ]
    if declare.data.get("commander"):
        commanders.append(declare.occurred_at)

    def span(m: Moment | None, what: str) -> Span:
        return Span(m.name if m else what, m.at if m else None)

    contained = Span("contained", status_reached(events, Status.CONTAINED))
    return {
        "time_to_detect": (span(started, "impact start"), span(detected, "detected")),
        "time_to_report": (span(detected, "detected"), span(declared, "declared")),
        "time_to_acknowledge": (
            span(declared, "declared"),
            Span("commander assigned", min(commanders, default=None)),
        ),
        "time_to_contain": (span(origin, "declared"), contained),
        "time_to_resolve": (
            span(origin, "declared"),
            Span("resolved", status_reached(events, Status.RESOLVED)),
        ),
    }


def metrics(events: Sequence[Event]) -> Metrics:
    """The duration of each of the `metric_spans` whose two moments are known, and the
    moments they are measured from."""
    from .models import Metrics

    declare = next((e for e in events if e.kind is Kind.DECLARE), None)
    if declare is None:
        return Metrics()
    known = {
        k: (b.at - a.at).total_seconds()
        for k, (a, b) in metric_spans(events).items()
        if a.at and b.at
    }
    # A back-dated status or assignment (or one forced with --force-time) can sit
    # before the moment it is measured from; a negative duration would read as a
    # record-breaking response, so it is unknown instead, and named.
    backwards = tuple(k for k, v in known.items() if v < 0)
    moments = _moments(declare, events)
    return Metrics(
        **{k: v for k, v in known.items() if v >= 0},
        out_of_order=backwards,
        impact_start=moments["impact"],
        detected=moments["detected"],
        origin=moments["impact"] or moments["detected"] or moments["declared"],
    )


def _moments(declare: Event, events: Sequence[Event]) -> dict[str, Moment | None]:
    from .models import Moment

    return {
        "declared": Moment(name="declared", at=declare.occurred_at, event_id=declare.id),
        "impact": _moment(declare, events, Mark.IMPACT, "impact start", "started_at"),
        "detected": _moment(declare, events, Mark.DETECTED, "detected", "detected_at"),
    }


def _moment(
    declare: Event, events: Sequence[Event], what: Mark, name: str, declared_as: str
) -> Moment | None:
    """Moment `what`: its latest mark, else what the declaration said (`declared_as`)."""
    from .models import Moment

    marks = [e for e in events if e.kind is Kind.MARK and e.data["what"] == what.value]
    if marks:
        latest = max(marks, key=lambda e: e.id)
        return Moment(name=name, at=datetime.fromisoformat(latest.data["at"]), event_id=latest.id)
    at = _dt(declare.data.get(declared_as))
    return Moment(name=name, at=at, event_id=declare.id) if at else None


def _dt(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def format_duration(seconds: float | None) -> str:
    """`1h 05m`, `4m 10s`, `-` for unknown: the same on screen and in the CLI.

    Hours are not folded into days: `24h 24m`, not `1d 00h`, keeps the minutes a
    time to resolve is compared by at every scale."""
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else ""
    s = int(abs(seconds))
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    if h:
        return f"{sign}{h}h {m:02d}m"
    return f"{sign}{m}m {s:02d}s"
