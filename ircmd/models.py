"""The incident domain's records as frozen dataclasses, beside its plain vocabulary
(`domain`: errors, enums, limits and ids), which this module re-exports.

Everything here is plain typed data: no SQLite, no Textual, no pydantic. The store
builds these from its own rows (`store.rows.decode`, the one typed decoder), the
rules reason about them, the CLI and the screen display them. Pydantic validates
what comes from outside (settings, playbook TOML, alerts, hook settings) and stays
there: these records need no validation, and importing pydantic and building a
schema would cost the screen's first frame some 60 ms. A JSON dump of a record
(the report, the CLI's `--json`) goes through `jsondump`, which imports pydantic
only when it is called.

Each record is `@dataclass(frozen=True, slots=True, kw_only=True)`: immutable,
compact, and keyword-only because fields with defaults come before required ones
(in the order the JSON dumps keep).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .domain import (
    ACTIVE_STATUSES,
    DECLARER,
    LOG_KINDS,
    MAX_LINK_CHARS,
    MAX_NAME_CHARS,
    MAX_PAYLOAD_BYTES,
    MAX_TEXT_BYTES,
    REVIEW_FIELDS,
    REVIEW_LABELS,
    ROLE_ALIASES,
    SEVERITY_LABELS,
    SEVERITY_MEANINGS,
    ActionStatus,
    ActionType,
    Audience,
    ClosureRefused,
    DatabaseReplaced,
    Declarer,
    Format,
    Gap,
    GapKind,
    InvalidInput,
    IrcmdError,
    Kind,
    Level,
    Mark,
    NotFound,
    Phase,
    ReadOnly,
    Role,
    RuleViolation,
    Severity,
    Status,
    StorageBusy,
    StorageError,
    action_key,
    incident_key,
    parse_action_ref,
    parse_evidence_ref,
    parse_incident_ref,
    read_only_refusal,
)

# The plain vocabulary is re-exported: most modules import all of the domain from here.
__all__ = [
    "ACTIVE_STATUSES",
    "DECLARER",
    "DELIVER_SESSION_PREFIX",
    "LOG_KINDS",
    "MAX_LINK_CHARS",
    "MAX_NAME_CHARS",
    "MAX_PAYLOAD_BYTES",
    "MAX_TEXT_BYTES",
    "REVIEW_FIELDS",
    "REVIEW_LABELS",
    "ROLE_ALIASES",
    "SERVE_SESSION_PREFIX",
    "SEVERITY_LABELS",
    "SEVERITY_MEANINGS",
    "Action",
    "ActionStatus",
    "ActionType",
    "AppliedPlaybook",
    "Assignment",
    "Audience",
    "ChecklistItem",
    "ClosureRefused",
    "CommsUpdate",
    "CustodyTransfer",
    "DatabaseReplaced",
    "Declarer",
    "Event",
    "Evidence",
    "Format",
    "Gap",
    "GapKind",
    "Head",
    "Impact",
    "Incident",
    "IncidentState",
    "InvalidInput",
    "IrcmdError",
    "Kind",
    "Level",
    "Mark",
    "Metrics",
    "Moment",
    "NotFound",
    "Notification",
    "Phase",
    "Playbook",
    "Presence",
    "ReadOnly",
    "Review",
    "Role",
    "RuleViolation",
    "Severity",
    "Status",
    "StorageBusy",
    "StorageError",
    "VerifyResult",
    "action_key",
    "incident_key",
    "parse_action_ref",
    "parse_evidence_ref",
    "parse_incident_ref",
    "read_only_refusal",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One entry of the append-only record, chained to the one before by its hash."""

    id: int
    incident_id: int | None
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    kind: Kind
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = ""
    hash: str = ""

    @property
    def incident(self) -> str | None:
        return incident_key(self.incident_id) if self.incident_id else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Incident:
    """An incident's current facts, as its events have set them (a projection row)."""

    id: int
    title: str
    severity: Severity
    status: Status
    type: str = ""
    impact: Level | None = None
    urgency: Level | None = None
    summary: str = ""
    declared_at: datetime
    declared_by: str
    detected_at: datetime | None = None
    started_at: datetime | None = None
    resolved_at: datetime | None = None
    updated_at: datetime
    last_event_id: int

    @property
    def key(self) -> str:
        return incident_key(self.id)


@dataclass(frozen=True, slots=True, kw_only=True)
class Assignment:
    """A person holding a role in an incident, since when."""

    role: Role
    person: str
    assigned_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ChecklistItem:
    """A containment or recovery step: who added it, did it or skipped it, and when."""

    n: int
    phase: Phase
    text: str
    done: bool = False
    done_by: str | None = None
    done_at: datetime | None = None
    assignee: str | None = None
    added_by: str
    added_at: datetime
    skipped_by: str | None = None
    skipped_at: datetime | None = None
    skip_reason: str | None = None

    @property
    def skipped(self) -> bool:
        """Marked not applicable (`skip_item`): settled for closing, yet not done."""
        return self.skipped_by is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class CommsUpdate:
    """An update sent to an audience (the event that recorded it is `event_id`)."""

    event_id: int
    audience: Audience
    channel: str = ""
    text: str
    sent_at: datetime
    sent_by: str
    final: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """A contact on the escalation list told about the incident, by whom."""

    who: str
    notified_at: datetime
    notified_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CustodyTransfer:
    """Evidence handed from one custodian to the next, with the reason."""

    from_person: str
    to_person: str
    reason: str
    at: datetime
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """An item of evidence: where it is, its hash, who holds it and how it got there."""

    n: int
    description: str
    location: str = ""
    sha256: str | None = None
    filename: str | None = None
    collected_by: str
    collected_at: datetime
    custodian: str
    transfers: tuple[CustodyTransfer, ...] = ()
    amendments: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"EV-{self.n}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Review:
    """The post-incident review as last written: what happened, why, what was learnt."""

    summary: str = ""
    root_cause: str = ""
    contributing_factors: str = ""
    whys: tuple[str, ...] = ()
    went_well: str = ""
    went_poorly: str = ""
    lessons: str = ""
    updated_at: datetime | None = None
    updated_by: str | None = None

    @property
    def recorded(self) -> bool:
        """A review counts once its summary, root cause and lessons are written."""
        return bool(self.summary.strip() and self.root_cause.strip() and self.lessons.strip())


