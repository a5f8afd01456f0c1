"""Evidence: registering items, their chain of custody, and corrections."""

from __future__ import annotations

from datetime import datetime

from ... import rules
from ...models import Event, Evidence, Kind, NotFound
from ..reader import IncidentRef
from ..tx import Tx, verb


@verb
def add_evidence(
    tx: Tx,
    ref: IncidentRef,
    description: str,
    *,
    actor: str,
    location: str = "",
    sha256: str | None = None,
    filename: str | None = None,
    size: int | None = None,
    at: datetime | None = None,
) -> Evidence:
    """Register an item; the collector is its first custodian. The size in bytes of
    an item streamed in (`evidence add --stdin`) goes on the record with its hash."""
    tx.text(description, "description")
    if location:
        tx.text(location, "location")
    state = tx.state(ref)
    n = max((e.n for e in state.evidence), default=0) + 1
    data = {
        "n": n,
        "location": location,
        "sha256": sha256,
        "filename": filename,
        "custodian": actor,
    } | ({"size": size} if size is not None else {})
    ev = tx.append(state.incident.id, Kind.EVIDENCE_ADD, actor, description, data, at)
    return Evidence(
        n=n,
        description=description,
        location=location,
        sha256=sha256,
        filename=filename,
        collected_by=actor,
        collected_at=ev.occurred_at,
        custodian=actor,
    )


@verb
def transfer_evidence(
    tx: Tx,
    ref: IncidentRef,
    n: int,
    to: str,
    *,
    reason: str,
    actor: str,
    at: datetime | None = None,
) -> Event:
    """Hand an item to its next custodian; custody goes on even once closed."""
    to = rules.check_name(to, "recipient")
    tx.text(reason, "reason")
    state = tx.state(ref, writable=False)
    item = next((e for e in state.evidence if e.n == n), None)
    if item is None:
        raise NotFound(f"no evidence EV-{n} on {state.incident.key}")
    rules.check_custody_transfer(state, item, to, actor)
    data = {"n": n, "from": item.custodian, "to": to}
    return tx.append(state.incident.id, Kind.EVIDENCE_TRANSFER, actor, reason, data, at)


@verb
def amend_evidence(
    tx: Tx, ref: IncidentRef, n: int, text: str, *, actor: str, at: datetime | None = None
) -> Event:
    tx.text(text, "amendment")
    state = tx.state(ref, writable=False)
    if not any(e.n == n for e in state.evidence):
        raise NotFound(f"no evidence EV-{n} on {state.incident.key}")
    return tx.append(state.incident.id, Kind.EVIDENCE_AMEND, actor, text, {"n": n}, at)
