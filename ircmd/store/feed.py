"""ChangeFeed: notices commits by any process and yields the new events.

Interface (stable; the app's worker consumes it):

    feed = ChangeFeed(store, after_id=last_seen)
    async for batch in feed:        # list[Event], in id order, never empty
        ...
    feed.poke()                     # this process wrote: look now, don't wait
    feed.stop()

How a change is noticed:

- Fast path: `watchfiles.awatch` on the database's directory, filtered to the db file and
  its `-wal` file (a WAL commit writes only `-wal`; a checkpoint writes the db file). The
  rust watcher reports a change after one quiet `step` (so an isolated commit is seen
  within `step`..`2*step` ms) and at most every `debounce` ms during a burst.
- Every file hint is confirmed with `PRAGMA data_version`, which changes only when
  *another* connection committed; our own heartbeats and checkpoints therefore cost a
  few pragmas (below) and no query. Other sessions' presence heartbeats pass the check and
  cost one indexed `WHERE id > ?` query that returns nothing: an empty result is never
  yielded.
- A hint can come before its commit is visible (the -wal is written, then fsynced, then
  the commit is published in -shm, which inotify cannot see), and nothing else fires when
  it lands; so after each hint data_version is re-checked 5 ms later, then at doubling
  intervals (10, 20, 40 ... ms) up to the poll interval: a commit that a slow fsync holds
  back is seen within about twice its delay, not only at the next poll.
- `poke()` covers this process's own writes (data_version does not change for them).
- Slow path: every `poll_interval` (default 1 s; keep it <= 1 s in the app; tests raise
  it to prove the fast path) the feed checks data_version anyway, so a filesystem
  that reports nothing (NFS, some container mounts) still updates within a second.
  `watch=False` turns the watcher off (poll only); if the watcher cannot start or dies,
  the feed falls back to polling by itself (`watching` tells which mode it is in).

Hints merge: each wake-up reads everything after `last_id` in one query, so a burst of
commits arrives as a few batches, not one per commit.

On PostgreSQL (a PgStore) the file watcher is replaced by a LISTEN on a connection of the
feed's own (`pgfeed.Listener`): each committed append NOTIFYs, and every notification
is a reason to read (no data_version check, no settling). A lost connection is retried
with backoff; `reconnecting` is True meanwhile (and while reads fail for want of the
server), `on_reconnecting(bool)` is called when it flips, and the first read after the
LISTEN is back catches up on everything committed while it was down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from ..domain import StorageBusy
from ..models import Event
from .store import Store

if TYPE_CHECKING:
    from .pgfeed import Listener

log = logging.getLogger(__name__)

#: Rust watcher settings (milliseconds). watchfiles' defaults are step=50, debounce=1600:
#: 50-100 ms before an isolated change is reported at all.
DEFAULT_STEP_MS = 10
DEFAULT_DEBOUNCE_MS = 40
#: The slow fallback poll; the design caps it at one second.
DEFAULT_POLL_INTERVAL = 1.0
#: After a file hint, data_version is checked again after 5 ms (seconds), then after
#: 10, 20, 40 ... ms while nothing changes, up to the poll interval: the hint comes from
#: the -wal write, which precedes the commit's visibility by the fsync, and nothing on
#: disk that inotify can see changes when the commit completes.
SETTLE_FIRST = 0.005
#: During a burst, read at most this often (seconds): 1,000 commits in a second or two
#: become ~20-40 batches, not one per commit. The first change after a quiet spell is
#: read at once (the gap since the last batch is long), and poke() is never held back.
DEFAULT_MIN_INTERVAL = 0.05
#: PostgreSQL: seconds between reads while the server cannot be reached (doubling).
READ_RETRY_FIRST, READ_RETRY_LAST = 0.1, 2.0


class ChangeFeed:
    """Yields batches of new events (`list[Event]`, id order, never empty)."""

    def __init__(
        self,
        store: Store,
        *,
        after_id: int = 0,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        watch: bool = True,
        step_ms: int = DEFAULT_STEP_MS,
        debounce_ms: int = DEFAULT_DEBOUNCE_MS,
        force_polling: bool = False,
        min_interval: float = DEFAULT_MIN_INTERVAL,
        reconnect_pause: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self._store = store
        self.last_id = after_id
        self._poll = poll_interval
        self._min_interval = min_interval
        self._watch = watch
        self._step = step_ms
        self._debounce = debounce_ms
        self._force_polling = force_polling
        self._stopped = asyncio.Event()
        self._watch_stop = asyncio.Event()  # awatch sets its stop_event on cancel: keep it apart
        self._wake = asyncio.Event()  # any reason to look: hint, poke, stop
        self._urgent = asyncio.Event()  # poke or stop: skip the burst throttle
        self._poked = False
        self._watcher: asyncio.Task[None] | None = None
        #: True while the file watcher runs, or on PostgreSQL while the LISTEN connection
        #: is up (False: polling only).
        self.watching = False
        # PostgreSQL: the LISTEN connection (made on the first iteration), its backoff
        # pause (tests hold it), whether the last read failed for want of the server.
        self._pg = store.dialect.name == "postgresql"
        self._listener: Listener | None = None
        self._reconnect_pause = reconnect_pause
        self._read_failed = False
        self._said_reconnecting = False
        #: Called with the new `reconnecting` whenever it flips (the screen's header).
        self.on_reconnecting: Callable[[bool], None] | None = None
        #: Counters, for tests and benchmarks.
        self.hints = 0
        self.queries = 0
        self.batches = 0

    # ------------------------------------------------------------ control

    def stop(self) -> None:
        """End the iteration promptly (the current wait returns at once)."""
        self._stopped.set()
        self._watch_stop.set()
        self._urgent.set()
        self._wake.set()

    def poke(self) -> None:
        """This process committed something: read now."""
        self._poked = True
        self._urgent.set()
        self._wake.set()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    @property
    def reconnecting(self) -> bool:
        """PostgreSQL: the connection was lost and is not back yet (always False on
        SQLite, whose failed reads raise as before)."""
        lost = self._listener is not None and self._listener.lost
        return self._read_failed or lost

    def _state_changed(self) -> None:
        self.watching = self._listener is not None and self._listener.connected
        now = self.reconnecting
        if now != self._said_reconnecting:
            self._said_reconnecting = now
            if now:
                log.warning("database connection lost: reconnecting")
            else:
                log.info("database connection back")
            if self.on_reconnecting is not None:
                self.on_reconnecting(now)

    # ------------------------------------------------------------ iteration

    async def __aiter__(self) -> AsyncIterator[list[Event]]:
        if self._watch and self._watcher is None and not self._stopped.is_set():
            self._watch_stop.clear()
            watch = self._listen() if self._pg else self._watch_files()
            self._watcher = asyncio.create_task(watch, name="ircmd-feed-watch")
        loop = asyncio.get_running_loop()
        last_batch = -1e9
        settle: float | None = None  # next re-check delay after a file hint, if settling
        try:
            if self._pg:
                async with contextlib.aclosing(self._follow_pg()) as batches:
                    async for batch in batches:
                        yield batch
                return
            version = await self._store.data_version()
            look = True  # always read once at start: commits before the watcher was up
            while not self._stopped.is_set():
                if look:
                    self.queries += 1
                    batch = await self._store.events_since(self.last_id)
                    if batch and not self._stopped.is_set():
                        self.last_id = batch[-1].id
                        self.batches += 1
                        yield batch
                        last_batch = loop.time()
                timed_out = await self._sleep(self._poll if settle is None else settle)
                if self._stopped.is_set():
                    break
                hold = self._min_interval - (loop.time() - last_batch)
                if hold > 0 and not self._poked:
                    # In a burst: let more commits pile up, then read them all at once.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(hold):
                            await self._urgent.wait()
                    if self._stopped.is_set():
                        break
                    self._wake.clear()
                    self._urgent.clear()
                poked, self._poked = self._poked, False
                if poked:
                    look = True
                    continue
                # A file hint, a settling re-check or the slow poll: did another
                # connection commit?
                now = await self._store.data_version()
                look = now != version
                version = now
                if not timed_out:
                    # A file hint. The -wal is written before the commit becomes visible
                    # (fsync, then the wal-index in -shm, which inotify cannot see), so
                    # the commit the hint announces may land after this check, with no
                    # further file event: look again shortly, backing off.
                    settle = SETTLE_FIRST
                elif settle is not None:
                    settle = SETTLE_FIRST if look else settle * 2
                    if settle > self._poll:  # the poll takes over from here
                        settle = None
                elif not look and not self.watching:
                    # Polling only: data_version misses our own un-poked commits; the
                    # id query is as cheap and catches them too.
                    look = True
        finally:
            await self._end_watcher()

    async def _follow_pg(self) -> AsyncGenerator[list[Event], None]:
        """PostgreSQL: read at once, then on each NOTIFY, poke, reconnection of the
        LISTEN and slow poll; while the server cannot be reached, retry with backoff
        (the PgStore reconnects on its next call) and say `reconnecting`."""
        loop = asyncio.get_running_loop()
        last_batch = -1e9
        retry = 0.0
        while not self._stopped.is_set():
            try:
                self.queries += 1
                batch = await self._store.events_since(self.last_id)
            except StorageBusy as e:
                if retry == 0.0 and not self._read_failed:
                    # The PgStore replaces a connection the server dropped on its next
                    # call: after a restart one failed read is expected; try again now.
                    retry = READ_RETRY_FIRST / 2
                    continue
                if not self._read_failed:
                    log.warning("feed read failed (%s); retrying", e)
                self._read_failed = True
                self._state_changed()
                retry = min(retry * 2, READ_RETRY_LAST)
                await self._sleep(retry)
                continue
            retry = 0.0
            if self._read_failed:
                self._read_failed = False
                self._state_changed()
            if batch and not self._stopped.is_set():
                self.last_id = batch[-1].id
                self.batches += 1
                yield batch
                last_batch = loop.time()
            await self._sleep(self._poll)
            if self._stopped.is_set():
                break
            hold = self._min_interval - (loop.time() - last_batch)
            if hold > 0 and not self._poked:  # in a burst: let NOTIFYs pile up
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(hold):
                        await self._urgent.wait()
                self._wake.clear()
                self._urgent.clear()
            self._poked = False

    async def _sleep(self, timeout: float) -> bool:
        """Wait for a poke, a file hint, stop() or `timeout`; True on timeout."""
        timed_out = False
        if not self._wake.is_set():
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                timed_out = True
        self._wake.clear()
        self._urgent.clear()
        return timed_out

    # ------------------------------------------------------------ watcher

    async def _watch_files(self) -> None:
        try:
            from watchfiles import Change, awatch
        except ImportError:  # pragma: no cover - a declared dependency
            log.warning("watchfiles unavailable; ChangeFeed polls every %.1fs", self._poll)
            return
        path = self._store.path.resolve()
        names = {path.name, path.name + "-wal"}

        def only_db(_change: Change, changed: str) -> bool:
            return os.path.basename(changed) in names

        try:
            self.watching = True
            async for _changes in awatch(
                path.parent,
                watch_filter=only_db,
                step=self._step,
                debounce=self._debounce,
                stop_event=self._watch_stop,
                recursive=False,
                force_polling=self._force_polling,
                ignore_permission_denied=True,
            ):
                self.hints += 1
                self._wake.set()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # inotify limits, vanished directory ...: poll instead
            log.warning("file watch on %s failed (%s); polling every %.1fs", path, e, self._poll)
        finally:
            self.watching = False

    async def _listen(self) -> None:
        from .pgfeed import Listener

        url = str(self._store.location)
        if self._reconnect_pause is None:
            listener = Listener(url, self._wake.set, self._state_changed)
        else:
            listener = Listener(
                url, self._wake.set, self._state_changed, pause=self._reconnect_pause
            )
        self._listener = listener
        try:
            await listener.run()
        finally:
            listener.connected = False
            self._state_changed()

    async def _end_watcher(self) -> None:
        self._watch_stop.set()
        task, self._watcher = self._watcher, None
        if task is None:
            return
        if self._pg:  # the LISTEN waits on its socket until cancelled
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return
        # awatch returns within one `step` of the stop event; cancel if it does not.
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=0.5)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        except asyncio.CancelledError:
            task.cancel()
            raise
