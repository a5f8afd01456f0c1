"""Live updates from another writer, presence, read-only mode and closing the Store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from helpers.screen import (
    NOW,
    declared,
    fast_path_only,
    frozen,
    ready,
    running,
    seeded,
    submit,
    until,
)

from ircmd.models import Event, Kind, Severity, Status, StorageError
from ircmd.store import Store


async def test_other_writers_appear_incrementally(db_ref: Path | str) -> None:
    db = await seeded(db_ref)
    async with running(db, open_incident=1, poll_interval=fast_path_only(db)) as pilot:
        screen = await ready(pilot)
        tl = screen.timeline
        rows_before = list(tl.rows)
        screen.bar.value = "half-typed /sev"
        screen.bar.cursor_position = 4
        async with await Store.open(db, clock=frozen) as other:
            await other.log(1, "from another terminal", actor="carol")
            await other.check(1, 5, actor="dave")
            await other.declare("New one", actor="erin", severity=Severity.SEV4)
        await until(pilot, lambda: tl.rows[-1].kind == Kind.CHECK.value)
        assert tl.rows[: len(rows_before)] == rows_before, "appended, not rebuilt"
        assert "from another terminal" in tl.line_text(tl.total_lines - 2)
        await until(pilot, lambda: 4 in screen.board.incidents)
        # The rows are drawn before the state is re-read (latency), so wait for it too.
        await until(
            pilot,
            lambda: (
                screen.state is not None
                and next(i for i in screen.state.checklist if i.n == 5).done
            ),
        )
        assert "4/10" in str(screen.query_one("#checklist").border_title)
        assert screen.bar.value == "half-typed /sev" and screen.bar.cursor_position == 4


async def test_scrolled_back_timeline_keeps_its_place(tmp_path: Path) -> None:
    db = await declared(tmp_path)
    async with await Store.open(db, clock=frozen) as store:
        for i in range(60):
            await store.log(1, f"entry {i}", actor="bob")
    async with running(db, poll_interval=0.05, size=(80, 24)) as pilot:
        screen = await ready(pilot)
        tl = screen.timeline
        await until(pilot, lambda: tl.total_lines >= 61)
        assert tl.following and tl.scroll_y == tl.max_scroll_y
        tl.focus()
        await pilot.press("pageup", "pageup")
        assert not tl.following
        top = tl.scroll_y
        async with await Store.open(db, clock=frozen) as other:
            await other.log(1, "while you were reading", actor="carol")
        await until(pilot, lambda: "while you were reading" in tl.line_text(tl.total_lines - 1))
        await pilot.pause()
        assert tl.scroll_y == top, "a reader scrolled back is not yanked to the bottom"
        await pilot.press("end")
        await pilot.pause()
        assert tl.following
        async with await Store.open(db, clock=frozen) as other:
            await other.log(1, "followed again", actor="carol")
        await until(pilot, lambda: "followed again" in tl.line_text(tl.total_lines - 1))
        await pilot.pause()
        assert tl.scroll_y == tl.max_scroll_y


async def test_history_loads_behind_the_tail(tmp_path: Path) -> None:
    from ircmd.screens import command

    db = await declared(tmp_path)
    async with await Store.open(db, clock=frozen) as store:
        for i in range(30):
            await store.log(1, f"entry {i}", actor="bob")
    old_tail, command.TAIL = command.TAIL, 10
    try:
        async with running(db, size=(80, 24)) as pilot:
            screen = await ready(pilot)
            await until(pilot, lambda: len(screen.timeline.rows) == 31)
            assert [r.id for r in screen.timeline.rows] == list(range(1, 32))
    finally:
        command.TAIL = old_tail


async def test_history_read_while_the_screen_is_taken_down_is_dropped(tmp_path: Path) -> None:
    """Ctrl+Q while an incident's history is still being read: the reader wakes on a
    screen whose widgets are gone, and must end quietly (CI met it as a crash)."""
    from textual.worker import WorkerState

    db = await declared(tmp_path)
    async with running(db, size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await screen.timeline.remove()  # as the app's teardown removes it
        worker = screen._load_history(1, 2)
        await worker.wait()
        assert worker.state is WorkerState.SUCCESS
        assert pilot.app.is_running and pilot.app.return_code is None


async def test_a_dialogs_write_finishing_after_the_screen_is_taken_down_stands(
    tmp_path: Path,
) -> None:
    """A dialog's answer (declare, assign, re-open) is written and then shown; a quit
    meanwhile takes the widgets down. The write must stand and the worker end quietly."""
    from ircmd import entry
    from ircmd.screens.modals import DeclareRequest

    db = await seeded(tmp_path)
    async with running(db, size=(80, 24), open_incident=1) as pilot:
        screen = await ready(pilot)
        await screen.timeline.remove()  # as the app's teardown removes it
        await screen._after_dialog(entry.Open(2))
        await screen._declare(DeclareRequest("Late declaration", Severity.SEV3))
        assert pilot.app.is_running and pilot.app.return_code is None
    async with await Store.open(db, read_only=True) as store:
        assert "Late declaration" in [i.title for i in await store.list_incidents()]


async def test_read_only_refuses_every_write(tmp_path: Path) -> None:
    db = await seeded(tmp_path)
    async with running(db, read_only=True, open_incident=1) as pilot:
        screen = await ready(pilot)
        assert "read-only" in screen.bar.placeholder
        assert screen.bar.border_title == "READ-ONLY"
        for line in ("a note", "/sev 2", "/check 5", "/status triaged", "/declare SEV1 x"):
            screen.say("")
            await submit(pilot, line)
            assert "read-only" in str(screen.query_one("#message").render())
            assert screen.bar.value == line
            screen.bar.value = ""
    async with await Store.open(db, clock=frozen) as store:
        st = await store.state(1)
        assert st.incident.status is Status.CONTAINED and st.incident.severity is Severity.SEV1
        assert len(await store.list_incidents()) == 3


async def test_presence_shows_watchers_and_leaves(db_ref: Path | str) -> None:
    db = await seeded(db_ref)
    async with await Store.open(db, clock=frozen) as other:
        await other.heartbeat("carol-session", 1, "carol", "laptop")
        async with running(db, open_incident=1, size=(120, 30)) as pilot:
            screen = await ready(pilot)
            header = screen.query_one("#header")
            await until(pilot, lambda: "carol (scribe)" in str(header.render()))
            mine = [p for p in await other.watchers(timedelta(minutes=1)) if p.person == "alice"]
            assert mine and mine[0].incident_id == 1
        gone = [p for p in await other.watchers(timedelta(minutes=1)) if p.person == "alice"]
        assert not gone, "the session left on exit"


async def test_store_is_closed_on_exit(tmp_path: Path) -> None:
    db = await declared(tmp_path)
    async with running(db, size=(80, 24)) as pilot:
        app = pilot.app
        await ready(pilot)
        store = app.session.store
    assert app.session is None
    assert not store._backend.db._running  # the aiosqlite thread has finished


async def test_header_counts_down_to_the_next_update(tmp_path: Path) -> None:
    db = await seeded(tmp_path)  # SEV1, last update 21 minutes before NOW
    now = [NOW]
    async with running(db, open_incident=1, clock=lambda: now[0]) as pilot:
        screen = await ready(pilot)
        header = str(screen.query_one("#header").render())
        assert "declared 47m  next update 9m" in header
        now[0] = NOW + timedelta(minutes=15)
        await until(pilot, lambda: "UPDATE OVERDUE 6m" in str(screen.query_one("#header").render()))


def test_header_says_reconnecting_before_any_other_warning_and_clears() -> None:
    from ircmd.widgets.header import RECONNECTING, IncidentHeader

    header = IncidentHeader(frozen)
    header.redraw = lambda: None  # type: ignore[method-assign]  # not mounted: no repaint
    assert "WARNING" not in header.build(NOW).plain
    header.show_reconnecting(True)
    assert header.build(NOW).plain.splitlines()[-1] == f"WARNING: {RECONNECTING}"
    assert header.has_class("-warning")
    header.warn("the record does not match its newest anchor")
    last = header.build(NOW).plain.splitlines()[-1]
    assert last == f"WARNING: {RECONNECTING}; the record does not match its newest anchor"
    header.show_reconnecting(False)
    last = header.build(NOW).plain.splitlines()[-1]
    assert last == "WARNING: the record does not match its newest anchor"
    assert header.has_class("-warning"), "the other warning stays"
    header.warn(None)
    assert "WARNING" not in header.build(NOW).plain and not header.has_class("-warning")


def test_header_durations_tick_by_the_minute() -> None:
    from ircmd.widgets.header import coarse

    assert coarse(47 * 60 + 12) == "47m"
    assert coarse(30) == "0m"
    assert coarse(95, exact_below=120) == "1m 35s", "the last two minutes count seconds"
    assert coarse(3 * 3600 + 5 * 60) == "3h 05m"


async def test_a_failed_read_pauses_live_updates_and_they_resume(tmp_path: Path) -> None:
    db = await declared(tmp_path)
    async with running(db, poll_interval=0.05) as pilot:
        app = pilot.app
        screen = await ready(pilot)
        store = app.session.store
        real = store.events_since
        failures = [3]

        async def flaky(after_id: int) -> list[Event]:
            if failures[0]:
                failures[0] -= 1
                raise StorageError(f"{db} is locked by another writer for more than 5 s")
            return await real(after_id)

        store.events_since = flaky  # type: ignore[method-assign]
        async with await Store.open(db, clock=frozen) as other:
            await other.log(1, "written while reads failed", actor="carol")
        tl = screen.timeline
        await until(pilot, lambda: "written while reads failed" in tl.line_text(tl.total_lines - 1))
        assert failures == [0]
        # Notices arrive in the order they were posted: once "resumed" is in, any notice
        # per failed retry (there were three) would be in before it.
        await until(
            pilot, lambda: any(n.message == "live updates resumed" for n in app._notifications)
        )
        said = [(n.title, n.message) for n in app._notifications]
        assert said[0][0] == "live updates paused, retrying" and "locked" in said[0][1]
        assert said[-1][1] == "live updates resumed"
        assert len(said) == 2, "one notice for the outage, not one per retry"


async def test_a_screen_with_nothing_open_follows_a_new_declaration(db_ref: Path | str) -> None:
    db = db_ref
    async with running(db, user="bob", poll_interval=fast_path_only(db)) as pilot:
        screen = await ready(pilot)
        assert screen.current is None
        async with await Store.open(db, clock=frozen) as other:
            await other.declare("Checkout 502s", actor="alice", severity=Severity.SEV1)
        message = screen.query_one("#message")
        await until(pilot, lambda: "INC-1 declared by alice: now open" in str(message.render()))
        assert screen.current == 1
        async with await Store.open(db, clock=frozen) as other:
            await other.declare("Another one", actor="carol", severity=Severity.SEV3)
        await until(pilot, lambda: 2 in screen.board.incidents)
        assert screen.current == 1, "an incident already open is not taken away"
        app = pilot.app
        await until(
            pilot, lambda: any(n.title == "INC-2 SEV3 declared" for n in app._notifications)
        )
        toast = next(n for n in app._notifications if n.title == "INC-2 SEV3 declared")
        assert toast.message == "Another one (by carol; /open INC-2)"
        async with await Store.open(db, clock=frozen) as other:  # bob's own: no toast
            await other.declare("Mine", actor="bob", severity=Severity.SEV3)
        await until(pilot, lambda: 3 in screen.board.incidents)
        assert not any(n.title.startswith("INC-3") for n in app._notifications)


async def test_a_screen_says_when_its_record_was_replaced_under_it(tmp_path: Path) -> None:
    """`ircmd restore` (or a hand copy) puts another file at the path: the open screen
    still reads the old one, so its header says so, in red, until it is restarted."""
    from ircmd.widgets.header import IncidentHeader

    db = await declared(tmp_path)
    other = tmp_path / "other.db"
    async with await Store.open(other, clock=frozen) as store:
        await store.declare("Somewhere else", actor="bob", severity=Severity.SEV3)
    async with running(db, open_incident=1, heartbeat=0.05) as pilot:
        screen = await ready(pilot)
        header = screen.query_one(IncidentHeader)
        assert header.warning is None
        other.replace(db)
        await until(pilot, lambda: header.warning is not None)
        assert "was replaced by another file" in header.warning
        assert "restart the screen" in header.warning


async def test_a_role_moved_elsewhere_shows_beside_the_watcher_at_once(db_ref: Path | str) -> None:
    """Alice watches as commander; `/ic bob` makes bob commander. Bob's header must
    drop "(commander)" from alice with the change, not at the next heartbeat (an hour
    here: the roles are counted from the incident as it now stands)."""
    from ircmd.models import Role
    from ircmd.widgets.header import IncidentHeader

    db = await declared(db_ref)
    async with await Store.open(db, clock=frozen) as store:
        await store.assign(1, Role.COMMANDER, "alice", actor="alice")
        await store.heartbeat("alice-session", 1, "alice", "host")
    async with running(db, user="bob", open_incident=1, heartbeat=3600) as pilot:
        screen = await ready(pilot)
        header = screen.query_one(IncidentHeader)
        await until(pilot, lambda: header.watchers == [("alice", ["commander"])])
        async with await Store.open(db, clock=frozen) as store:
            await store.assign(1, Role.COMMANDER, "bob", actor="alice")
        await until(pilot, lambda: header.watchers == [("alice", [])])
