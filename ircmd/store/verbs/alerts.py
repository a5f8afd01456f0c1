"""Alerts into the record (`ircmd serve`, `ircmd ingest`) and the status page's title."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ... import rules
from ...models import ACTIVE_STATUSES, Event, IrcmdError, Kind, Playbook, Status
from ..reader import IncidentRef
from ..record import from_ts, ts
from ..tx import Tx, verb
from .incident import declare

if TYPE_CHECKING:  # imported when alerts are written: its payload models need pydantic
    from ...ingest import IngestResult, RoutedAlert, Seen


@verb
def ingest_alerts(
    tx: Tx,
    alerts: Sequence[RoutedAlert],
    *,
    actor: str,
    source: str,
    playbooks: Mapping[str, Playbook],
    dropped: int = 0,
    open_incidents: dict[str, int | None] | None = None,
) -> IngestResult:
    """One payload's alerts, in the order sent, in one transaction (all or none).

    A firing alert whose group has no open incident opens one in `reported`, with
    no commander, the alert's start as the impact start and the receive time as
    detection; every alert that says something new (`ingest.verdict`) is one
    `alert` event on its group's incident. `playbooks` holds every playbook a route names, loaded before
    the transaction (no file is read while the write lock is held).

    `open_incidents` is the open incident of each group as this transaction has
    found or opened it, shared by the payloads of one batch (`ingest_batch`), so a
    group is looked up once: alerts open incidents but never close one, and no other
    writer can while this transaction holds the lock."""
    from ...ingest import AlertStatus, IngestResult, Verdict, verdict

    result = IngestResult(dropped=dropped)
    groups = {} if open_incidents is None else open_incidents
    now = tx.clock()
    touched: dict[str, None] = {}
    for routed in alerts:
        alert = routed.alert
        result.unmatched += not routed.matched
        seen = _seen(tx, routed.group, alert.fingerprint)
        match verdict(seen, alert):
            case Verdict.DUPLICATE:
                result.duplicates += 1
                continue
            case Verdict.STALE:
                result.stale += 1
                continue
        if routed.group not in groups:
            groups[routed.group] = _open_incident(tx, routed.group)
        incident = groups[routed.group]
        opened = False
        title = _sent_text(alert.title, tx.max_text, "the alert's data holds it whole")
        if alert.status is AlertStatus.FIRING and incident is None:
            started = min(alert.starts_at, now) if alert.starts_at else None
            new = declare(
                tx,
                title,
                actor=actor,
                severity=routed.severity,
                type=routed.type,
                summary=_summary(alert.text, tx.max_text),
                detected_at=now,
                started_at=started,
                playbook=playbooks.get(routed.playbook) if routed.playbook else None,
                commander="",  # alerts lead nothing: a person takes command at triage
            )
            incident, opened = new.id, True
            groups[routed.group] = incident
            result.opened.append(new.key)
        elif incident is None and seen is not None and _writable(tx, seen.incident_id):
            incident = seen.incident_id  # its incident was resolved by hand: log it there
        if incident is None:
            result.resolved_unknown += 1
            continue
        data: dict[str, Any] = {
            "source": source,
            "group": routed.group,
            "fingerprint": alert.fingerprint,
            "status": alert.status.value,
            "starts_at": ts(alert.starts_at) if alert.starts_at else None,
            "ends_at": ts(alert.ends_at) if alert.ends_at else None,
            "labels": alert.labels,
            "severity": alert.severity,
            "service": routed.service,
            "text": alert.text,
            "opened": opened,
        }
        if title != alert.title:
            data["title"] = alert.title
        ev = tx.append(incident, Kind.ALERT, actor, tx.text(title, "alert title"), data)
        result.recorded += 1
        touched[ev.incident or ""] = None
    result.incidents = list(touched)
    return result


def _sent_text(text: str, limit: int, where: str) -> str:
    """Text a sender wrote, as a title or summary: cut to the limit if long, and a
    NUL (which PostgreSQL's text cannot hold, so the alert would be refused on every
    retry) shown as ␀. The alert event's data keeps the text as sent."""
    return rules.clip_text(text, limit, where).replace("\x00", "\u2400")


def _summary(text: str, limit: int) -> str:
    """An alert's description as the summary of the incident it opens: none if
    blank, else as `_sent_text`."""
    if not text.strip():
        return ""
    return _sent_text(text, limit, "the alert that opened it holds it whole")


@dataclass(frozen=True)
class Payload:
    """One payload's routed alerts and what `ingest_alerts` needs to write them."""

    alerts: Sequence[RoutedAlert]
    actor: str
    source: str
    playbooks: Mapping[str, Playbook]
    dropped: int = 0


def ingest_batch(tx: Tx, payloads: Sequence[Payload]) -> list[IngestResult | IrcmdError]:
    """Several payloads in one transaction (serve's group commit, `alerting.GroupCommit`),
    each written as `ingest_alerts` writes it alone, in the order given.

    Each runs inside its own savepoint: one that a rule refuses (a title that is not
    valid Unicode, say) is rolled back whole and its error returned in its place, and the
    others stay. Any other failure ends the whole transaction, as it would one alone."""
    out: list[IngestResult | IrcmdError] = []
    groups: dict[str, int | None] = {}
    for p in payloads:
        tx.execute("SAVEPOINT payload")
        before = dict(groups)
        try:
            out.append(
                ingest_alerts(
                    tx,
                    p.alerts,
                    actor=p.actor,
                    source=p.source,
                    playbooks=p.playbooks,
                    dropped=p.dropped,
                    open_incidents=groups,
                )
            )
        except IrcmdError as e:
            tx.execute("ROLLBACK TO SAVEPOINT payload")
            groups = before  # an incident it opened is gone with it
            out.append(e)
        tx.execute("RELEASE SAVEPOINT payload")
    return out


def _seen(tx: Tx, group: str, fingerprint: str) -> Seen | None:
    from ...ingest import AlertStatus, Seen

    rows = tx.rows(
        "SELECT status, starts_at, incident_id FROM alerts WHERE group_key = ? AND fingerprint = ?",
        (group, fingerprint),
    )
    if not rows:
        return None
    status, starts, incident = rows[0]
    return Seen(
        status=AlertStatus(status),
        starts_at=from_ts(starts) if starts else None,
        incident_id=incident,
    )


def _open_incident(tx: Tx, group: str) -> int | None:
    """The newest incident of the group that is still active (not yet resolved)."""
    marks = ", ".join("?" * len(ACTIVE_STATUSES))
    found = tx.scalar(
        "SELECT a.incident_id FROM alert_incidents a JOIN incidents i ON i.id = a.incident_id"
        f" WHERE a.group_key = ? AND i.status IN ({marks}) ORDER BY a.incident_id DESC LIMIT 1",
        (group, *(s.value for s in ACTIVE_STATUSES)),
    )
    return None if found is None else int(found)


def _writable(tx: Tx, incident: int) -> bool:
    status = tx.scalar("SELECT status FROM incidents WHERE id = ?", (incident,))
    return bool(status != Status.CLOSED)


@verb
def set_public_title(
    tx: Tx, ref: IncidentRef, title: str, *, actor: str, at: datetime | None = None
) -> Event:
    """The title the public status page shows for this incident; the internal title
    never appears there. A commander's (or deputy's) call, like the severity."""
    text = tx.text(title.strip(), "public title")
    state = tx.state(ref)
    rules.require_command(state, actor, "set the public title")
    return tx.append(state.incident.id, Kind.PUBLIC_TITLE, actor, text, {}, at)
