"""The record on PostgreSQL: what differs from SQLite, and nothing else.

The verbs, queries, projections, verify's replay and the hash chain are the shared
ones (`dialect.Dialect`); this module holds the dialect for PostgreSQL, the
connection adapter that makes a psycopg connection look like the DB-API one the
shared code speaks to (`?` placeholders, rows readable by position and by name),
the schema in PostgreSQL's words (generated from the SQLite migrations, so the
two can never drift apart), opening and error wording.

How the record stays a record here:
- Appends are serialized per database by a transaction-scoped advisory lock taken
  first thing in every write transaction (`begin_write`), so the chain stays linear
  with writers on many hosts; the projections are written in the same transaction.
- `events` refuses UPDATE and DELETE twice over: by a trigger (which the owner
  could drop) and by grants (`pg-setup`: the application role may only SELECT and
  INSERT it), so a crafted statement from an application login fails in the server.
- Each append NOTIFYs channel `ircmd_events` with the event id, in the same
  transaction (a trigger), so screens hear of it only once it is committed.
- With `identity = "database"`, the actor of an event must be `session_user`: a
  trigger refuses any other (service roles, members of `ircmd_service`, excepted).
- A delivery row inserted without an id gets the next one, max(id) + 1, as SQLite
  numbers an `INTEGER PRIMARY KEY` (a trigger: every write holds the write lock, so
  no two take the same; rows copied in with their ids need no sequence set after).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ..domain import InvalidInput, StorageBusy, StorageError
from . import schema
from .dialect import SQLITE

if TYPE_CHECKING:
    import psycopg

SCHEMES = ("postgresql://", "postgres://")
# The advisory lock every write transaction takes: one writer at a time per database.
WRITE_LOCK_KEY = 0x69726D64  # "irmd"
NOTIFY_CHANNEL = "ircmd_events"
# Members of this role may record events as someone else (serve's alert sources,
# the deliverer's outcomes) under identity = "database"; `pg-setup --roles` names
# another in ircmd_meta ('service_role').
SERVICE_ROLE = "ircmd_service"


def is_url(value: object) -> bool:
    """Does this --db / IRCMD_DB / config value name a PostgreSQL database?"""
    return isinstance(value, str) and value.startswith(SCHEMES)


def redact(url: str) -> str:
    """The URL without its password, for messages and anchors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


class PostgreSQL:
    """`dialect.Dialect` for PostgreSQL (psycopg 3, `%s` parameters)."""

    name = "postgresql"
    # READ COMMITTED: every statement after the lock sees every earlier commit.
    begin_write = f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})"
    # One snapshot for a whole read (verify: the chain, the schema and the tables agree).
    begin_read = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
    chain_head = "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1"
    # Written with `?` like every shared statement: `sql` turns them into `%s`.
    insert_event = SQLITE.insert_event

    def sql(self, text: str) -> str:
        return _placeholders(text)

    def busy(self, error: BaseException) -> bool:
        import psycopg.errors as pe

        return isinstance(
            error, pe.LockNotAvailable | pe.DeadlockDetected | pe.SerializationFailure
        )

    def upsert(self, table: str, columns: Sequence[str], key: Sequence[str]) -> str:
        marks = ", ".join("?" * len(columns))
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
        action = f"DO UPDATE SET {sets}" if sets else "DO NOTHING"
        return (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            f" ON CONFLICT ({', '.join(key)}) {action}"
        )


@functools.lru_cache(maxsize=2048)
def _placeholders(text: str) -> str:
    """`?` to `%s`; a literal `%` (LIKE patterns) doubled so psycopg leaves it alone."""
    return text.replace("%", "%%").replace("?", "%s")


POSTGRESQL = PostgreSQL()


# ------------------------------------------------------------------ rows and cursors


class Row(tuple[Any, ...]):
    """A row readable as `row[0]`, `row["name"]` and `dict(row)`, like sqlite3.Row."""

    __slots__ = ()
    _names: tuple[str, ...] = ()
    _index: dict[str, int] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> tuple[str, ...]:
        return self._names


@functools.lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    return type("Row", (Row,), {"_names": names, "_index": {n: i for i, n in enumerate(names)}})


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], Row]:
    desc = cursor.description
    cls = _row_class(tuple(d.name for d in desc) if desc else ())
    return cls


