"""Fast test databases for the benchmarks: many events in one transaction.

The Store writes one event per round trip, which takes minutes for 100,000
events; this appends them through plain sqlite3 in a single transaction, but
hashes and projects each one with the Store's own functions (record.event_hash,
projections.statements), so the result verifies like any other database.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ircmd.models import Kind, Severity
from ircmd.store import Store
from ircmd.store.dialect import SQLITE
from ircmd.store.reader import Reader
from ircmd.store.tx import append_event

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
ACTORS = ("alice", "bob", "carol", "dave", "erin")
PHRASES = (
    "checked the load balancer logs, 5xx rate still climbing",
    "rolled back deploy 4812 on the api tier",
    "customer support reports login failures in EU",
    "db primary CPU at 95%, replica lag 40 s",
    "paged the storage on-call; waiting for ack",
    "error rate back under 1% after the failover",
)


async def _create(path: Path) -> None:
    store = await Store.open(path)
    await store.close()


def append_events(path: Path, specs: list[tuple[int | None, Kind, str, dict[str, object]]]) -> None:
    """Append (incident_id, kind, text, data) events, one second apart, in one transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    db = Reader(conn, SQLITE)
    try:
        conn.execute(SQLITE.begin_write)
        last_id = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
        for offset, (incident, kind, text, data) in enumerate(specs, 1):
            at = START + timedelta(seconds=last_id + offset)
            actor = ACTORS[offset % len(ACTORS)]
            append_event(db, incident, kind, actor, text, data, at, at)
        conn.execute("COMMIT")
    finally:
        conn.close()


def _declare(n: int, title: str, severity: Severity) -> tuple[int, Kind, str, dict[str, object]]:
    data: dict[str, object] = {
        "title": title,
        "severity": severity.value,
        "type": "",
        "summary": "",
    }
    return (n, Kind.DECLARE, title, data)


def build(path: Path, *, incidents: int, big_events: int) -> None:
    """`incidents` incidents with a note each; INC-1, active last, holds `big_events` notes."""
    asyncio.run(_create(path))
    specs: list[tuple[int | None, Kind, str, dict[str, object]]] = []
    for n in range(1, incidents + 1):
        specs.append(_declare(n, f"incident {n}: {PHRASES[n % len(PHRASES)]}", Severity.SEV3))
    for n in range(2, incidents + 1):
        specs.append((n, Kind.NOTE, PHRASES[n % len(PHRASES)], {}))
    for i in range(big_events):  # last, so INC-1 is the most recently active incident
        specs.append((1, Kind.NOTE, f"{i}: {PHRASES[i % len(PHRASES)]}", {}))
    append_events(path, specs)
