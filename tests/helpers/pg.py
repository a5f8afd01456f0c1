"""The PostgreSQL server for the tests (`bench._pg`: Debian's package in a private
directory, 127.0.0.1 on a free port) and a database of each test's own.

`.ci/run` starts one with `python -m bench._pg start DIR` and exports its URL as
IRCMD_TEST_PG; when that is not set, the test session starts its own
(conftest.pytest_configure) and stops it at the end. Each test that asks for the
PostgreSQL backend gets a database of its own (`fresh_database`), dropped after.
"""

from __future__ import annotations

import uuid

from bench._pg import as_owner, bindir, restart, standby, start, stop

__all__ = [
    "as_owner",
    "bindir",
    "drop_database",
    "fresh_database",
    "restart",
    "standby",
    "start",
    "stop",
    "with_database",
]

ENV = "IRCMD_TEST_PG"
# Set instead of ENV when no server could be started here: why not.
MISSING = "IRCMD_TEST_PG_MISSING"


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead."""
    head, _, _ = url.rpartition("/")
    return f"{head}/{name}"


def fresh_database(admin_url: str) -> str:
    """A new empty database on the server; its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return with_database(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    import psycopg

    name = url.rpartition("/")[2]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
