"""`Reader`: one DB-API connection and its dialect, with the few helpers every query
and verb uses. A write transaction (`tx.Tx`) is a Reader that may also append."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from ..domain import NotFound, RuleViolation, Status, incident_key, parse_incident_ref
from .dialect import Dialect

IncidentRef = int | str
Row = Any  # a DB-API row that `dict(row)` turns into {column: value} (sqlite3.Row)


class Cursor(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def close(self) -> None: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """The part of a DB-API connection the verbs and queries use."""

    @property
    def in_transaction(self) -> bool: ...
    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...


class Reader:
    def __init__(self, conn: Connection, dialect: Dialect) -> None:
        self.conn = conn
        self.dialect = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.conn.execute(self.dialect.sql(sql), params)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(self.conn.execute(self.dialect.sql(sql), params).fetchall())

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.conn.execute(self.dialect.sql(sql), params).fetchone()
        return row[0] if row else None

    def incident_id(self, ref: IncidentRef, *, writable: bool = False) -> int:
        """The incident's number, which must exist; with `writable`, refuse a closed one."""
        n, status = self.incident_status(ref)
        if writable and status is Status.CLOSED:
            raise closed_refusal(n)
        return n

    def incident_status(self, ref: IncidentRef) -> tuple[int, Status]:
        """The incident's number, which must exist, and its status, in one query."""
        n = ref if isinstance(ref, int) else parse_incident_ref(ref)
        status = self.scalar("SELECT status FROM incidents WHERE id = ?", (n,))
        if status is None:
            raise NotFound(f"no incident {incident_key(n)}")
        return n, Status(status)


def hash_of(r: Reader, event_id: int) -> str | None:
    """The hash event `event_id` carries (None if there is no such event): here, not
    in `queries`, so that checking an anchor on opening needs no model."""
    value = r.scalar("SELECT hash FROM events WHERE id = ?", (event_id,))
    return None if value is None else str(value)


def closed_refusal(n: int) -> RuleViolation:
    """A write to closed incident `n` refused, and how to make it writable again."""
    return RuleViolation(
        f"{incident_key(n)} is closed: re-open it first by setting an earlier status with a reason"
    )
