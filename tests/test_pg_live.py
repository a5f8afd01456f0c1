"""The live feed on PostgreSQL: LISTEN/NOTIFY, a dropped connection, presence.

Every delivery here must come through NOTIFY or the catch-up after a reconnection:
the feeds' slow poll is set to an hour (`NEVER`). Writers are real `ircmd` processes;
the server restarted under a running feed or screen is a private one
(`helpers.pg.start` in tmp_path), never the shared test server.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import pg
from helpers.cli import IRCMD, clean_env
from helpers.screen import frozen, ready, running, until

from ircmd.config import Config
from ircmd.models import Event, Kind, Status
from ircmd.session import Session
from ircmd.store import Store
from ircmd.store.feed import ChangeFeed
from ircmd.store.store import PRESENCE_TIMEOUT
from ircmd.widgets.header import RECONNECTING, IncidentHeader

DEADLINE = 30.0
NEVER = 3600.0  # a poll interval that never elapses within a test


async def cli(url: str, home: Path, *args: str, user: str = "carol") -> str:
    """The real `ircmd` CLI as a process of its own, on `url`."""
    proc = await asyncio.create_subprocess_exec(
        *IRCMD,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(home, {"IRCMD_DB": url, "IRCMD_USER": user}),
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, f"ircmd {args}: exit {proc.returncode}: {err.decode()}"
    return out.decode()


async def eventually(cond: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)  # how often the condition is looked at, not a wait for it


class Collector:
    """`async for batch in feed` in a task, every batch kept."""

    def __init__(self, feed: ChangeFeed) -> None:
        self.feed = feed
        self.batches: list[list[Event]] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for batch in self.feed:
            assert batch, "the feed yielded an empty batch"
            self.batches.append(batch)

    @property
    def events(self) -> list[Event]:
        return [e for b in self.batches for e in b]

    def notes(self) -> list[str]:
        return [e.text for e in self.events if e.kind == Kind.NOTE]

    async def until(self, cond: Callable[[], bool], what: str) -> None:
        def done() -> bool:
            if self.task.done():
                self.task.result()
                raise AssertionError(f"the feed ended before {what}")
            return cond()

        await eventually(done, what)

    async def close(self) -> None:
        self.feed.stop()
        async with asyncio.timeout(DEADLINE):
            await self.task


class Gate:
    """The listener's pause between reconnection attempts, held shut until `open()`:
    the test decides when the LISTEN may come back."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self.pauses = 0

    async def pause(self, seconds: float) -> None:
        self.pauses += 1
        await self._open.wait()
        await asyncio.sleep(seconds)

    def open(self) -> None:
        self._open.set()


@dataclass
class PrivateServer:
    """A PostgreSQL server of this test's own, which it may stop and start again."""

    base: Path
    admin: str
    url: str

    async def stop(self) -> None:
        await asyncio.to_thread(pg.stop, self.base, "fast")

    async def start_again(self) -> None:
        assert await asyncio.to_thread(pg.restart, self.base) == self.admin


@pytest.fixture
async def private_server() -> AsyncIterator[PrivateServer]:
    # Not under tmp_path: the server runs as `postgres` when the tests run as root,
    # and pytest's directories are root's alone.
    base = Path(tempfile.mkdtemp(prefix="ircmd-pg-restart-"))
    try:
        admin = await asyncio.to_thread(pg.start, base)
    except (RuntimeError, OSError) as e:
        pytest.fail(f"could not start a private PostgreSQL server: {e}")
    try:
        yield PrivateServer(base, admin, await asyncio.to_thread(pg.fresh_database, admin))
    finally:
        await asyncio.to_thread(pg.stop, base, "immediate")
        shutil.rmtree(base, ignore_errors=True)


async def declared(url: str) -> int:
    """INC-1 declared on `url` (nobody commands it); the newest event id."""
    async with await Store.open(url, clock=frozen) as store:
        await store.declare("Checkout down", actor="alice", commander="")
        return await store.last_event_id()


# ------------------------------------------------------------------ the feed