class Connection:
    """A psycopg connection as the shared code's DB-API `reader.Connection`."""

    def __init__(self, raw: psycopg.Connection[Any], url: str) -> None:
        self.raw = raw
        self.url = url

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        if not parameters:
            # No parameters: the text goes as it is written (`%` needs no doubling,
            # and several statements may be sent at once, as `begin_write` does).
            return self.raw.execute(sql.replace("%%", "%"))
        return self.raw.execute(sql, parameters)

    def close(self) -> None:
        self.raw.close()

    @property
    def broken(self) -> bool:
        return self.raw.closed or self.raw.broken


def connect(url: str, *, read_only: bool, timeout: float, create: bool = True) -> Connection:
    """Connect, set the session up, and create or check the schema."""
    import psycopg
    from psycopg.types.numeric import IntDumper

    with pg_errors(url, timeout):
        raw = psycopg.connect(
            url,
            autocommit=True,  # transactions are explicit: BEGIN ... COMMIT, as on SQLite
            connect_timeout=max(1, int(timeout)),
            row_factory=_row_factory,
            application_name="ircmd",
        )
    try:
        # Booleans are stored as 0/1, as SQLite stores them, so replays compare equal.
        raw.adapters.register_dumper(bool, IntDumper)
        with pg_errors(url, timeout):
            raw.execute(f"SET lock_timeout = {int(timeout * 1000)}")
            if read_only:
                raw.execute("SET default_transaction_read_only = on")
            conn = Connection(raw, url)
            ensure_schema(conn, read_only=read_only, create=create)
    except BaseException:
        raw.close()
        raise
    return conn


def session_facts(conn: Connection) -> tuple[bool, str | None]:
    """What the server says of this session: is it a standby (read-only), and, when
    the record's identity is the database's (`pg-setup --identity database`), the
    login every event of this session is recorded as."""
    standby, user, identity = conn.execute(
        "SELECT pg_is_in_recovery(), session_user,"
        " (SELECT value FROM ircmd_meta WHERE key = 'identity')"
    ).fetchone()
    return bool(standby), (str(user) if identity == "database" else None)


# ------------------------------------------------------------------ schema


def _translate(step: str) -> str:
    """One SQLite migration in PostgreSQL's words: 64-bit integers, no SQLite triggers,
    and text that compares and sorts by code point, as SQLite's BINARY collation does
    (a server's default collation may be a language's: `ORDER BY person` would then
    list names, and compare `record.ts` times, otherwise than on SQLite)."""
    step = re.sub(r"CREATE TRIGGER .*?END;\n", "", step, flags=re.S)
    step = re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', step)
    return re.sub(r"\bINTEGER\b", "BIGINT", step)


def _append_only_sql() -> str:
    return """
CREATE FUNCTION ircmd_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'events are append-only'; END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON events
FOR EACH STATEMENT EXECUTE FUNCTION ircmd_events_append_only();
CREATE FUNCTION ircmd_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('{channel}', NEW.id::text); RETURN NULL; END $$;
CREATE TRIGGER events_notify AFTER INSERT ON events
FOR EACH ROW EXECUTE FUNCTION ircmd_events_notify();
CREATE TABLE ircmd_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE FUNCTION ircmd_events_identity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.actor <> session_user
       AND (SELECT value FROM ircmd_meta WHERE key = 'identity') = 'database'
       AND NOT EXISTS (
           SELECT 1 FROM pg_auth_members m
           JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
           WHERE u.rolname = session_user AND g.rolname = COALESCE(
               (SELECT value FROM ircmd_meta WHERE key = 'service_role'), '{service}')) THEN
        RAISE EXCEPTION 'identity: % may not record events as %', session_user, NEW.actor
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER events_identity BEFORE INSERT ON events
FOR EACH ROW EXECUTE FUNCTION ircmd_events_identity();
CREATE FUNCTION ircmd_deliveries_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS NULL THEN
        NEW.id := (SELECT coalesce(max(id), 0) + 1 FROM deliveries);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER deliveries_id BEFORE INSERT ON deliveries
FOR EACH ROW EXECUTE FUNCTION ircmd_deliveries_id();
""".replace("{channel}", NOTIFY_CHANNEL).replace("{service}", SERVICE_ROLE)


