"""The incident domain's plain vocabulary: its errors, enums, limits and ids.

No records here (`models` re-exports all of it beside the record dataclasses), so
that a one-shot `ircmd log`, which needs these and no record, never pays for
building the records' classes (some 10 ms).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from enum import Enum, StrEnum

MAX_TEXT_BYTES = 64 * 1024
MAX_NAME_CHARS = 100
#: The longest link an action may hold (`ircmd action link`): what browsers and
#: issue trackers handle everywhere.
MAX_LINK_CHARS = 2000
#: The largest alert payload accepted, over HTTP or from standard input.
MAX_PAYLOAD_BYTES = 1024 * 1024


class IrcmdError(Exception):
    """An error meant for the user: its message is one line and says what to do."""


class NotFound(IrcmdError):
    """An incident, item, evidence or action id that does not exist."""


class InvalidInput(IrcmdError):
    """Input that can never be valid: empty text, an unknown role, a bad time."""


class RuleViolation(IrcmdError):
    """Valid input that the rules refuse now: a permission or a transition."""


class GapKind(StrEnum):
    """What sort of thing stands between an incident and `closed`."""

    STEPS = "steps"
    REVIEW = "review"
    ACTION = "action"
    FINAL_UPDATE = "final-update"


class Gap(str):
    """One thing missing before closing: the sentence the record and the command line
    show, tagged with its kind, so a front end that says it otherwise (the screen's
    final update is a tick in the draft, not `--final`) acts on the kind, not the text.
    A `str` so the record, JSON and every comparison keep the sentence itself."""

    kind: GapKind

    def __new__(cls, kind: GapKind, text: str) -> Gap:
        gap = super().__new__(cls, text)
        gap.kind = kind
        return gap


class ClosureRefused(RuleViolation):
    """Closing refused while items are missing. `gaps` lists them, so each front end
    can act on the refusal (the screen opens the Review tab) and phrase each gap in its
    own terms (`phrased`) without reading the text."""

    def __init__(self, incident_key: str, gaps: Sequence[Gap]) -> None:
        self.incident_key = incident_key
        self.gaps = list(gaps)
        super().__init__(self.phrased(str))

    def phrased(self, phrase: Callable[[Gap], str]) -> str:
        """The refusal as one line, each gap worded by `phrase`."""
        listed = "; ".join(f"({i}) {phrase(g)}" for i, g in enumerate(self.gaps, 1))
        return (
            f"cannot close {self.incident_key}, {len(self.gaps)} missing: {listed};"
            " fix these or override with a reason"
        )


class ReadOnly(IrcmdError):
    """A write attempted through a store opened read-only."""


def read_only_refusal(outcome: str = "nothing was written") -> ReadOnly:
    """The one wording of a write refused in a read-only session (screen and command
    line alike); `outcome` says what did not happen."""
    return ReadOnly(f"this session is read-only: {outcome}")


class StorageError(IrcmdError):
    """The database itself is unusable: corrupt, too new, locked, unwritable."""


class StorageBusy(StorageError):
    """A write that failed but may succeed later: the lock stayed busy past the
    timeout, the disk was full, or an I/O error. Worth retrying; nothing was written."""


class DatabaseReplaced(StorageError):
    """The file at the database's path is no longer the one this process opened
    (restored, replaced or deleted): every later write would go nowhere, so none is made."""


class Severity(StrEnum):
    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"

    @property
    def label(self) -> str:
        return SEVERITY_LABELS[self]

    @property
    def meaning(self) -> str:
        return SEVERITY_MEANINGS[self]


SEVERITY_LABELS = {
    Severity.SEV1: "critical",
    Severity.SEV2: "major",
    Severity.SEV3: "moderate",
    Severity.SEV4: "minor",
}

SEVERITY_MEANINGS = {
    Severity.SEV1: "critical: a core service down or data exposed; all hands, execs told",
    Severity.SEV2: "major: a key function broken for many users; dedicated response",
    Severity.SEV3: "moderate: degraded or partial impact with a workaround",
    Severity.SEV4: "minor: little customer impact; handle in working hours",
}


class Status(StrEnum):
    REPORTED = "reported"
    TRIAGED = "triaged"
    CONTAINED = "contained"
    RECOVERING = "recovering"
    RESOLVED = "resolved"
    IN_REVIEW = "in_review"
    CLOSED = "closed"

    @property
    def rank(self) -> int:
        return list(Status).index(self)


ACTIVE_STATUSES = (Status.REPORTED, Status.TRIAGED, Status.CONTAINED, Status.RECOVERING)


class Role(StrEnum):
    COMMANDER = "commander"
    DEPUTY = "deputy"
    SCRIBE = "scribe"
    COMMS = "comms"
    RESPONDER = "responder"
    LIAISON = "liaison"

    @property
    def single(self) -> bool:
        """Commander, deputy, scribe and comms lead are one person each."""
        return self not in (Role.RESPONDER, Role.LIAISON)


class Declarer(Enum):
    """`declare(commander=DECLARER)`, the default: whoever declares takes command,
    as the SOP's first responder does until handing off. `commander=""` declares
    with no commander; a name makes that person commander."""

    DECLARER = "declarer"


DECLARER = Declarer.DECLARER

ROLE_ALIASES = {"ic": Role.COMMANDER, "commander": Role.COMMANDER, "comms-lead": Role.COMMS}


class Level(StrEnum):
    """Impact and urgency at declaration."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Format(StrEnum):
    """The alert payload formats `ircmd serve` and `ircmd ingest` take."""

    ALERTMANAGER = "alertmanager"
    GRAFANA = "grafana"
    JSON = "json"