async def test_a_cli_commit_reaches_the_feed_through_notify_alone(
    pg_url: str, tmp_path: Path
) -> None:
    after = await declared(pg_url)
    async with await Store.open(pg_url, clock=frozen) as store:
        feed = ChangeFeed(store, after_id=after, poll_interval=NEVER)
        c = Collector(feed)
        try:
            await eventually(lambda: feed.watching, "the LISTEN connection")
            for i in range(3):
                await cli(pg_url, tmp_path, "log", "INC-1", f"note {i}")
                await c.until(lambda n=i: len(c.notes()) == n + 1, f"note {i}")
            assert c.notes() == ["note 0", "note 1", "note 2"]
            ids = [e.id for e in c.events]
            assert ids == sorted(ids) and len(set(ids)) == len(ids) and ids[0] == after + 1
            assert all(e.actor == "carol" for e in c.events)
            assert feed._listener is not None and feed._listener.notifications >= 3
            assert not feed.reconnecting
        finally:
            await c.close()
        assert not feed.watching


async def test_a_terminated_listen_connection_reconnects_and_catches_up(
    pg_url: str, tmp_path: Path
) -> None:
    """The feed's LISTEN backend is killed (a dropped connection, server up): commits
    made before it listens again arrive by the catch-up read, once each."""
    import psycopg

    after = await declared(pg_url)
    gate = Gate()
    flips: list[bool] = []
    async with await Store.open(pg_url, clock=frozen) as store:
        feed = ChangeFeed(store, after_id=after, poll_interval=NEVER, reconnect_pause=gate.pause)
        feed.on_reconnecting = flips.append
        c = Collector(feed)
        try:
            await eventually(lambda: feed.watching, "the LISTEN connection")
            async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as admin:
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = 'ircmd-feed' AND datname = current_database()"
                )
            await eventually(lambda: feed.reconnecting, "reconnecting")
            assert flips == [True] and not feed.watching
            for i in range(3):
                await cli(pg_url, tmp_path, "log", "INC-1", f"while away {i}")
            # Nothing can deliver them yet: the LISTEN is down and the poll never comes.
            await asyncio.sleep(0)
            assert c.events == []
            gate.open()
            await c.until(lambda: len(c.notes()) == 3, "the catch-up")
            assert c.notes() == [f"while away {i}" for i in range(3)]
            await eventually(lambda: not feed.reconnecting, "reconnected")
            assert flips == [True, False]
            await cli(pg_url, tmp_path, "log", "INC-1", "after")
            await c.until(lambda: len(c.notes()) == 4, "a note after the reconnection")
            ids = [e.id for e in c.events]
            assert ids == list(range(after + 1, after + 5)), "lost or duplicated"
        finally:
            await c.close()


async def test_a_dropped_store_connection_costs_one_retry_and_no_reconnecting_notice(
    pg_url: str, tmp_path: Path
) -> None:
    """The Store's own backend is killed (the LISTEN stays): the next read fails once,
    the PgStore reconnects on the retry, and the screen is not told of an outage."""
    import psycopg

    after = await declared(pg_url)
    flips: list[bool] = []
    async with await Store.open(pg_url, clock=frozen) as store:
        feed = ChangeFeed(store, after_id=after, poll_interval=NEVER)
        feed.on_reconnecting = flips.append
        c = Collector(feed)
        try:
            await eventually(lambda: feed.watching, "the LISTEN connection")
            async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as admin:
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = 'ircmd' AND datname = current_database()"
                )
            queries = feed.queries
            await cli(pg_url, tmp_path, "log", "INC-1", "after the kill")
            await c.until(lambda: c.notes() == ["after the kill"], "the note")
            assert feed.queries == queries + 2, "one failed read, one retry"
            assert flips == [] and not feed.reconnecting
        finally:
            await c.close()