def ddl() -> list[str]:
    """Every statement that creates ircmd's schema, at SCHEMA_VERSION, on PostgreSQL.

    Version 2's data fix is left out: it rewrites rows of version 1, and a new
    PostgreSQL record has none (records move here by `migrate`, which writes rows
    already at the current version)."""
    from .connection import split_sql

    steps = [m for i, m in enumerate(schema.MIGRATIONS) if i != 1]
    out = [s for step in steps for s in split_sql(_translate(step))]
    out += [s.strip() for s in _split_pg(_append_only_sql())]
    return out


def _split_pg(script: str) -> list[str]:
    """Split on `;` at line ends outside `$$` bodies."""
    out, buf, inside = [], "", False
    for line in script.splitlines(keepends=True):
        buf += line
        inside ^= line.count("$$") % 2 == 1
        if not inside and line.rstrip().endswith(";"):
            out.append(buf)
            buf = ""
    return [s for s in out if s.strip()]


# Whether this schema holds ircmd's meta table, read from pg_tables with the statement's
# snapshot. Not `to_regclass`: it looks the name up without a lock, through the backend's
# catalog cache, which can still hold "no such table" from the look before the advisory
# lock (a cache is refreshed when a table lock is taken, not an advisory one). So, after
# another session committed the schema, it said "none" while pg_tables counted the new
# tables, and `ensure_schema` called the database "not an ircmd one" (seen in CI).
HAS_RECORD = (
    "SELECT EXISTS (SELECT 1 FROM pg_tables"
    " WHERE schemaname = current_schema() AND tablename = 'ircmd_meta')"
)


def schema_version(conn: Connection) -> int | None:
    """The record's schema version; None when the database holds no ircmd record."""
    exists = conn.execute(HAS_RECORD).fetchone()[0]
    if not exists:
        return None
    row = conn.execute("SELECT value FROM ircmd_meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else None


def ensure_schema(conn: Connection, *, read_only: bool, create: bool) -> None:
    """Create the schema in an empty database (one transaction, under the write lock);
    refuse a newer one, or a database that holds other tables but no ircmd record."""
    version = schema_version(conn)
    where = redact(conn.url)
    if version is not None and version > schema.SCHEMA_VERSION:
        raise StorageError(
            f"{where} has schema version {version}, newer than this ircmd knows "
            f"({schema.SCHEMA_VERSION}): upgrade ircmd"
        )
    if version == schema.SCHEMA_VERSION:
        return
    if version is not None:
        raise StorageError(f"{where} has schema version {version}: run ircmd pg-setup --apply")
    if read_only or not create:
        raise StorageError(f"{where} holds no ircmd record yet (declaring an incident creates one)")
    # Looked at again under the write lock: another process may be creating the schema
    # right now, and its tables appear (all at once, committed) only after the first
    # look above; counted then, without the lock, they made this an "other" database.
    conn.execute(POSTGRESQL.begin_write)
    try:
        created = schema_version(conn) is not None
        if not created:
            tables = conn.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
            ).fetchone()[0]
            if tables:
                raise StorageError(f"{where} is a PostgreSQL database but not an ircmd one")
            for stmt in ddl():
                conn.execute(stmt)
            conn.raw.execute(
                "INSERT INTO ircmd_meta (key, value) VALUES ('schema_version', %s)",
                (str(schema.SCHEMA_VERSION),),
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if created:  # by another process meanwhile: check what it made, as above
        ensure_schema(conn, read_only=read_only, create=False)


# ------------------------------------------------------------------ errors


@contextmanager
def pg_errors(url: str, timeout: float) -> Iterator[None]:
    """Turn psycopg's exceptions into one-line errors a person can act on."""
    import psycopg
    import psycopg.errors as pe

    where = redact(url)
    try:
        yield
    except psycopg.Error as e:
        if POSTGRESQL.busy(e):
            raise StorageBusy(
                f"{where} is locked by another writer for more than {timeout:g} s; try again"
            ) from None
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        if isinstance(e, pe.InsufficientPrivilege):
            raise StorageError(f"{where} refused this: {first}") from None
        if isinstance(e, pe.ReadOnlySqlTransaction):
            raise StorageError(f"{where} is read-only (a standby?): cannot write") from None
        if isinstance(e, psycopg.DataError) and "NUL" in first:
            raise InvalidInput(
                "text contains a NUL character, which PostgreSQL cannot store"
            ) from None
        if isinstance(e, psycopg.OperationalError):
            raise StorageBusy(f"cannot reach {where}: {first}") from None
        raise StorageError(f"database error on {where}: {first}") from None
