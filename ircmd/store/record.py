"""The encoding of the record: timestamps, canonical event bytes and the hash chain.

Kept apart from the Store so that `verify`, the replay test and the benchmarks
compute hashes exactly as the writer does.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from ..domain import Kind

if TYPE_CHECKING:
    from ..models import Event

GENESIS = "0" * 64

EVENT_COLUMNS = (
    "id, incident_id, occurred_at, recorded_at, actor, kind, text, data, prev_hash, hash"
)


def ts(dt: datetime) -> str:
    """Fixed-width UTC ISO-8601 with microseconds, so text order is time order."""
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def from_ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def encode_data(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# `json.dumps(..., ensure_ascii=False, separators=(",", ":"))`, built once: a replay
# of a whole record hashes every row, and dumps would build an encoder for each.
_ROW_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def event_hash(
    prev_hash: str,
    event_id: int,
    incident_id: int | None,
    occurred_at: str,
    recorded_at: str,
    actor: str,
    kind: str,
    text: str,
    data: str,
) -> str:
    """sha256 over the previous hash and a canonical JSON array of the row.

    The id is included, so moving or deleting a row breaks the chain as surely as
    editing one.
    """
    body = _ROW_ENCODER.encode(
        [event_id, incident_id, occurred_at, recorded_at, actor, kind, text, data]
    )
    return hashlib.sha256((prev_hash + "\n" + body).encode("utf-8")).hexdigest()


def row_hash(row: sqlite3.Row | tuple[Any, ...]) -> str:
    """The hash a row of `SELECT EVENT_COLUMNS` should carry, given its prev_hash."""
    return event_hash(row[8], row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7])


class Chained(NamedTuple):
    """An event as `tx.append_event` has just chained it: the fields of `models.Event`,
    plain. A one-shot `ircmd log` reads its id and never builds the record, so it never
    imports `models` (`Tx.chain`); `event()` is the record the verbs return."""

    id: int
    incident_id: int | None
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    kind: Kind
    text: str
    data: dict[str, Any]
    prev_hash: str
    hash: str

    def event(self) -> Event:
        from ..models import Event

        return Event(**self._asdict())


def chained_from_row(row: sqlite3.Row | tuple[Any, ...]) -> Chained:
    """An event row (EVENT_COLUMNS) as `Chained`, without building the model: what a
    replay of a whole record (`verify`, `migrate`) reads 100,000 times."""
    return Chained(
        row[0],
        row[1],
        from_ts(row[2]),
        from_ts(row[3]),
        row[4],
        Kind(row[5]),
        row[6],
        json.loads(row[7]),
        row[8],
        row[9],
    )
