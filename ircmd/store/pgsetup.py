"""`ircmd pg-setup`: the roles and grants that keep a PostgreSQL record append-only
for everyone who writes to it, and who the record says wrote each event.

Three roles, none of which logs in:
- PREFIX_owner owns the tables and trigger functions. No session acts as it, so no
  session may drop the append-only trigger or alter the tables.
- PREFIX_app is what every person's login is a member of: SELECT and INSERT on
  `events` (never UPDATE, DELETE or TRUNCATE: the server refuses them before any
  trigger runs), full use of the projections, presence and outbox tables, which the
  record's verbs rewrite in the same transaction as each append, and SELECT only on
  `ircmd_meta`.
- PREFIX_service is PREFIX_app plus, under identity "database", recording events as
  someone other than the login: `serve` records alerts as `alerts:SOURCE` and
  `deliver` its outcomes as itself. Its logins must be direct members.

The SQL is made for the database as it is found: its schema is created as the owner
when it holds no record yet, or handed to the owner when it does (a record created
by an earlier first open). It is printed, or run in one transaction by `apply`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..domain import InvalidInput, StorageError
from . import schema
from .postgres import HAS_RECORD, SERVICE_ROLE, ddl, pg_errors, redact

IDENTITIES = ("client", "database")
DEFAULT_PREFIX = SERVICE_ROLE.removesuffix("_service")
# Role names are built from the prefix and never need quoting.
_PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
# PostgreSQL keeps the first 63 bytes of a name.
_NAME_BYTES = 63


@dataclass(frozen=True)
class Roles:
    """The three roles' names, from one prefix (`--roles`)."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.prefix):
            raise InvalidInput(
                f"--roles {self.prefix!r}: a prefix is a lower-case letter, then lower-case"
                " letters, digits or _ (at most 41)"
            )

    @property
    def owner(self) -> str:
        return f"{self.prefix}_owner"

    @property
    def app(self) -> str:
        return f"{self.prefix}_app"

    @property
    def service(self) -> str:
        return f"{self.prefix}_service"


@dataclass(frozen=True)
class Step:
    """One statement, and the comment printed above it (if any)."""

    sql: str
    note: str = ""


@dataclass(frozen=True)
class Found:
    """The database as pg-setup finds it."""

    database: str
    schema: str
    version: int | None  # None: no ircmd record in it yet


