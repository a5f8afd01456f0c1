"""PostgreSQL roles, grants and identity (`ircmd pg-setup`, `[database] identity`).

The record is append-only by grants: a login of the application role may INSERT
into `events` and the server refuses it UPDATE, DELETE and TRUNCATE, even with the
append-only trigger dropped. With identity "database" each person logs in as their
own role and the actor of every event is that login: another name is refused by the
server (a raw INSERT) and by the command line (--as, IRCMD_USER).

Roles are cluster-wide: each test names its own (a uuid suffix) and drops them.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import psycopg.errors as pe
import pytest
from conftest import pg_admin_url
from helpers import pg
from helpers.cli import assert_error, assert_ok, ircmd

from ircmd.config import Config, opened, resolve
from ircmd.models import InvalidInput
from ircmd.session import Session
from ircmd.settings import load_settings
from ircmd.store.pgsetup import Roles


def login_url(url: str, login: str) -> str:
    """`url` with `login` as its user (trust on 127.0.0.1: no password)."""
    parts = urlsplit(url)
    host = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    return urlunsplit((parts.scheme, f"{login}@{host}", parts.path, "", ""))


@dataclass
class Setup:
    """A record set up by `pg-setup --apply`: its roles and logins, and a runner."""

    url: str  # the superuser's
    prefix: str
    alice: str
    bob: str
    service: str
    home: Path
    config: Path

    @property
    def owner(self) -> str:
        return Roles(self.prefix).owner

    @property
    def app(self) -> str:
        return Roles(self.prefix).app

    def as_login(self, login: str) -> str:
        return login_url(self.url, login)

    def cli(
        self, *args: str, login: str, user: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`ircmd ARGS` logged in as `login`, with config.toml's identity = "database"."""
        extra = {"IRCMD_CONFIG": str(self.config)} | (env or {})
        return ircmd(*args, db=self.as_login(login), home=self.home, user=user, env=extra)


