"""Property: the projections are a pure function of `events`.

Any sequence of commands, mostly valid, applied through the Store; then `events`
alone, replayed into a fresh schema by `projections.replay`, rebuilds exactly the
projection tables the Store holds. A command the Store refuses (IrcmdError) must
leave every table of the file as it was.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from conftest import pg_admin_url
from helpers import db as records
from helpers import pg
from helpers.db import Ref
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ircmd.hooks.outbox import EVENTS, ContactRoute, Route
from ircmd.ingest import Alert, AlertStatus, RoutedAlert
from ircmd.models import (
    DECLARER,
    ActionStatus,
    ActionType,
    Audience,
    IrcmdError,
    Kind,
    Level,
    Mark,
    Phase,
    Playbook,
    Role,
    Severity,
    Status,
)
from ircmd.store import Store, schema
from ircmd.store.connection import fresh_schema
from ircmd.store.projections import replay
from ircmd.store.record import EVENT_COLUMNS
from ircmd.store.rows import event_from_row
from ircmd.store.verbs.deliveries import Result

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

PLAYBOOKS = [
    Playbook(
        name="outage",
        title="Outage",
        containment=("fail over", "[/] page the DB team"),
        recovery=("fail back",),
        required_roles=(Role.SCRIBE,),
    ),
    Playbook(name="breach", title="Breach", containment=("rotate keys",), severity=Severity.SEV1),
]

people = st.sampled_from(["alice", "bob", "carol"])
# Mostly valid text (markup, escapes and odd Unicode included); "" and "  " are refused.
valid_texts = st.one_of(
    st.sampled_from(["note", "[/]", "[@click=app.quit]x", "\x1b[31mred\x1b[0m", "a\nb", "nul\x00"]),
    st.text(min_size=1, max_size=12).filter(str.strip),
)
texts = st.one_of(valid_texts, valid_texts, valid_texts, st.sampled_from(["", "  "]))
opt_text = st.one_of(st.just(""), texts)
incs = st.sampled_from([1, 1, 1, 2, 3])
backdate = st.one_of(st.none(), st.integers(1, 7200).map(lambda s: T0 - timedelta(seconds=s)))
severities = st.sampled_from(list(Severity))
levels = st.one_of(st.none(), st.sampled_from(list(Level)))
dates = st.one_of(st.none(), st.dates(date(2026, 1, 1), date(2026, 12, 31)))

commanders = st.one_of(st.none(), st.just(""), people)
declare = st.tuples(
    st.just("declare"),
    texts,
    people,
    st.one_of(st.none(), severities),
    levels,
    levels,
    backdate,
    st.one_of(st.none(), st.sampled_from(PLAYBOOKS)),
    commanders,
)
first_declare = st.tuples(
    st.just("declare"),
    valid_texts,
    people,
    st.one_of(st.none(), severities),
    levels,
    levels,
    backdate,
    st.one_of(st.none(), st.sampled_from(PLAYBOOKS)),
    commanders,
)
commands = st.one_of(
    declare,
    st.tuples(
        st.just("log"), incs, texts, people, st.sampled_from([Kind.NOTE, Kind.DECISION]), backdate
    ),
    st.tuples(st.just("amend"), incs, st.integers(1, 30), texts, people),
    st.tuples(st.just("assign"), incs, st.sampled_from(list(Role)), people, people),
    st.tuples(st.just("unassign"), incs, st.sampled_from(list(Role)), people, people),
    st.tuples(st.just("severity"), incs, severities, people, opt_text),
    st.tuples(st.just("status"), incs, st.sampled_from(list(Status)), people, opt_text, opt_text),
    st.tuples(
        st.just("add_item"),
        incs,
        texts,
        people,
        st.sampled_from(list(Phase)),
        st.one_of(st.none(), people),
    ),
    st.tuples(st.just("check"), incs, st.integers(1, 5), people, st.booleans()),
    st.tuples(
        st.just("update"), incs, st.sampled_from(list(Audience)), texts, people, st.booleans()
    ),
    st.tuples(st.just("notify"), incs, st.sampled_from(["CEO", "Legal", "ops", " "]), people),
    st.tuples(st.just("evidence"), incs, texts, people, opt_text),
    st.tuples(st.just("transfer"), incs, st.integers(1, 3), people, texts, people),
    st.tuples(st.just("evidence_amend"), incs, st.integers(1, 3), texts, people),
    st.tuples(
        st.just("review"),
        incs,
        people,
        st.dictionaries(
            st.sampled_from(["summary", "root_cause", "lessons", "went_well", "whys"]),
            texts,
            min_size=1,
            max_size=3,
        ),
    ),
    st.tuples(
        st.just("action_add"),
        incs,
        texts,
        people,
        st.one_of(st.none(), people),
        dates,
        st.sampled_from(list(ActionType)),
    ),
    st.tuples(
        st.just("action_set"),
        st.integers(1, 4),
        st.one_of(st.none(), st.sampled_from(list(ActionStatus))),
        opt_text,
        st.one_of(st.none(), people),
        dates,
        people,
    ),
    st.tuples(st.just("playbook"), incs, st.sampled_from(PLAYBOOKS), people),
    st.tuples(st.just("unnotify"), incs, st.sampled_from(["CEO", "legal", "ops"]), texts, people),
    st.tuples(st.just("skip"), incs, st.integers(1, 5), texts, people),
    st.tuples(st.just("edit_item"), incs, st.integers(1, 5), texts, people),
    st.tuples(st.just("own_item"), incs, st.integers(1, 5), st.one_of(st.none(), people), people),
    st.tuples(
        st.just("retype"), st.integers(1, 4), st.sampled_from(list(ActionType)), opt_text, people
    ),
    st.tuples(st.just("retitle"), incs, texts, people),
    st.tuples(st.just("summary"), incs, texts, people),
    st.tuples(st.just("mark"), incs, st.sampled_from(list(Mark)), backdate, texts, people),
    st.tuples(
        st.just("impact"),
        incs,
        people,
        st.one_of(st.none(), opt_text),
        st.one_of(st.none(), st.lists(people, max_size=2)),
        st.one_of(st.none(), st.integers(-1, 10**6)),
        st.one_of(st.none(), backdate),
        st.one_of(st.none(), backdate),
    ),
    st.tuples(
        st.just("alert"),
        st.sampled_from(["fp1", "fp2"]),
        st.sampled_from(list(AlertStatus)),
        st.integers(0, 3),
        st.sampled_from(["g1", "g2"]),
    ),
    st.tuples(st.just("public_title"), incs, texts, people),
    st.tuples(st.just("deliver"), st.sampled_from(["sent", "failed", "gave_up"]), st.booleans()),
    st.tuples(st.just("retry_delivery"), st.integers(1, 8), people),
    st.tuples(
        st.just("link"),
        st.integers(1, 4),
        st.sampled_from(["https://github.com/acme/web/issues/7", "http://t/1", "ftp://x/y", ""]),
        people,
    ),
)


async def apply(s: Store, cmd: tuple[Any, ...]) -> None:
    match cmd:
        case ("declare", title, actor, sev, impact, urgency, at, book, commander):
            await s.declare(
                title,
                actor=actor,
                severity=sev,
                impact=impact,
                urgency=urgency,
                at=at,
                playbook=book,
                commander=DECLARER if commander is None else commander,
            )
        case ("log", inc, text, actor, kind, at):
            await s.log(inc, text, actor=actor, kind=kind, at=at)
        case ("amend", inc, eid, text, actor):
            await s.amend(inc, eid, text, actor=actor)
        case ("assign", inc, role, person, actor):
            await s.assign(inc, role, person, actor=actor)
        case ("unassign", inc, role, person, actor):
            await s.unassign(inc, role, person, actor=actor)
        case ("severity", inc, sev, actor, reason):
            await s.set_severity(inc, sev, actor=actor, reason=reason)
        case ("status", inc, status, actor, reason, override):
            await s.set_status(inc, status, actor=actor, reason=reason, override=override)
        case ("add_item", inc, text, actor, phase, assignee):
            await s.add_item(inc, text, actor=actor, phase=phase, assignee=assignee)
        case ("check", inc, n, actor, done):
            await s.check(inc, n, actor=actor, done=done)
        case ("update", inc, audience, text, actor, final):
            await s.send_update(inc, audience, text, actor=actor, final=final)
        case ("notify", inc, who, actor):
            await s.notify(inc, who, actor=actor)
        case ("evidence", inc, text, actor, location):
            await s.add_evidence(inc, text, actor=actor, location=location)
        case ("transfer", inc, n, to, reason, actor):
            await s.transfer_evidence(inc, n, to, reason=reason, actor=actor)
        case ("evidence_amend", inc, n, text, actor):
            await s.amend_evidence(inc, n, text, actor=actor)
        case ("review", inc, actor, fields):
            given_ = {k: ([v] if k == "whys" else v) for k, v in fields.items()}
            await s.save_review(inc, actor=actor, **given_)
        case ("action_add", inc, title, actor, owner, due, type_):
            await s.add_action(inc, title, actor=actor, owner=owner, due=due, type=type_)
        case ("action_set", aid, status, note, owner, due, actor):
            await s.set_action(aid, status, actor=actor, note=note, owner=owner, due=due)
        case ("playbook", inc, book, actor):
            await s.apply_playbook(inc, book, actor=actor)
        case ("unnotify", inc, who, reason, actor):
            await s.unnotify(inc, who, reason, actor=actor)
        case ("skip", inc, n, reason, actor):
            await s.skip_item(inc, n, reason, actor=actor)
        case ("edit_item", inc, n, text, actor):
            await s.edit_item(inc, n, text, actor=actor)
        case ("own_item", inc, n, person, actor):
            await s.own_item(inc, n, person, actor=actor)
        case ("retype", aid, type_, reason, actor):
            await s.retype_action(aid, type_, actor=actor, reason=reason)
        case ("retitle", inc, title, actor):
            await s.retitle(inc, title, actor=actor)
        case ("summary", inc, text, actor):
            await s.set_summary(inc, text, actor=actor)
        case ("mark", inc, what, when, reason, actor):
            await s.mark(inc, what, when or T0, reason, actor=actor)
        case ("impact", inc, actor, customer, services, count, loss_from, loss_to):
            await s.set_impact(
                inc,
                actor=actor,
                customer_impact=customer,
                services=services,
                users_affected=count,
                data_loss_from=loss_from,
                data_loss_to=loss_to,
            )
        case ("alert", fp, status, minutes, group):
            alert = Alert(
                fingerprint=fp,
                status=status,
                title=f"alert {fp}",
                starts_at=T0 - timedelta(minutes=minutes),
            )
            routed = RoutedAlert(alert=alert, group=group, severity=Severity.SEV3)
            await s.ingest_alerts([routed], actor="alerts:am", source="am", playbooks={})
        case ("public_title", inc, text, actor):
            await s.set_public_title(inc, text, actor=actor)
        case ("deliver", outcome, again):
            # The oldest due delivery's attempt, as a deliverer records it.
            runs = (await s.claim_deliveries("prop", {"all": 5.0}, s.now())).runs
            if runs:
                first, *rest = [c for run in runs for c in run]
                retry_at = s.now() if outcome == "failed" and again else None
                result = Result(outcome, "503" if retry_at else "400", "x", retry_at=retry_at)
                await s.record_delivery(first.id, result, actor="deliverer", owner="prop")
                await s.release_deliveries("prop", [c.id for c in rest])
        case ("retry_delivery", n, actor):
            await s.retry_delivery(n, actor=actor)
        case ("link", aid, url, actor):
            await s.link_action(aid, url, actor=actor)
        case _:
            raise AssertionError(f"unknown command {cmd!r}")


def snapshot(db: Ref) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows (sorted: PostgreSQL promises no order)."""
    found: dict[str, list[tuple[Any, ...]]] = {t: [] for t in records.tables(db)}
    for table, *row in records.dump(db):
        found.setdefault(str(table), []).append(tuple(row))
    return found


