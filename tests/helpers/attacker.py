"""What someone who can write the database file does to it, with the tools they would use.

The `sqlite3` shell runs the SQL when it is installed (python's sqlite3 module
otherwise: the same library, the same effect). Recomputing hashes needs a
sha256, so that part is Python, using ircmd's own public encoding: the attacker
has the source. Each helper leaves the schema as ircmd made it (the append-only
triggers dropped for the edit and put back after, projections rebuilt), so only
the anchor can tell.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from ircmd.store.projections import replay
from ircmd.store.record import EVENT_COLUMNS, GENESIS, event_hash
from ircmd.store.rows import event_from_row
from ircmd.store.schema import PROJECTION_TABLES

SQLITE3 = shutil.which("sqlite3")


def sql(db: Path, script: str) -> None:
    """Run SQL on the file as the attacker would: the sqlite3 shell if installed."""
    if SQLITE3:
        r = subprocess.run(
            [SQLITE3, "-bail", str(db)], input=script, capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 0 and not r.stderr, r.stderr
        return
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.executescript(script)
    finally:
        conn.close()


def triggers(db: Path) -> list[tuple[str, str]]:
    """(name, sql) of every trigger: what `.schema` shows the attacker."""
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))


def drop_triggers(db: Path) -> list[tuple[str, str]]:
    saved = triggers(db)
    sql(db, "".join(f"DROP TRIGGER {name};\n" for name, _ in saved))
    return saved


def restore_triggers(db: Path, saved: list[tuple[str, str]]) -> None:
    sql(db, "".join(f"{text};\n" for _, text in saved))


def rehash(db: Path, first_id: int = 1) -> None:
    """Relink and rehash the chain from `first_id` on, ids as they now are, and
    rebuild every projection from the events: the chain and the tables agree again.
    The append-only triggers must be gone."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("BEGIN")
        prev = GENESIS
        for row in conn.execute(f"SELECT {EVENT_COLUMNS} FROM events ORDER BY id").fetchall():
            if row[0] >= first_id:
                digest = event_hash(prev, *row[:8])
                conn.execute(
                    "UPDATE events SET prev_hash = ?, hash = ? WHERE id = ?",
                    (prev, digest, row[0]),
                )
                prev = digest
            else:
                prev = row[9]
        for table in PROJECTION_TABLES:
            conn.execute(f"DELETE FROM {table}")
        rows = conn.execute(f"SELECT {EVENT_COLUMNS} FROM events ORDER BY id").fetchall()
        replay(conn, [event_from_row(r) for r in rows])
        conn.execute("COMMIT")
    finally:
        conn.close()


def rewrite(db: Path, event_id: int, column: str, value: str) -> None:
    """Change one stored event and make everything after it consistent again."""
    saved = drop_triggers(db)
    sql(db, f"UPDATE events SET {column} = '{value}' WHERE id = {event_id};")
    rehash(db, event_id)
    restore_triggers(db, saved)


def cut_tail(db: Path, keep: int) -> None:
    """Delete every event after #`keep`; the chain left is intact, nothing re-hashed
    (only the projections are rebuilt, or they would give the cut away)."""
    saved = drop_triggers(db)
    sql(db, f"DELETE FROM events WHERE id > {keep};")
    rehash(db, keep + 1)
    restore_triggers(db, saved)


def remove_files(db: Path) -> None:
    """The database and its -wal and -shm, as `rm` would."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