def quote(name: str) -> str:
    """A name as a PostgreSQL identifier, always quoted (a login may be `user`)."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def check_login(name: str) -> str:
    """A person's or service's login name: what the record will show as its actor,
    so it must be a name the record accepts as it is typed."""
    from ..rules import check_name

    if check_name(name, "a login name") != name:
        raise InvalidInput(f"login {name!r} is not written as the record writes names")
    if len(name.encode()) > _NAME_BYTES:
        raise InvalidInput(f"login {name!r} is longer than PostgreSQL's {_NAME_BYTES} bytes")
    return name


def tables() -> list[str]:
    """Every table of the schema, in the order it is created."""
    return re.findall(r"^CREATE TABLE (\w+)", "\n".join(ddl()), flags=re.M)


def functions() -> list[str]:
    return re.findall(r"^CREATE FUNCTION (\w+)\(\)", "\n".join(ddl()), flags=re.M)


def _create_role(name: str, *member_of: str) -> Step:
    """CREATE ROLE unless it exists (PostgreSQL has no IF NOT EXISTS for roles)."""
    in_role = f" IN ROLE {', '.join(member_of)}" if member_of else ""
    return Step(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {literal(name)})"
        f" THEN CREATE ROLE {name} NOLOGIN{in_role}; END IF; END $$"
    )


def _meta(key: str, value: str) -> Step:
    return Step(
        f"INSERT INTO ircmd_meta (key, value) VALUES ({literal(key)}, {literal(value)})"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
    )


def setup_steps(found: Found, roles: Roles, identity: str | None) -> list[Step]:
    """The whole setup, for the database as `found`, as one transaction; `identity`
    None leaves the record's as it is (a new record's is "client")."""
    if identity is not None and identity not in IDENTITIES:
        raise InvalidInput(f"identity {identity!r}: one of {', '.join(IDENTITIES)}")
    if found.version is not None and found.version != schema.SCHEMA_VERSION:
        raise StorageError(
            f"the record has schema version {found.version}; this ircmd sets up"
            f" version {schema.SCHEMA_VERSION} only"
        )
    schema_name = quote(found.schema)
    everything = tables()
    projections = [t for t in everything if t not in ("events", "ircmd_meta")]
    steps = [
        Step("BEGIN", f"ircmd pg-setup for database {found.database}: run as a superuser."),
        Step(
            _create_role(roles.owner).sql, f"{roles.owner} owns the record; no one logs in as it."
        ),
        Step(
            _create_role(roles.app).sql,
            f"{roles.app}: every person's login is a member (pg-setup --person NAME).",
        ),
        Step(
            _create_role(roles.service, roles.app).sql,
            f"{roles.service}: logins of serve and deliver, which record events as"
            " alert sources and hooks (pg-setup --service NAME).",
        ),
        Step(f"ALTER ROLE {roles.owner} NOLOGIN", "Even if it existed before."),
        Step(f"GRANT {roles.app} TO {roles.service}"),
        Step(f"GRANT CONNECT ON DATABASE {quote(found.database)} TO {roles.app}"),
        Step(
            f"REVOKE CREATE ON SCHEMA {schema_name} FROM PUBLIC",
            "Only the owner creates in the record's schema (PostgreSQL < 15 let anyone).",
        ),
        Step(f"GRANT USAGE, CREATE ON SCHEMA {schema_name} TO {roles.owner}"),
        Step(f"GRANT USAGE ON SCHEMA {schema_name} TO {roles.app}"),
    ]
    if found.version is None:
        statements = [s.rstrip().rstrip(";") for s in ddl()]
        steps.append(Step(f"SET LOCAL ROLE {roles.owner}", "The schema, created by its owner."))
        steps += [Step(s) for s in statements]
        steps.append(_meta("schema_version", str(schema.SCHEMA_VERSION)))
        steps.append(Step("RESET ROLE"))
    else:
        steps.append(
            Step(
                f"ALTER TABLE {everything[0]} OWNER TO {roles.owner}",
                "The record exists: its tables and functions are handed to the owner.",
            )
        )
        steps += [Step(f"ALTER TABLE {t} OWNER TO {roles.owner}") for t in everything[1:]]
        steps += [Step(f"ALTER FUNCTION {f}() OWNER TO {roles.owner}") for f in functions()]
    steps += [
        Step(
            f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON events"
            f" FROM PUBLIC, {roles.app}, {roles.service}",
            "Append-only by grants: the server refuses UPDATE, DELETE and TRUNCATE"
            " of events to every login of ircmd, trigger or no trigger.",
        ),
        Step(f"GRANT SELECT, INSERT ON events TO {roles.app}"),
        Step(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(projections)} TO {roles.app}",
            "The projections, presence and outbox, rewritten with each append.",
        ),
        Step(f"GRANT SELECT ON ircmd_meta TO {roles.app}"),
        Step(
            _meta("service_role", roles.service).sql,
            "Whose members may record events as another name (identity database).",
        ),
    ]
    if identity is not None:
        steps.append(
            Step(
                _meta("identity", identity).sql,
                "Each event's actor is the login that wrote it (session_user)."
                if identity == "database"
                else "Each event's actor is the name the client gives (--as).",
            )
        )
    steps.append(Step("COMMIT"))
    return steps


def login_steps(people: Sequence[str], services: Sequence[str], roles: Roles) -> list[Step]:
    """A login for each person (member of the app role) and service."""
    steps = [Step("BEGIN")]
    for name in people:
        steps.append(
            Step(
                f"CREATE ROLE {quote(check_login(name))} LOGIN IN ROLE {roles.app}",
                f"{name} logs in as {name}; the server's pg_hba.conf decides how: a password"
                f" (psql: \\password {name}), a client certificate whose CN is {name}"
                " (a `cert` line), or peer/GSS (the OS or Kerberos name).",
            )
        )
    for name in services:
        steps.append(
            Step(
                f"CREATE ROLE {quote(check_login(name))} LOGIN IN ROLE {roles.service}",
                f"{name}: for ircmd serve / deliver; give it a password or a certificate.",
            )
        )
    return [*steps, Step("COMMIT")]


def render(steps: Sequence[Step]) -> str:
    lines: list[str] = []
    for step in steps:
        if step.note:
            lines.append(f"-- {step.note}")
        lines.append(f"{step.sql};")
    return "\n".join(lines) + "\n"


def _connect(url: str, timeout: float) -> Any:
    """A plain connection: not `postgres.connect`, which would create the schema as
    whoever this login is."""
    import psycopg

    with pg_errors(url, timeout):
        return psycopg.connect(
            url, autocommit=True, connect_timeout=max(1, int(timeout)), application_name="ircmd"
        )


def find(url: str, timeout: float) -> Found:
    """The database's name, schema and record version, as this login sees them."""
    with _connect(url, timeout) as conn, pg_errors(url, timeout):
        database, schema_name, standby = conn.execute(
            "SELECT current_database(), current_schema(), pg_is_in_recovery()"
        ).fetchone()
        if standby:
            raise StorageError(
                f"{redact(url)} is a standby (read-only): run pg-setup on the primary"
            )
        if schema_name is None:
            raise StorageError(f"{redact(url)} has no schema on this login's search_path")
        version = None
        if conn.execute(HAS_RECORD).fetchone()[0]:
            row = conn.execute(
                "SELECT value FROM ircmd_meta WHERE key = 'schema_version'"
            ).fetchone()
            version = int(row[0]) if row else 0
        elif conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchone()[0]:
            raise StorageError(f"{redact(url)} is a PostgreSQL database but not an ircmd one")
    return Found(str(database), str(schema_name), version)


def apply(url: str, steps: Sequence[Step], timeout: float) -> None:
    """Run the steps in order on one connection: they begin and commit their one
    transaction, and a failure leaves it uncommitted (closing rolls it back)."""
    with _connect(url, timeout) as conn, pg_errors(url, timeout):
        for step in steps:
            conn.execute(step.sql)