def projections_from_events_alone(db: Ref) -> dict[str, list[tuple[Any, ...]]]:
    events = [
        event_from_row(r)
        for r in records.rows(db, f"SELECT {EVENT_COLUMNS} FROM events ORDER BY id")
    ]
    fresh = fresh_schema()
    try:
        replay(fresh, events)
        return {
            t: sorted(fresh.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
            for t in schema.PROJECTION_TABLES
        }
    finally:
        fresh.close()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1500)
        return self.now


async def run_sequence(db: Ref, cmds: list[tuple[Any, ...]]) -> tuple[int, list[str]]:
    ok, refused = 0, []
    store = await Store.open(db, clock=Clock())
    try:
        await store.set_routes(
            [Route("all", "webhook", tuple(EVENTS))], [ContactRoute("CEO", "all")]
        )
        for cmd in cmds:
            before = snapshot(db)
            try:
                await apply(store, cmd)
                ok += 1
            except IrcmdError as e:
                refused.append(f"{cmd[0]}: {e}")
                assert snapshot(db) == before, f"refused {cmd[0]} changed the database"
        result = await store.verify()
        assert result.ok, result.message
    finally:
        await store.close()
    return ok, refused


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=first_declare, rest=st.lists(commands, min_size=3, max_size=30))
def test_replay_of_events_rebuilds_every_projection(
    first: tuple[Any, ...], rest: list[tuple[Any, ...]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "prop.db"
        asyncio.run(run_sequence(db, [first, *rest]))
        assert_replay_matches(db)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=first_declare, rest=st.lists(commands, min_size=3, max_size=30))
def test_replay_of_events_rebuilds_every_projection_on_postgresql(
    first: tuple[Any, ...], rest: list[tuple[Any, ...]]
) -> None:
    """The same on PostgreSQL (fewer examples: each is a new database), replayed
    into SQLite as `verify` replays: the two engines' projections agree."""
    admin = pg_admin_url()
    url = pg.fresh_database(admin)
    try:
        asyncio.run(run_sequence(url, [first, *rest]))
        assert_replay_matches(url)
    finally:
        pg.drop_database(admin, url)


def assert_replay_matches(db: Ref) -> None:
    held = snapshot(db)
    rebuilt = projections_from_events_alone(db)
    for table in schema.PROJECTION_TABLES:
        assert sorted(held[table], key=repr) == rebuilt[table], f"table {table} differs"


def test_replay_of_a_sequence_using_every_kind(db_ref: Ref) -> None:
    """A fixed, valid run through every verb: the comparison is not vacuous."""
    a, b, c = "alice", "bob", "carol"
    due = date(2026, 4, 1)
    cmds: list[tuple[Any, ...]] = [
        ("declare", "[/] DB down", a, Severity.SEV1, None, None, None, PLAYBOOKS[0], ""),
        ("declare", "second", b, None, Level.HIGH, Level.LOW, T0 - timedelta(hours=2), None, None),
        ("log", 1, "\x1b[31mred", a, Kind.NOTE, None),
        ("log", 1, "we fail over", a, Kind.DECISION, T0 - timedelta(minutes=5)),
        ("amend", 1, 4, "[@click=app.quit]x", b),
        ("assign", 1, Role.COMMANDER, a, a),
        ("assign", 1, Role.RESPONDER, b, a),
        ("assign", 1, Role.RESPONDER, c, a),
        ("assign", 1, Role.COMMANDER, c, a),
        ("unassign", 1, Role.RESPONDER, b, c),
        ("severity", 1, Severity.SEV2, c, "less bad"),
        ("add_item", 1, "block IPs", b, Phase.CONTAINMENT, b),
        ("check", 1, 1, b, True),
        ("check", 1, 4, c, True),
        ("check", 1, 4, a, True),
        ("check", 1, 1, b, False),
        ("playbook", 1, PLAYBOOKS[1], c),
        ("update", 1, Audience.INTERNAL, "status: degraded", c, False),
        ("notify", 1, "CEO", c),
        ("notify", 1, "CEO", a),
        ("notify", 1, "legal", c),
        ("unnotify", 1, "Legal", "wrong list", c),
        ("retitle", 1, "DB down in EU", a),
        ("summary", 1, "writes fail", a),
        ("mark", 1, Mark.IMPACT, T0 - timedelta(minutes=30), "the 11:30 deploy", b),
        ("mark", 1, Mark.DETECTED, T0 - timedelta(minutes=20), "first alert", b),
        ("impact", 1, a, "EU writes fail", [b], 1200, T0 - timedelta(hours=1), T0),
        ("edit_item", 1, 4, "block the IPs", b),
        ("own_item", 1, 4, c, a),
        ("skip", 1, 2, "the DB team was already on", b),
        ("evidence", 1, "auth.log", b, "/var/log"),
        ("transfer", 1, 1, a, "analysis", b),
        ("evidence_amend", 1, 1, "also syslog", a),
        ("status", 1, Status.CONTAINED, c, "", ""),
        ("status", 1, Status.RESOLVED, c, "", ""),
        ("status", 1, Status.RECOVERING, c, "flapping", ""),
        ("status", 1, Status.RESOLVED, c, "", ""),
        ("update", 1, Audience.EXTERNAL, "all clear", c, True),
        ("review", 1, a, {"summary": "s", "root_cause": "r", "whys": "why 1"}),
        ("review", 1, b, {"lessons": "l"}),
        ("action_add", 1, "add alerting", a, b, due, ActionType.PREVENTIVE),
        ("action_add", 1, "fix pool", a, None, None, ActionType.CORRECTIVE),
        ("action_set", 2, None, "", c, due, a),
        ("action_set", 1, ActionStatus.DONE, "", None, None, b),
        ("action_set", 1, ActionStatus.VERIFIED, "alert fired in drill", None, None, b),
        ("action_set", 2, ActionStatus.WONT_DO, "superseded", None, None, a),
        ("retype", 2, ActionType.PREVENTIVE, "it prevents", a),
        ("link", 1, "https://github.com/acme/db/issues/12", a),
        ("link", 1, "https://github.com/acme/db/issues/13", b),  # after it was verified
        # Closure needs every step done or skipped (2 is).
        *[("check", 1, n, b, True) for n in (1, 3, 5)],
        ("status", 1, Status.CLOSED, c, "", ""),
        ("log", 1, "postmortem published", a, Kind.NOTE, None),
        ("status", 2, Status.CLOSED, b, "", "postmortem waived"),
        ("status", 2, Status.TRIAGED, b, "more found", ""),
        ("alert", "fp1", AlertStatus.FIRING, 2, "g1"),  # opens INC-3
        ("alert", "fp1", AlertStatus.RESOLVED, 2, "g1"),
        ("assign", 3, Role.COMMANDER, a, a),  # triaged
        ("public_title", 3, "Slow checkout", a),
        ("deliver", "sent", False),
        ("deliver", "failed", False),
        ("retry_delivery", 2, b),
        ("deliver", "failed", True),
    ]
    db = db_ref
    ok, refused = asyncio.run(run_sequence(db, cmds))
    assert refused == []
    assert ok == len(cmds)
    kinds = {r[0] for r in records.rows(db, "SELECT DISTINCT kind FROM events")}
    counts = {t: records.scalar(db, f"SELECT count(*) FROM {t}") for t in schema.PROJECTION_TABLES}
    assert kinds == {k.value for k in Kind}
    assert all(counts.values()), counts  # every projection table has rows
    assert_replay_matches(db)
