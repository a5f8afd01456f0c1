"""Timeline entries without the records: what a one-shot `ircmd log INC-n TEXT` runs.

`append_entry` is the whole of the `log` verb (`incident.log`) but returns the
event plain (`record.Chained`), so that the one-shot command, which prints only
the entry's id, imports neither pydantic nor the models (some 10 ms).
"""

from __future__ import annotations

from datetime import datetime

from ...domain import LOG_KINDS, InvalidInput, Kind, Status
from ..reader import IncidentRef, closed_refusal
from ..record import Chained
from ..tx import Tx, verb


@verb
def append_entry(
    tx: Tx,
    ref: IncidentRef,
    text: str,
    *,
    actor: str,
    kind: Kind = Kind.NOTE,
    at: datetime | None = None,
) -> Chained:
    """A timeline entry: a note or a decision, possibly back-dated.

    A note on a closed incident is a post-incident note ("postmortem published"),
    flagged `post_incident` in its data: the record goes on after closing without
    re-opening the incident. A decision there is refused like any other write."""
    tx.text(text)
    if kind not in LOG_KINDS:
        raise InvalidInput(f"cannot log an entry of kind {kind}")
    n, status = tx.incident_status(ref)
    if status is not Status.CLOSED:
        return tx.chain(n, kind, actor, text, {}, at)
    if kind is not Kind.NOTE:
        raise closed_refusal(n)
    return tx.chain(n, kind, actor, text, {"post_incident": True}, at)