class Audience(StrEnum):
    INTERNAL = "internal"
    EXTERNAL = "external"


class Phase(StrEnum):
    """Which list a checklist item belongs to."""

    CONTAINMENT = "containment"
    RECOVERY = "recovery"


class ActionType(StrEnum):
    CORRECTIVE = "corrective"
    PREVENTIVE = "preventive"


class Mark(StrEnum):
    """A moment of the incident that may be re-marked after declaration (`mark`)."""

    IMPACT = "impact"  # when impact, or a worse impact, began
    DETECTED = "detected"


class ActionStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    VERIFIED = "verified"
    WONT_DO = "wont_do"


class Kind(StrEnum):
    """Event kinds. Each is one verb of the domain."""

    DECLARE = "declare"
    NOTE = "note"
    DECISION = "decision"
    AMEND = "amend"
    SEVERITY = "severity"
    STATUS = "status"
    ASSIGN = "assign"
    UNASSIGN = "unassign"
    ITEM_ADD = "item_add"
    CHECK = "check"
    UNCHECK = "uncheck"
    PLAYBOOK = "playbook"
    UPDATE = "update"
    NOTIFY = "notify"
    EVIDENCE_ADD = "evidence_add"
    EVIDENCE_TRANSFER = "evidence_transfer"
    EVIDENCE_AMEND = "evidence_amend"
    REVIEW = "review"
    ACTION_ADD = "action_add"
    ACTION_SET = "action_set"
    # Corrections and later changes of structured fields. Each names in its data
    # (`corrects`) the event whose value it replaces (so do `unassign`, and
    # `impact` once set before); that event stays as it was.
    UNNOTIFY = "unnotify"
    ITEM_EDIT = "item_edit"
    ITEM_OWN = "item_own"
    ACTION_RETYPE = "action_retype"
    RETITLE = "retitle"
    SUMMARY = "summary"
    IMPACT = "impact"
    MARK = "mark"
    SKIP = "skip"  # a checklist step marked not applicable, with the reason
    ALERT = "alert"  # from monitoring (`ircmd serve`, `ircmd ingest`)
    PUBLIC_TITLE = "public_title"  # the title the status page shows
    # Where an action is tracked outside ircmd (an issue); `from` is the link it
    # replaces, if any.
    ACTION_LINK = "action_link"
    # What became of delivering an event to a hook (`hooks.deliverer`), or a person
    # queuing a failed delivery again. Never itself delivered.
    DELIVERY = "delivery"


# Kinds a user may pass to `ircmd log --kind`: free-text entries.
LOG_KINDS = (Kind.NOTE, Kind.DECISION)

REVIEW_FIELDS = (
    "summary",
    "root_cause",
    "contributing_factors",
    "whys",
    "went_well",
    "went_poorly",
    "lessons",
)

# The review's fields as every front end labels them (panel, report; the form asks
# some of them as questions of its own).
REVIEW_LABELS = {
    "summary": "Summary",
    "root_cause": "Root cause",
    "contributing_factors": "Contributing factors",
    "whys": "Five whys",
    "went_well": "Went well",
    "went_poorly": "Went poorly",
    "lessons": "Lessons",
}

# ASCII digits only (`\d` alone takes any script's: "INC-٣" would be INC-3), and at
# most 9 of them: an id always binds as an SQLite integer.
_INC_RE = re.compile(r"^\s*(?:inc-?)?(\d{1,9})\s*$", re.IGNORECASE | re.ASCII)
_ACT_RE = re.compile(r"^\s*(?:act-?)?(\d{1,9})\s*$", re.IGNORECASE | re.ASCII)
_EV_RE = re.compile(r"^\s*(?:ev-?)?#*(\d{1,9})\s*$", re.IGNORECASE | re.ASCII)
_DLV_RE = re.compile(r"^\s*(?:dlv-?)?(\d{1,9})\s*$", re.IGNORECASE | re.ASCII)


def incident_key(number: int) -> str:
    return f"INC-{number}"


def action_key(number: int) -> str:
    return f"ACT-{number}"


def parse_incident_ref(ref: str) -> int:
    """`INC-3`, `inc-3`, `inc3` or `3` -> 3."""
    m = _INC_RE.match(ref)
    if not m or int(m.group(1)) == 0:
        raise InvalidInput(f"not an incident id: {ref!r} (expected INC-<n>)")
    return int(m.group(1))


def parse_evidence_ref(ref: str) -> int:
    """`EV-2`, `ev2`, `#2` or `2` -> 2."""
    m = _EV_RE.match(ref)
    if not m or int(m.group(1)) == 0:
        raise InvalidInput(f"not an evidence id: {ref!r} (expected EV-<n>)")
    return int(m.group(1))


def parse_action_ref(ref: str) -> int:
    m = _ACT_RE.match(ref)
    if not m or int(m.group(1)) == 0:
        raise InvalidInput(f"not an action id: {ref!r} (expected ACT-<n>)")
    return int(m.group(1))


def parse_delivery_ref(ref: str) -> int:
    """`DLV-4`, `dlv4` or `4` -> 4."""
    m = _DLV_RE.match(ref)
    if not m or int(m.group(1)) == 0:
        raise InvalidInput(f"not a delivery id: {ref!r} (expected DLV-<n>)")
    return int(m.group(1))