@dataclass(frozen=True, slots=True, kw_only=True)
class Impact:
    """What the incident did, as last set (`set_impact`); empty until then."""

    customer_impact: str = ""
    services: tuple[str, ...] = ()
    users_affected: int | None = None
    records_affected: int | None = None
    data_loss_from: datetime | None = None
    data_loss_to: datetime | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """A follow-up action (corrective or preventive): owner, due date and status."""

    id: int
    incident_id: int
    title: str
    type: ActionType
    owner: str | None
    due: str | None  # ISO date
    review_date: str | None
    status: ActionStatus
    reason: str = ""
    verification: str = ""
    closure_evidence: str = ""
    link: str | None = None  # where it is tracked outside ircmd (an issue's URL)
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> str:
        return action_key(self.id)


@dataclass(frozen=True, slots=True, kw_only=True)
class AppliedPlaybook:
    """A playbook applied to an incident, and the roles it requires."""

    name: str
    required_roles: tuple[Role, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentState:
    """One incident with everything that hangs off it: what a screen or `show` needs."""

    incident: Incident
    roles: tuple[Assignment, ...] = ()
    checklist: tuple[ChecklistItem, ...] = ()
    updates: tuple[CommsUpdate, ...] = ()
    notifications: tuple[Notification, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    review: Review = Review()  # immutable: one shared default is safe
    impact: Impact = Impact()
    actions: tuple[Action, ...] = ()
    playbooks: tuple[AppliedPlaybook, ...] = ()

    def people(self, role: Role) -> list[str]:
        return [a.person for a in self.roles if a.role is role]

    def role_of(self, person: str) -> list[Role]:
        return [a.role for a in self.roles if a.person == person]


#: How `ircmd serve` names its presence sessions, so the screens can tell it from
#: a person and show that alerts can flow.
SERVE_SESSION_PREFIX = "serve-"
#: How a deliverer (`ircmd deliver`, or inside `serve`) names its presence sessions:
#: deliveries waiting with none of these fresh means nobody is sending them.
DELIVER_SESSION_PREFIX = "deliver-"


@dataclass(frozen=True, slots=True, kw_only=True)
class Presence:
    """A session showing an incident (or none), as its last heartbeat said."""

    session: str
    incident_id: int | None
    person: str
    host: str
    seen_at: datetime

    @property
    def is_serve(self) -> bool:
        return self.session.startswith(SERVE_SESSION_PREFIX)

    @property
    def is_deliverer(self) -> bool:
        return self.session.startswith(DELIVER_SESSION_PREFIX)


@dataclass(frozen=True, slots=True, kw_only=True)
class Playbook:
    """A checklist template for a type of incident, loaded from TOML: untrusted input,
    so `playbooks.parse_playbook` validates it with pydantic (unknown keys refused,
    lists made tuples, enums from their values) before this is built."""

    name: str
    title: str
    description: str = ""
    types: tuple[str, ...] = ()
    severity: Severity | None = None
    required_roles: tuple[Role, ...] = ()
    containment: tuple[str, ...] = ()
    recovery: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Head:
    """The chain's newest event as it stands: what an anchor records and checks.

    `count` is the number of events (equal to `id` in an intact chain); `id` 0 and
    the genesis hash stand for an empty record.
    """

    count: int
    id: int
    hash: str

    @property
    def label(self) -> str:
        return f"{self.count} events; head #{self.id} {self.hash}"


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyResult:
    """What `verify` found: the events checked and, if the chain breaks, where and why."""

    ok: bool
    events: int
    message: str
    bad_event_id: int | None = None
    head: Head | None = None


# ------------------------------------------------------ metrics (`rules.metrics`)


@dataclass(frozen=True, slots=True, kw_only=True)
class Moment:
    """A moment metrics are measured from: which one, when, and the event that put it
    on the record (the declaration, or the latest `mark` of it)."""

    name: str  # "impact start", "detected" or "declared"
    at: datetime
    event_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Metrics:
    """Durations in seconds, never negative; None when the record does not yet say,
    or when its times run backwards (those are named in `out_of_order`).

    `impact_start` and `detected` are the moments detect and report are measured
    from, and `origin` the one contain and resolve are: each names its source
    event, so a re-marked moment is traceable. `durations` leaves these and
    `out_of_order` out: what the CLI and the report print."""

    time_to_detect: float | None = None
    time_to_report: float | None = None
    time_to_acknowledge: float | None = None
    time_to_contain: float | None = None
    time_to_resolve: float | None = None
    out_of_order: tuple[str, ...] = ()
    impact_start: Moment | None = None
    detected: Moment | None = None
    origin: Moment | None = None

    def durations(self) -> dict[str, float | None]:
        """Each duration by its name, in the order above."""
        return {
            "time_to_detect": self.time_to_detect,
            "time_to_report": self.time_to_report,
            "time_to_acknowledge": self.time_to_acknowledge,
            "time_to_contain": self.time_to_contain,
            "time_to_resolve": self.time_to_resolve,
        }

    def note(self, name: str) -> str:
        """What to say beside metric `name` when its times run backwards."""
        return " (its times are out of order in the record)" if name in self.out_of_order else ""
