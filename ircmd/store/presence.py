"""Who is looking at what: session state beside the record (no event, no hash)."""

from __future__ import annotations

from datetime import timedelta

from ..models import Presence
from .reader import Reader
from .record import ts
from .rows import decode
from .tx import Tx

COLUMNS = ("session", "incident_id", "person", "host", "seen_at")
# The screen heartbeats every 10 s (app.HEARTBEAT): a session missing 3 is gone.
PRESENCE_TIMEOUT = timedelta(seconds=35)


def heartbeat(tx: Tx, session: str, incident_id: int | None, person: str, host: str) -> None:
    tx.execute(
        tx.dialect.upsert("presence", COLUMNS, ("session",)),
        (session, incident_id, person, host, ts(tx.clock())),
    )


def leave(tx: Tx, session: str) -> None:
    tx.execute("DELETE FROM presence WHERE session = ?", (session,))


def clear(tx: Tx) -> None:
    """Forget every session (a restored backup's sessions are not the record's)."""
    tx.execute("DELETE FROM presence")


def watchers(r: Reader, cutoff: str) -> list[Presence]:
    """Sessions seen since `cutoff`; stale rows (killed sessions) are ignored."""
    rows = r.rows(
        f"SELECT {', '.join(COLUMNS)} FROM presence WHERE seen_at >= ? ORDER BY person",
        (cutoff,),
    )
    return [decode(Presence, row) for row in rows]


def people(r: Reader, cutoff: str) -> list[str]:
    """The distinct people of the sessions seen since `cutoff`, by name."""
    rows = r.rows(
        "SELECT DISTINCT person FROM presence WHERE seen_at >= ? ORDER BY person", (cutoff,)
    )
    return [row["person"] for row in rows]