async def test_reads_failing_for_want_of_the_server_say_reconnecting_until_one_succeeds(
    pg_url: str, tmp_path: Path
) -> None:
    from ircmd.domain import StorageBusy

    after = await declared(pg_url)
    flips: list[bool] = []
    async with await Store.open(pg_url, clock=frozen) as store:
        real = store.events_since
        failures = [0]

        async def unreachable(after_id: int) -> list[Event]:
            if failures[0]:
                failures[0] -= 1
                raise StorageBusy("cannot reach the server: connection refused")
            return await real(after_id)

        store.events_since = unreachable  # type: ignore[method-assign]
        feed = ChangeFeed(store, after_id=after, poll_interval=NEVER)
        feed.on_reconnecting = flips.append
        c = Collector(feed)
        try:
            await eventually(lambda: feed.watching, "the LISTEN connection")
            failures[0] = 4
            await cli(pg_url, tmp_path, "log", "INC-1", "through the failures")
            await eventually(lambda: bool(flips), "reconnecting")
            await c.until(lambda: c.notes() == ["through the failures"], "the note")
            assert failures == [0] and flips == [True, False] and not feed.reconnecting
        finally:
            await c.close()


async def test_the_feed_survives_a_server_restart_and_loses_nothing(
    private_server: PrivateServer, tmp_path: Path
) -> None:
    url = private_server.url
    after = await declared(url)
    gate = Gate()
    flips: list[bool] = []
    async with await Store.open(url, clock=frozen) as store:
        feed = ChangeFeed(store, after_id=after, poll_interval=NEVER, reconnect_pause=gate.pause)
        feed.on_reconnecting = flips.append
        c = Collector(feed)
        try:
            await eventually(lambda: feed.watching, "the LISTEN connection")
            await cli(url, tmp_path, "log", "INC-1", "before")
            await c.until(lambda: c.notes() == ["before"], "the note before the restart")
            await private_server.stop()
            await eventually(lambda: feed.reconnecting, "reconnecting")
            await private_server.start_again()
            # Written after the restart and before the feed listens again: only the
            # catch-up read can bring them (the poll never comes).
            for i in range(3):
                await cli(url, tmp_path, "log", "INC-1", f"after restart {i}")
            assert c.notes() == ["before"]
            gate.open()
            await c.until(lambda: len(c.notes()) == 4, "the catch-up after the restart")
            await eventually(lambda: not feed.reconnecting, "reconnected")
            assert c.notes() == ["before"] + [f"after restart {i}" for i in range(3)]
            ids = [e.id for e in c.events]
            assert ids == list(range(after + 1, after + 5)), "lost or duplicated"
            assert flips[0] is True and flips[-1] is False
            assert feed._listener is not None and feed._listener.connections == 2
        finally:
            await c.close()


async def test_a_feed_on_a_standby_polls_and_never_says_reconnecting(
    private_server: PrivateServer, tmp_path: Path
) -> None:
    """A hot standby refuses LISTEN (and hears no NOTIFY from the primary): the feed
    polls, as it does when a file watcher cannot start, and is not "reconnecting"."""
    url = private_server.url
    after = await declared(url)
    base = Path(tempfile.mkdtemp(prefix="ircmd-pg-standby-"))
    try:
        admin = await asyncio.to_thread(pg.standby, private_server.base, base)
        replica = pg.with_database(admin, url.rpartition("/")[2])
        flips: list[bool] = []
        async with await Store.open(replica, read_only=True, clock=frozen) as store:
            feed = ChangeFeed(store, after_id=after)  # the default, one-second poll
            feed.on_reconnecting = flips.append
            c = Collector(feed)
            try:
                await eventually(
                    lambda: feed._listener is not None and feed._listener.refused is not None,
                    "the standby's refusal",
                )
                assert feed._listener is not None and feed._listener.refused is not None
                assert "recovery" in feed._listener.refused
                await cli(url, tmp_path, "log", "INC-1", "on the primary")
                await c.until(lambda: c.notes() == ["on the primary"], "the polled note")
                assert not feed.watching and not feed.reconnecting and flips == []
            finally:
                await c.close()
    finally:
        await asyncio.to_thread(pg.stop, base, "immediate")
        shutil.rmtree(base, ignore_errors=True)


# ------------------------------------------------------------------ presence


