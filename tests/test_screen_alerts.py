"""Alerts on the screen: the board marks an incident that alerts opened until a person
triages it, alert events stand out in the timeline, and a running `ircmd serve`
shows on the presence line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from helpers.screen import NOW, frozen, ready, running, until

from ircmd.ingest import Alert, AlertStatus, RoutedAlert
from ircmd.models import Kind, Role, Severity, Status
from ircmd.store import Store
from ircmd.widgets.board import UNTRIAGED, Board
from ircmd.widgets.header import SERVING, IncidentHeader
from ircmd.widgets.timeline import Timeline


def firing(fp: str) -> RoutedAlert:
    alert = Alert(
        fingerprint=fp,
        status=AlertStatus.FIRING,
        title="5xx rate high",
        labels={"alertname": "HighErrorRate"},
        starts_at=NOW - timedelta(minutes=3),
    )
    return RoutedAlert(alert=alert, group='{"alertname":"HighErrorRate"}', severity=Severity.SEV2)


async def ingest(db: Path, *alerts: RoutedAlert) -> None:
    async with await Store.open(db, clock=frozen) as store:
        await store.ingest_alerts(list(alerts), actor="alerts:am", source="am", playbooks={})


def board_line(board: Board, n: int) -> str:
    return str(board.get_option(str(n)).prompt)


async def test_the_board_marks_an_alert_incident_until_a_person_triages_it(tmp_path: Path) -> None:
    db = tmp_path / "ircmd.db"
    await ingest(db, firing("a"))
    async with running(db, open_incident=1) as pilot:
        screen = await ready(pilot)
        board = screen.query_one(Board)
        await until(pilot, lambda: board.option_count == 1)
        assert UNTRIAGED in board_line(board, 1)
        timeline = screen.query_one(Timeline)
        await until(pilot, lambda: any(r.kind == Kind.ALERT.value for r in timeline.rows))
        alert_row = next(r for r in timeline.rows if r.kind == Kind.ALERT.value)
        assert alert_row.text.startswith("ALERT firing from am: 5xx rate high")
        # Another alert of the group keeps the mark; a person's assignment clears it.
        await ingest(db, firing("b"))
        await until(pilot, lambda: sum(r.kind == Kind.ALERT.value for r in timeline.rows) == 2)
        assert UNTRIAGED in board_line(board, 1)
        async with await Store.open(db, clock=frozen) as store:
            await store.assign(1, Role.COMMANDER, "bob", actor="bob")
        await until(pilot, lambda: UNTRIAGED not in board_line(board, 1))


async def test_a_status_change_also_triages_and_serve_shows_on_the_presence_line(
    tmp_path: Path,
) -> None:
    db = tmp_path / "ircmd.db"
    await ingest(db, firing("a"))
    async with await Store.open(db, clock=frozen) as store:
        await store.heartbeat("serve-test", None, "serve", "ir-host")
    async with running(db, open_incident=1) as pilot:
        screen = await ready(pilot)
        header = screen.query_one(IncidentHeader)
        await until(pilot, lambda: header.serving)
        assert SERVING[0] in header.build(NOW).plain
        assert "watching" not in header.build(NOW).plain  # serve is not a person watching
        board = screen.query_one(Board)
        async with await Store.open(db, clock=frozen) as store:
            await store.set_status(1, Status.TRIAGED, actor="carol")
        await until(pilot, lambda: UNTRIAGED not in board_line(board, 1))
