"""`verify`'s schema check on PostgreSQL: the tables, columns, triggers and trigger
functions must be exactly what ircmd creates, and nothing may rewrite reads.

On SQLite every object's SQL text is compared (`verify._compare_schema`). Here the
catalogs say the same things in parts: a planted trigger, rule or view (which can
make a read lie without touching a stored row), a dropped append-only trigger, an
edited trigger function, a table or a column added or removed.
"""

from __future__ import annotations

import re
from contextlib import closing

from .connection import fresh_schema
from .postgres import ddl
from .reader import Reader


def _expected_columns() -> dict[str, list[str]]:
    with closing(fresh_schema()) as scratch:
        tables = [
            r[0] for r in scratch.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        cols = {t: [c[1] for c in scratch.execute(f"PRAGMA table_info({t})")] for t in tables}
    cols["ircmd_meta"] = ["key", "value"]
    return cols


def _expected_functions() -> dict[str, str]:
    found = {}
    for stmt in ddl():
        m = re.match(r"CREATE FUNCTION (\w+)\(\).*?\$\$(.*)\$\$", stmt, re.S)
        if m:
            found[m.group(1)] = m.group(2)
    return found


_TRIGGERS = {
    ("events", "events_append_only"): "ircmd_events_append_only",
    ("events", "events_notify"): "ircmd_events_notify",
    ("events", "events_identity"): "ircmd_events_identity",
    ("deliveries", "deliveries_id"): "ircmd_deliveries_id",
}


def compare_schema(r: Reader) -> str | None:
    """Name the first object that is not ircmd's schema as ircmd creates it."""
    for (name,) in r.rows(
        "SELECT viewname FROM pg_views WHERE schemaname = current_schema() ORDER BY 1"
    ):
        return f"view {name} is not part of ircmd's schema (added outside ircmd)"
    for table, name in r.rows(
        "SELECT tablename, rulename FROM pg_rules WHERE schemaname = current_schema() ORDER BY 1, 2"
    ):
        return f"rule {name} on {table} is not part of ircmd's schema (added outside ircmd)"
    triggers = {
        (str(t), str(n)): str(f)
        for t, n, f in r.rows(
            "SELECT c.relname, t.tgname, p.proname FROM pg_trigger t"
            " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid"
            " WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"
        )
    }
    for key in sorted(triggers.keys() - _TRIGGERS.keys()):
        return f"trigger {key[1]} on {key[0]} is not part of ircmd's schema (added outside ircmd)"
    for key in sorted(_TRIGGERS.keys() - triggers.keys()):
        return f"trigger {key[1]} is missing from the schema (dropped outside ircmd)"
    for key, fn in sorted(triggers.items()):
        if fn != _TRIGGERS[key]:
            return f"trigger {key[1]} differs from ircmd's schema (altered outside ircmd)"
    disabled = r.rows(
        "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " WHERE NOT t.tgisinternal AND t.tgenabled = 'D'"
        " AND c.relnamespace = current_schema()::regnamespace ORDER BY 1"
    )
    for (name,) in disabled:
        return f"trigger {name} is disabled (altered outside ircmd)"
    sources = {
        str(n): str(s)
        for n, s in r.rows(
            "SELECT proname, prosrc FROM pg_proc WHERE pronamespace = current_schema()::regnamespace"
        )
    }
    for name, body in sorted(_expected_functions().items()):
        if sources.get(name) != body:
            return f"function {name} differs from ircmd's schema (altered outside ircmd)"
    have: dict[str, list[str]] = {}
    for table, column in r.rows(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    ):
        have.setdefault(str(table), []).append(str(column))
    want = _expected_columns()
    for table in sorted(have.keys() - want.keys()):
        return f"table {table} is not part of ircmd's schema (added outside ircmd)"
    for table in sorted(want.keys() - have.keys()):
        return f"table {table} is missing from the schema (dropped outside ircmd)"
    for table in sorted(want):
        if want[table] != have[table]:
            return f"table {table} differs from ircmd's schema (altered outside ircmd)"
    return None