def drop_roles(admin: str, *names: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def pg_setup(url: str, home: Path, *args: str) -> str:
    return assert_ok(ircmd("pg-setup", *args, db=url, home=home, user=None))


@pytest.fixture
def setup(pg_url: str, tmp_path: Path) -> Iterator[Setup]:
    """pg-setup --apply --identity database on a new database, with logins for two
    people and one service; everything dropped after (the database first: the
    roles own its objects)."""
    tag = uuid.uuid4().hex[:10]
    prefix = f"t{tag}"
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "config.toml"
    config.write_text('[database]\nidentity = "database"\n')
    s = Setup(pg_url, prefix, f"alice_{tag}", f"bob_{tag}", f"svc_{tag}", home, config)
    roles = [s.alice, s.bob, s.service, f"{prefix}_service", s.app, s.owner]
    try:
        pg_setup(pg_url, home, "--roles", prefix, "--identity", "database", "--apply")
        pg_setup(pg_url, home, "--roles", prefix, "--person", s.alice, "--person", s.bob, "--apply")
        pg_setup(pg_url, home, "--roles", prefix, "--service", s.service, "--apply")
        yield s
    finally:
        admin = pg_admin_url()
        pg.drop_database(admin, pg_url)
        drop_roles(admin, *roles)


def events_of(s: Setup) -> list[tuple[int, str, str]]:
    with psycopg.connect(s.url) as conn:
        return [
            (int(i), str(a), str(t))
            for i, a, t in conn.execute("SELECT id, actor, text FROM events ORDER BY id")
        ]


def declared(s: Setup) -> None:
    """INC-1, declared by alice's login (its commander), with one entry."""
    assert assert_ok(s.cli("declare", "Checkout failing", "--severity", "SEV2", login=s.alice))
    assert_ok(s.cli("log", "INC-1", "rolled back", login=s.alice))


# ------------------------------------------------------------------ pg-setup


def test_pg_setup_prints_the_grants_and_changes_nothing(pg_url: str, tmp_path: Path) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    sql = pg_setup(pg_url, tmp_path, "--roles", prefix)
    assert f"GRANT SELECT, INSERT ON events TO {prefix}_app;" in sql
    assert "REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON events" in sql
    assert f"CREATE ROLE {prefix}_owner NOLOGIN" in sql
    assert f"SET LOCAL ROLE {prefix}_owner;" in sql
    assert "CREATE TABLE events (" in sql
    assert f"GRANT SELECT ON ircmd_meta TO {prefix}_app;" in sql
    # No statement grants anything on events beyond SELECT and INSERT, nor to PUBLIC.
    grants = [line for line in sql.splitlines() if line.startswith("GRANT")]
    assert [g for g in grants if " ON events " in g] == [
        f"GRANT SELECT, INSERT ON events TO {prefix}_app;"
    ]
    assert not [g for g in grants if "PUBLIC" in g]
    assert "VALUES ('identity'" not in sql  # not asked for: left as it is
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass('events')").fetchone() == (None,)
        found = conn.execute(
            "SELECT count(*) FROM pg_roles WHERE rolname LIKE %s", (f"{prefix}%",)
        ).fetchone()
        assert found == (0,)


def test_pg_setup_person_prints_a_login_in_the_app_role(tmp_path: Path) -> None:
    # Printing a login needs no connection: the URL's server need not even exist.
    url = "postgresql://postgres@127.0.0.1:1/nowhere"
    sql = assert_ok(ircmd("pg-setup", "--person", "carol", db=url, home=tmp_path, user=None))
    assert 'CREATE ROLE "carol" LOGIN IN ROLE ircmd_app;' in sql
    assert "password" in sql and "certificate" in sql
    sql = assert_ok(
        ircmd("pg-setup", "--roles", "ops", "--service", "alerts", db=url, home=tmp_path, user=None)
    )
    assert 'CREATE ROLE "alerts" LOGIN IN ROLE ops_service;' in sql


def test_pg_setup_refuses_sqlite_a_lock_and_bad_names(tmp_path: Path) -> None:
    db = tmp_path / "ircmd.db"
    assert_error(ircmd("pg-setup", db=db, home=tmp_path), "pg-setup", "postgresql")
    assert not db.exists()
    url = "postgresql://postgres@127.0.0.1:1/nowhere"
    locked = ircmd("pg-setup", db=None, home=tmp_path, user=None, env={"IRCMD_LOCK_USER": "bob"})
    assert_error(locked, "locked", "pg-setup")
    assert_error(ircmd("pg-setup", "--roles", "Bad-Name", db=url, home=tmp_path), "--roles")
    bad = ircmd("pg-setup", "--person", "bad\u200bname", db=url, home=tmp_path)
    assert_error(bad, "invisible")


def test_pg_setup_hands_an_existing_record_to_the_owner(pg_url: str, tmp_path: Path) -> None:
    """A record created by a first open (owned by that login) is given to the owner
    role, and the app role's logins then append and cannot rewrite it."""
    home = tmp_path / "home"
    home.mkdir()
    assert_ok(ircmd("declare", "Old record", db=pg_url, home=home, user="carol"))
    tag = uuid.uuid4().hex[:10]
    prefix, login = f"t{tag}", f"dave_{tag}"
    try:
        sql = pg_setup(pg_url, home, "--roles", prefix)
        assert "CREATE TABLE" not in sql and f"ALTER TABLE events OWNER TO {prefix}_owner" in sql
        pg_setup(pg_url, home, "--roles", prefix, "--apply")
        pg_setup(pg_url, home, "--roles", prefix, "--person", login, "--apply")
        dave = login_url(pg_url, login)
        with psycopg.connect(pg_url) as conn:
            owners = conn.execute(
                "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        assert owners == [(f"{prefix}_owner",)]
        # identity stays "client": the actor is the name given.
        assert_ok(ircmd("log", "INC-1", "dave's entry", db=dave, home=home, user="dave"))
        with psycopg.connect(dave) as conn, pytest.raises(pe.InsufficientPrivilege):
            conn.execute("DELETE FROM events")
    finally:
        admin = pg_admin_url()
        pg.drop_database(admin, pg_url)
        drop_roles(admin, login, f"{prefix}_service", f"{prefix}_app", f"{prefix}_owner")


# ------------------------------------------------------------------ grants


@pytest.mark.parametrize(
    "statement",
    ["UPDATE events SET text = 'rewritten'", "DELETE FROM events", "TRUNCATE events"],
)
def test_the_app_role_cannot_rewrite_events_even_without_the_trigger(
    setup: Setup, statement: str
) -> None:
    declared(setup)
    before = events_of(setup)
    alice = setup.as_login(setup.alice)
    with psycopg.connect(alice) as conn, pytest.raises(pe.InsufficientPrivilege, match="denied"):
        conn.execute(statement)
    # The owner drops the append-only trigger: the grants alone still refuse.
    with psycopg.connect(setup.url, autocommit=True) as conn:
        conn.execute(f"SET ROLE {setup.owner}")
        conn.execute("DROP TRIGGER events_append_only ON events")
    alice = setup.as_login(setup.alice)
    with psycopg.connect(alice) as conn, pytest.raises(pe.InsufficientPrivilege, match="denied"):
        conn.execute(statement)
    assert events_of(setup) == before
    # The trigger is really gone: the superuser's statement now goes through.
    with psycopg.connect(setup.url, autocommit=True) as conn:
        conn.execute(statement)
    assert events_of(setup) != before


def test_the_app_role_cannot_drop_the_trigger_or_write_meta(setup: Setup) -> None:
    with psycopg.connect(setup.as_login(setup.alice), autocommit=True) as conn:
        with pytest.raises(pe.InsufficientPrivilege):
            conn.execute("DROP TRIGGER events_append_only ON events")
        with pytest.raises(pe.InsufficientPrivilege):
            conn.execute("UPDATE ircmd_meta SET value = 'client' WHERE key = 'identity'")
        with pytest.raises(pe.InsufficientPrivilege):
            conn.execute("CREATE TABLE mine (x int)")


# ------------------------------------------------------------------ identity


def raw_insert(url: str, actor: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO events (id, occurred_at, recorded_at, actor, kind, prev_hash, hash)"
            " VALUES (1000, 'x', 'x', %s, 'log', 'x', 'x')",
            (actor,),
        )


def test_a_login_cannot_insert_an_event_as_another(setup: Setup) -> None:
    declared(setup)
    with pytest.raises(pe.InsufficientPrivilege, match="may not record events as"):
        raw_insert(setup.as_login(setup.alice), setup.bob)
    # A service login may (serve records alerts as their sources).
    raw_insert(setup.as_login(setup.service), "alerts:grafana")
    assert events_of(setup)[-1][1] == "alerts:grafana"


def test_events_from_the_command_line_carry_the_login(setup: Setup) -> None:
    declared(setup)  # declare (the async store) and log (the one-shot store)
    assert_ok(setup.cli("log", "INC-1", "bob was here", login=setup.bob))
    actors = [a for _i, a, _t in events_of(setup)]
    assert actors == [setup.alice, setup.alice, setup.bob]
    shown = json.loads(assert_ok(setup.cli("show", "INC-1", "--json", login=setup.bob)))
    assert shown["incident"]["declared_by"] == setup.alice
    assert {"role": "commander", "person": setup.alice} in [
        {"role": r["role"], "person": r["person"]} for r in shown["roles"]
    ]


def test_verify_runs_as_a_login_and_names_a_projection_it_edited(setup: Setup) -> None:
    """The projections are the app role's to rewrite (each append does); an edit made
    outside ircmd is caught by verify, which replays them from the events."""
    declared(setup)
    assert "chain intact" in assert_ok(setup.cli("verify", login=setup.bob))
    with psycopg.connect(setup.as_login(setup.bob)) as conn:
        conn.execute("UPDATE roles SET person = %s", (setup.bob,))
    assert_error(setup.cli("verify", login=setup.alice), "roles does not match the record")


def test_as_and_ircmd_user_are_refused(setup: Setup) -> None:
    declared(setup)
    before = events_of(setup)
    r = setup.cli("--as", setup.bob, "log", "INC-1", "as bob", login=setup.alice)
    assert_error(r, "--as refused", 'identity = "database"')
    r = setup.cli("log", "INC-1", "as bob", login=setup.alice, user=setup.bob)
    assert_error(r, "IRCMD_USER refused")
    # Even naming oneself: the database says who this is, not the client.
    r = setup.cli("--as", setup.alice, "log", "INC-1", "me", login=setup.alice)
    assert_error(r, "--as refused")
    assert events_of(setup) == before


def test_a_name_other_than_the_login_is_refused_without_the_config(setup: Setup) -> None:
    """The record says identity "database": a client that does not know it and names
    someone else (IRCMD_USER, a lock) is refused, not recorded under the login."""
    declared(setup)
    db = setup.as_login(setup.alice)
    r = ircmd("log", "INC-1", "who am I", db=db, home=setup.home, user=setup.bob)
    assert_error(r, "database logins", repr(setup.alice))
    locked = ircmd(
        "log", "INC-1", "x", db=None, home=setup.home, user=None,
        env={"IRCMD_LOCK_USER": setup.bob, "IRCMD_DB": db},
    )  # fmt: skip
    assert_error(locked, "database logins")
    # Unnamed (the OS user): the login is the actor.
    assert_ok(ircmd("log", "INC-1", "plain", db=db, home=setup.home, user=None))
    assert events_of(setup)[-1][1:] == (setup.alice, "plain")


def test_permission_checks_still_apply_to_logins(setup: Setup) -> None:
    declared(setup)
    r = setup.cli("severity", "INC-1", "SEV1", login=setup.bob)
    assert_error(r, "commander or deputy", setup.bob)
    assert_ok(setup.cli("assign", "INC-1", "deputy", setup.bob, login=setup.alice))
    assert_ok(setup.cli("severity", "INC-1", "SEV1", login=setup.bob))
    assert events_of(setup)[-1][1] == setup.bob


def test_identity_database_in_config_needs_a_record_that_says_so(
    pg_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[database]\nidentity = "database"\n')
    env = {"IRCMD_CONFIG": str(config)}
    r = ircmd("declare", "x", db=tmp_path / "ircmd.db", home=tmp_path, user=None, env=env)
    assert_error(r, "SQLite")
    r = ircmd("declare", "x", db=pg_url, home=tmp_path, user=None, env=env)
    assert_error(r, "pg-setup --identity database")
    config.write_text('[database]\nidentity = "people"\n')
    r = ircmd("list", db=pg_url, home=tmp_path, user=None, env=env)
    assert_error(r, "identity must be one of")


async def test_the_screen_acts_as_the_login(setup: Setup) -> None:
    declared(setup)
    cfg = Config(
        db=setup.as_login(setup.bob), user="someone", identity="database", config_dir=setup.home
    )
    session = await Session.open(cfg, lambda: datetime.now(UTC))
    try:
        assert session.user == setup.bob
        assert not session.read_only
    finally:
        await session.close()


# ------------------------------------------------------------------ the config side


def test_config_identity_is_read_and_refuses_a_named_user(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "postgresql://alice@db/ircmd"\nidentity = "database"\n')
    env = {"IRCMD_CONFIG": str(config)}
    cfg = resolve(env=env)
    assert (cfg.identity, cfg.db, cfg.user_named) == (
        "database",
        "postgresql://alice@db/ircmd",
        False,
    )
    with pytest.raises(InvalidInput, match="--as refused"):
        resolve(user="bob", env=env)
    with pytest.raises(InvalidInput, match="IRCMD_USER refused"):
        resolve(env=env | {"IRCMD_USER": "bob"})
    assert load_settings(env).database.identity == "database"
    config.write_text("[database]\nidentity = 1\n")
    with pytest.raises(InvalidInput, match="identity must be a string"):
        resolve(env=env)
    config.write_text('[database]\nidentity = "people"\n')
    with pytest.raises(InvalidInput):
        load_settings(env)
    assert resolve(user="bob", env={"IRCMD_CONFIG": str(tmp_path / "none")}).identity == "client"


def test_opened_takes_the_login_and_the_standby() -> None:
    base = Config(db="postgresql://db/x", user="osuser")
    assert opened(base, db_user=None, read_only=False, on_postgres=True) is base
    got = opened(base, db_user="alice", read_only=True, on_postgres=True)
    assert (got.user, got.read_only) == ("alice", True)
    named = Config(db="postgresql://db/x", user="bob", user_named=True)
    with pytest.raises(InvalidInput, match="acting as 'bob' refused"):
        opened(named, db_user="alice", read_only=False, on_postgres=True)
    assert opened(named, db_user="bob", read_only=False, on_postgres=True).user == "bob"
    wants = Config(db=Path("x.db"), user="osuser", identity="database")
    with pytest.raises(InvalidInput, match="SQLite"):
        opened(wants, db_user=None, read_only=False, on_postgres=False)
    with pytest.raises(InvalidInput, match="pg-setup --identity database"):
        opened(wants, db_user=None, read_only=False, on_postgres=True)
    with pytest.raises(InvalidInput, match="not a name the record can keep"):
        opened(base, db_user="two  spaces", read_only=False, on_postgres=True)