async def test_presence_two_sessions_see_each_other(pg_url: str) -> None:
    await declared(pg_url)
    a = await Session.open(Config(db=pg_url, user="alice"), frozen)
    b = await Session.open(Config(db=pg_url, user="bob"), frozen)
    try:
        await a.heartbeat(1)
        seen = await b.heartbeat(1)
        assert sorted((p.person, p.incident_id) for p in seen) == [("alice", 1), ("bob", 1)]
        # A second heartbeat replaces the row (the upsert), it does not add one.
        seen = await a.heartbeat(None)
        assert sorted((p.person, p.incident_id) for p in seen) == [("alice", None), ("bob", 1)]
        assert [p.person for p in await b.store.watchers(PRESENCE_TIMEOUT)] == ["alice", "bob"]
    finally:
        await a.close()
    try:
        assert [p.person for p in await b.store.watchers(PRESENCE_TIMEOUT)] == ["bob"]
    finally:
        await b.close()


# ------------------------------------------------------------------ screens


def header_text(pilot_app: object) -> str:
    from ircmd.app import IrcmdApp

    assert isinstance(pilot_app, IrcmdApp) and pilot_app.command_screen is not None
    header = pilot_app.command_screen.query_one(IncidentHeader)
    return header.build(frozen()).plain


async def test_two_screens_and_a_cli_writer_on_one_database(pg_url: str, tmp_path: Path) -> None:
    await declared(pg_url)
    async with (
        running(pg_url, "alice", open_incident=1, poll_interval=NEVER, size=(80, 24)) as pa,
        running(pg_url, "bob", open_incident=1, poll_interval=NEVER, size=(80, 24)) as pb,
    ):
        sa, sb = await ready(pa), await ready(pb)
        for pilot, s in ((pa, sa), (pb, sb)):
            await until(pilot, lambda s=s: s.session.feed.watching)
        await cli(pg_url, tmp_path, "log", "INC-1", "from the cli")
        for pilot, s in ((pa, sa), (pb, sb)):
            await until(pilot, lambda s=s: "from the cli" in [r.text for r in s.timeline.rows])
        # Typed on alice's screen, shown on bob's: NOTIFY from the other process.
        await sa.run_line("typed by alice")
        await until(pb, lambda: sb.timeline.rows[-1].text == "typed by alice")
        await cli(pg_url, tmp_path, "status", "INC-1", "triaged")
        for pilot, s in ((pa, sa), (pb, sb)):
            await until(
                pilot, lambda s=s: s.state is not None and s.state.incident.status == Status.TRIAGED
            )
        ra = [(r.id, r.text) for r in sa.timeline.rows]
        rb = [(r.id, r.text) for r in sb.timeline.rows]
        assert ra == rb
        ids = [i for i, _t in ra]
        assert ids == sorted(ids) and len(ids) == len(set(ids))


async def test_a_screen_says_it_is_reconnecting_and_catches_up_after_a_restart(
    private_server: PrivateServer, tmp_path: Path
) -> None:
    url = private_server.url
    await declared(url)
    async with running(url, open_incident=1, poll_interval=NEVER, size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await until(pilot, lambda: screen.session.feed.watching)
        await cli(url, tmp_path, "log", "INC-1", "before the restart")
        await until(pilot, lambda: screen.timeline.rows[-1].text == "before the restart")
        assert RECONNECTING not in header_text(pilot.app)
        await private_server.stop()
        await until(pilot, lambda: RECONNECTING in header_text(pilot.app))
        header = screen.query_one(IncidentHeader)
        assert header.has_class("-warning")
        # One red line under the two header lines, at 80 columns.
        await until(pilot, lambda: header.size.height == 3)
        await private_server.start_again()
        for i in range(3):
            await cli(url, tmp_path, "log", "INC-1", f"after the restart {i}")
        await until(pilot, lambda: screen.timeline.rows[-1].text == "after the restart 2")
        await until(pilot, lambda: RECONNECTING not in header_text(pilot.app))
        assert not header.has_class("-warning")
        texts = [r.text for r in screen.timeline.rows]
        assert texts[-4:] == ["before the restart"] + [f"after the restart {i}" for i in range(3)]
        ids = [r.id for r in screen.timeline.rows]
        assert ids == sorted(ids) and len(ids) == len(set(ids)), "lost or duplicated"
