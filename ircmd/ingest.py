"""Alerts from monitoring, as data: payload parsing, routing and deduplication rules.

Pure and I/O-free, shared by `ircmd serve` (POST /ingest/<source>) and `ircmd ingest`
(standard input), so that both turn one payload into the same `RoutedAlert`s and the
store verb (`store/verbs/alerts.py`) writes them the same way. Three payload formats:
Prometheus Alertmanager's webhook (version 4), Grafana alerting's webhook, and `json`,
ircmd's own small shape (one object or a list of them)::

    {"title": "...", "severity": "SEV2", "labels": {"service": "checkout"},
     "fingerprint": "...", "status": "firing", "starts_at": "2026-12-01T10:00:00Z",
     "ends_at": null, "text": "..."}

A payload that is not JSON, or whose fields have the wrong type, is refused whole
(`PayloadError`): nothing of it is written.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    computed_field,
    field_validator,
)

from .models import MAX_PAYLOAD_BYTES, Format, InvalidInput, Severity

#: Alertmanager and Grafana send this for "no end time yet".
_ZERO_TIME_YEAR = 1
#: The severity an alert gets when neither its route nor its own labels give one.
DEFAULT_SEVERITY = Severity.SEV3
#: Common label values for severity, as Prometheus rules and Grafana use them.
_SEVERITY_WORDS = {
    "critical": Severity.SEV1,
    "page": Severity.SEV1,
    "major": Severity.SEV2,
    "error": Severity.SEV2,
    "high": Severity.SEV2,
    "warning": Severity.SEV3,
    "medium": Severity.SEV3,
    "minor": Severity.SEV4,
    "low": Severity.SEV4,
    "info": Severity.SEV4,
}


class PayloadError(InvalidInput):
    """A payload refused whole: its message is one line and names the first fault."""


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Frozen(BaseModel):
    """This module's models: immutable, and validated (alerts come from outside) by a
    schema built on first use (`defer_build`), not at import."""

    model_config = ConfigDict(frozen=True, defer_build=True)


class Alert(Frozen):
    """One alert as every format comes to: what routing and the record need."""

    fingerprint: str
    status: AlertStatus
    title: str
    labels: dict[str, str] = Field(default_factory=dict)
    severity: str = ""  # as the sender said it; `route` maps it to a Severity
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    text: str = ""


# ------------------------------------------------------------------ payloads


def _written_time(value: object) -> object:
    """A time must come as an RFC 3339 string: pydantic would also take a number as
    seconds since 1970, and a sender that sends one has a bug worth hearing about."""
    if value is not None and not isinstance(value, str):
        raise ValueError("a time must be an RFC 3339 string")
    return value


Stamp = Annotated[datetime | None, BeforeValidator(_written_time)]


class _Strict(BaseModel):
    """Sender fields we read must have the right type; others are ignored, since
    Alertmanager and Grafana add fields between versions."""

    # Built on first use, as every model here: the screen imports this module (through
    # the Store's verbs) and never reads a payload.
    model_config = ConfigDict(extra="ignore", strict=False, defer_build=True)


class _WebhookAlert(_Strict):
    status: AlertStatus
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: Stamp = None  # the sender's names
    endsAt: Stamp = None
    fingerprint: str = ""


class _Webhook(_Strict):
    """Alertmanager's webhook (version 4) and Grafana's share this core."""

    version: str = ""
    alerts: list[_WebhookAlert]


class _OwnAlert(BaseModel):
    """The `json` format: ircmd's own shape, so unknown fields are refused too."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    title: str
    severity: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    fingerprint: str = ""
    status: AlertStatus = AlertStatus.FIRING
    starts_at: Stamp = None
    ends_at: Stamp = None
    text: str = ""

    @field_validator("title")
    @classmethod
    def _titled(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("title is empty")
        return v


_OWN_ALERTS = TypeAdapter(list[_OwnAlert], config=ConfigDict(defer_build=True))
#: A JSON escape of a UTF-16 surrogate, which alone stands for no character.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _when(at: datetime | None) -> datetime | None:
    """A zero time means none: Go's (0001-01-01, Alertmanager's unset endsAt) and
    Unix's (1970-01-01, from an exporter that never set it), which as an impact
    start would make the time to detect decades long. A time without a zone is
    refused."""
    if at is None or at.year <= _ZERO_TIME_YEAR:
        return None
    if at.tzinfo is None:
        raise PayloadError(f"time {at.isoformat()} has no time zone")
    return None if at.timestamp() <= 0 else at


def fingerprint_of(labels: Mapping[str, str]) -> str:
    """The fingerprint of an alert that brought none: its labels, as Alertmanager
    identifies an alert by them."""
    canonical = json.dumps(sorted(labels.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _error(e: ValidationError) -> PayloadError:
    first = e.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "payload"
    return PayloadError(f"{where}: {first['msg']}")


def parse(body: bytes, fmt: Format) -> list[Alert]:
    """The alerts in one payload, in the order sent; PayloadError if any is bad."""
    if len(body) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload is larger than {MAX_PAYLOAD_BYTES} bytes")
    try:
        raw: Any = json.loads(body)
        if _SURROGATE_ESCAPE.search(body):
            _refuse_lone_surrogates(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PayloadError(f"payload is not JSON: {e}") from None
    except RecursionError:  # `[[[[…` a hundred thousand deep: the parser's own stack
        raise PayloadError("payload is nested too deeply") from None
    try:
        if fmt is Format.JSON:
            items = raw if isinstance(raw, list) else [raw]
            return [_own(a) for a in _OWN_ALERTS.validate_python(items)]
        hook = _Webhook.model_validate(raw)
    except ValidationError as e:
        raise _error(e) from None
    if fmt is Format.ALERTMANAGER and hook.version != "4":
        raise PayloadError(f"Alertmanager webhook version {hook.version!r} (expected '4')")
    return [_webhook(a) for a in hook.alerts]


def _refuse_lone_surrogates(raw: Any) -> None:
    """JSON may escape half of a surrogate pair alone (`"\\ud800"`); such a string
    is no text, and SQLite cannot store it, so the payload is refused here rather
    than failing in the middle of its transaction."""
    try:
        json.dumps(raw, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise PayloadError("payload is not valid Unicode: it escapes a lone surrogate") from None


def _webhook(a: _WebhookAlert) -> Alert:
    # A template that rendered nothing still sends the key: a blank summary is none.
    named = (a.annotations.get("summary", ""), a.labels.get("alertname", ""))
    title = next((t for t in named if t.strip()), "alert")
    return Alert(
        fingerprint=a.fingerprint or fingerprint_of(a.labels),
        status=a.status,
        title=title,
        labels=a.labels,
        severity=a.labels.get("severity", ""),
        starts_at=_when(a.startsAt),
        ends_at=_when(a.endsAt),
        text=a.annotations.get("description", ""),
    )


def _own(a: _OwnAlert) -> Alert:
    return Alert(
        fingerprint=a.fingerprint or fingerprint_of({**a.labels, "title": a.title}),
        status=a.status,
        title=a.title,
        labels=a.labels,
        severity=a.severity,
        starts_at=_when(a.starts_at),
        ends_at=_when(a.ends_at),
        text=a.text,
    )


# ------------------------------------------------------------------- routing


class Route(BaseModel):
    """One `[[ingest.routes]]` table (or `[ingest.defaults]`, whose `match` is empty)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    match: dict[str, str] = Field(default_factory=dict)
    severity: Severity | None = None
    type: str = ""
    playbook: str = ""
    service: str = ""
    group_by: tuple[str, ...] = ("alertname",)
    drop: bool = False

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match.items())


class RoutedAlert(Frozen):
    """An alert with what its route decided: the incident it belongs with, and what
    an incident opened by it looks like."""

    alert: Alert
    group: str
    severity: Severity
    type: str = ""
    playbook: str = ""
    service: str = ""
    matched: bool = True  # False: no route matched, the defaults were used


def severity_of(alert: Alert, route: Route) -> Severity:
    """The route's severity, else the alert's own (`SEV2`, `2`, or a word such as
    `critical`), else DEFAULT_SEVERITY."""
    if route.severity is not None:
        return route.severity
    said = alert.severity.strip().lower()
    for sev in Severity:
        if said in (sev.value.lower(), sev.value[-1]):
            return sev
    return _SEVERITY_WORDS.get(said, DEFAULT_SEVERITY)


def group_key(alert: Alert, group_by: Sequence[str]) -> str:
    """The group an alert belongs to: its values of the `group_by` labels, as
    canonical JSON so no label value can make two groups one."""
    values = {name: alert.labels.get(name, "") for name in group_by}
    return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def route(alert: Alert, routes: Sequence[Route], defaults: Route) -> RoutedAlert | None:
    """The first route whose matchers all hold decides; none: the defaults do.
    None when the deciding route drops the alert."""
    chosen = next((r for r in routes if r.matches(alert.labels)), None)
    rule = chosen or defaults
    if rule.drop:
        return None
    return RoutedAlert(
        alert=alert,
        group=group_key(alert, rule.group_by),
        severity=severity_of(alert, rule),
        type=rule.type,
        playbook=rule.playbook,
        service=rule.service or alert.labels.get("service", ""),
        matched=chosen is not None,
    )


# ------------------------------------------------------------ deduplication


class Seen(Frozen):
    """What the record last holds of one fingerprint in one group."""

    status: AlertStatus
    starts_at: datetime | None
    incident_id: int


class Verdict(StrEnum):
    NEW = "new"  # record it
    DUPLICATE = "duplicate"  # the same state again (a re-send): nothing to record
    STALE = "stale"  # older than what is recorded (out of order): nothing to record


def verdict(seen: Seen | None, alert: Alert) -> Verdict:
    """Whether an alert says anything the record does not already hold.

    An alert's episode is its start time: a firing alert with a later start than the
    one recorded fired again; one with the same start as a recorded resolution is a
    late delivery of the firing that was already resolved."""
    if seen is None:
        return Verdict.NEW
    was, now = seen.starts_at, alert.starts_at
    if was is not None and now is not None:
        if now > was:
            return Verdict.NEW
        if now < was:
            return Verdict.STALE
    if alert.status is seen.status:
        return Verdict.DUPLICATE
    if alert.status is AlertStatus.RESOLVED:
        return Verdict.NEW
    return Verdict.STALE


class IngestResult(BaseModel):
    """What one payload did, for the sender's answer and serve's log: every alert in
    it is counted under exactly one of these, so none is lost silently."""

    model_config = ConfigDict(defer_build=True)

    opened: list[str] = Field(default_factory=list)  # incident keys
    recorded: int = 0  # alert events written (firing and resolved)
    duplicates: int = 0
    stale: int = 0
    resolved_unknown: int = 0  # a resolution for no incident we hold: not written
    unmatched: int = 0  # routed by the defaults (also counted above)
    dropped: int = 0  # a route said drop
    incidents: list[str] = Field(default_factory=list)  # every incident touched

    @computed_field  # type: ignore[prop-decorator]
    @property
    def received(self) -> int:
        return self.recorded + self.duplicates + self.stale + self.resolved_unknown + self.dropped
