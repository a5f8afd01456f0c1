"""DDL and migrations, versioned by PRAGMA user_version.

`events` is the record; every other table except `presence` and the outbox's
(`hook_routes`, `contact_routes`, `deliveries`) is a projection that
`projections.statements` derives from events alone.
"""

from __future__ import annotations

SCHEMA_VERSION = 5

# Tables rebuilt from events by a replay; `verify` compares them with a fresh replay.
PROJECTION_TABLES = (
    "incidents",
    "roles",
    "checklist",
    "playbooks_applied",
    "updates",
    "notifications",
    "evidence",
    "custody",
    "evidence_amendments",
    "review",
    "impact",
    "actions",
    "alert_incidents",
    "alerts",
    "public_titles",
)

_V1 = """
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER,
    occurred_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    text        TEXT NOT NULL DEFAULT '',
    data        TEXT NOT NULL DEFAULT '{}',
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX events_by_incident ON events (incident_id, id);
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

CREATE TABLE incidents (
    id            INTEGER PRIMARY KEY,
    title         TEXT NOT NULL,
    severity      TEXT NOT NULL,
    status        TEXT NOT NULL,
    type          TEXT NOT NULL DEFAULT '',
    impact        TEXT,
    urgency       TEXT,
    summary       TEXT NOT NULL DEFAULT '',
    declared_at   TEXT NOT NULL,
    declared_by   TEXT NOT NULL,
    detected_at   TEXT,
    started_at    TEXT,
    resolved_at   TEXT,
    updated_at    TEXT NOT NULL,
    last_event_id INTEGER NOT NULL
);
CREATE TABLE roles (
    incident_id INTEGER NOT NULL,
    role        TEXT NOT NULL,
    person      TEXT NOT NULL,
    assigned_at TEXT NOT NULL,
    PRIMARY KEY (incident_id, role, person)
);
CREATE TABLE checklist (
    incident_id INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    phase       TEXT NOT NULL,
    text        TEXT NOT NULL,
    done        INTEGER NOT NULL DEFAULT 0,
    done_by     TEXT,
    done_at     TEXT,
    assignee    TEXT,
    added_by    TEXT NOT NULL,
    added_at    TEXT NOT NULL,
    PRIMARY KEY (incident_id, n)
);
CREATE TABLE playbooks_applied (
    incident_id    INTEGER NOT NULL,
    name           TEXT NOT NULL,
    required_roles TEXT NOT NULL DEFAULT '[]',
    applied_at     TEXT NOT NULL,
    PRIMARY KEY (incident_id, name)
);
CREATE TABLE updates (
    event_id    INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL,
    audience    TEXT NOT NULL,
    channel     TEXT NOT NULL DEFAULT '',
    text        TEXT NOT NULL,
    sent_at     TEXT NOT NULL,
    sent_by     TEXT NOT NULL,
    final       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX updates_by_incident ON updates (incident_id, sent_at);
CREATE TABLE notifications (
    incident_id INTEGER NOT NULL,
    who         TEXT NOT NULL,
    notified_at TEXT NOT NULL,
    notified_by TEXT NOT NULL,
    PRIMARY KEY (incident_id, who)
);
CREATE TABLE evidence (
    incident_id  INTEGER NOT NULL,
    n            INTEGER NOT NULL,
    description  TEXT NOT NULL,
    location     TEXT NOT NULL DEFAULT '',
    sha256       TEXT,
    filename     TEXT,
    collected_by TEXT NOT NULL,
    collected_at TEXT NOT NULL,
    custodian    TEXT NOT NULL,
    PRIMARY KEY (incident_id, n)
);
CREATE TABLE custody (
    event_id    INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    from_person TEXT NOT NULL,
    to_person   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    at          TEXT NOT NULL,
    by          TEXT NOT NULL
);
CREATE TABLE evidence_amendments (
    event_id    INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    text        TEXT NOT NULL
);
CREATE TABLE review (
    incident_id          INTEGER PRIMARY KEY,
    summary              TEXT NOT NULL DEFAULT '',
    root_cause           TEXT NOT NULL DEFAULT '',
    contributing_factors TEXT NOT NULL DEFAULT '',
    whys                 TEXT NOT NULL DEFAULT '[]',
    went_well            TEXT NOT NULL DEFAULT '',
    went_poorly          TEXT NOT NULL DEFAULT '',
    lessons              TEXT NOT NULL DEFAULT '',
    updated_at           TEXT,
    updated_by           TEXT
);
CREATE TABLE actions (
    id               INTEGER PRIMARY KEY,
    incident_id      INTEGER NOT NULL,
    title            TEXT NOT NULL,
    type             TEXT NOT NULL,
    owner            TEXT,
    due              TEXT,
    review_date      TEXT,
    status           TEXT NOT NULL,
    reason           TEXT NOT NULL DEFAULT '',
    verification     TEXT NOT NULL DEFAULT '',
    closure_evidence TEXT NOT NULL DEFAULT '',
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX actions_by_incident ON actions (incident_id);

-- Session state, not record: outside the hash chain and never replayed.
CREATE TABLE presence (
    session     TEXT PRIMARY KEY,
    incident_id INTEGER,
    person      TEXT NOT NULL,
    host        TEXT NOT NULL,
    seen_at     TEXT NOT NULL
);
"""

# Version 1 let a repeated check overwrite who checked a step first; the
# projection now keeps the first checker, so rows already overwritten are set
# back to the first `check` since the step was last unchecked. `verify` replays
# with the new projection and would otherwise call such rows edited.
_V2 = """
UPDATE checklist SET (done_by, done_at) = (
    SELECT e.actor, e.occurred_at FROM events e
    WHERE e.incident_id = checklist.incident_id AND e.kind = 'check'
      AND json_extract(e.data, '$.n') = checklist.n
      AND e.id > (
          SELECT coalesce(max(u.id), 0) FROM events u
          WHERE u.incident_id = checklist.incident_id AND u.kind = 'uncheck'
            AND json_extract(u.data, '$.n') = checklist.n
      )
    ORDER BY e.id LIMIT 1
)
WHERE done = 1;
"""

# Version 3: a checklist step may be skipped (marked not applicable, with the
# reason), and an incident's impact is recorded field by field. Nothing to set
# right in older rows: no event before version 3 skips a step or sets impact.
_V3 = """
ALTER TABLE checklist ADD COLUMN skipped_by TEXT;
ALTER TABLE checklist ADD COLUMN skipped_at TEXT;
ALTER TABLE checklist ADD COLUMN skip_reason TEXT;
CREATE TABLE impact (
    incident_id      INTEGER PRIMARY KEY,
    customer_impact  TEXT NOT NULL DEFAULT '',
    services         TEXT NOT NULL DEFAULT '[]',
    users_affected   INTEGER,
    records_affected INTEGER,
    data_loss_from   TEXT,
    data_loss_to     TEXT,
    updated_at       TEXT NOT NULL,
    updated_by       TEXT NOT NULL
);
"""

# Version 4: alerts (`ircmd serve`, `ircmd ingest`) and the status page's public title.
# `alert_incidents`: the incidents alerts opened and the group each stands for.
# `alerts`: the newest recorded state of each fingerprint in each group, what a
# re-sent or late alert is compared with (`ingest.verdict`).
_V4 = """
CREATE TABLE alert_incidents (
    incident_id INTEGER PRIMARY KEY,
    group_key   TEXT NOT NULL,
    source      TEXT NOT NULL
);
CREATE INDEX alert_incidents_by_group ON alert_incidents (group_key);
CREATE TABLE alerts (
    group_key   TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    incident_id INTEGER NOT NULL,
    status      TEXT NOT NULL,
    starts_at   TEXT,
    event_id    INTEGER NOT NULL,
    PRIMARY KEY (group_key, fingerprint)
);
CREATE TABLE public_titles (
    incident_id INTEGER PRIMARY KEY,
    title       TEXT NOT NULL
);
"""

# Version 5: the outbox (`hooks.outbox`). Not record and not projections: the routing
# is configuration the running deliverer writes from its config.toml (names and
# filters only, never a URL, token or password), and a delivery row is the queue
# entry a hooked event adds in its own transaction; each outcome is also an event.
# Times are `record.ts` text, whose order is time order.
_V5 = """
CREATE TABLE hook_routes (
    name          TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    events        TEXT NOT NULL,
    audience      TEXT,
    min_severity  TEXT,
    incident_type TEXT
);
CREATE TABLE contact_routes (
    contact_key TEXT PRIMARY KEY,
    contact     TEXT NOT NULL,
    hook        TEXT NOT NULL,
    address     TEXT
);
CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY,
    event_id    INTEGER NOT NULL,
    incident_id INTEGER,
    hook        TEXT NOT NULL,
    address     TEXT,
    state       TEXT NOT NULL DEFAULT 'queued',
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     TEXT NOT NULL,
    lease_owner TEXT,
    lease_until TEXT,
    queued_at   TEXT NOT NULL,
    last_status TEXT NOT NULL DEFAULT '',
    last_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX deliveries_pending ON deliveries (state, id);
CREATE INDEX deliveries_by_incident ON deliveries (incident_id, id);
-- An action may link to where it is tracked outside ircmd (`action link`); no older
-- event links one.
ALTER TABLE actions ADD COLUMN link TEXT;
"""

# MIGRATIONS[n] brings a database from user_version n to n + 1.
MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5)

assert len(MIGRATIONS) == SCHEMA_VERSION
