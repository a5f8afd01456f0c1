"""The change feed's fast path on PostgreSQL: LISTEN on a connection of its own.

Every append NOTIFYs `postgres.NOTIFY_CHANNEL` with the new event's id from a trigger,
in the appending transaction, so the notification is delivered when, and only when,
the event is committed. The `Listener` holds one autocommit psycopg AsyncConnection
that LISTENs on that channel and wakes the feed on each notification; the feed then
reads everything after its last id (`events_since`), so notifications that arrive
together cost one query, and the payload is never trusted for more than "look now".

When the connection is lost (the server restarted, a network cut, the backend was
terminated) the listener says so (`lost`), retries with backoff, and wakes the feed
once it is listening again: the feed's read after that wake catches up on everything
committed while nobody was listening. The feed's own slow poll stays the safety net,
and is all there is on a standby, which refuses LISTEN (`refused`).

Only imported when the Store is a PgStore: the SQLite path never loads psycopg.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .postgres import NOTIFY_CHANNEL, redact

log = logging.getLogger(__name__)

#: Seconds between reconnection attempts: doubling from the first to the last.
RETRY_FIRST, RETRY_LAST = 0.1, 2.0


class Listener:
    """LISTEN on `url`; `wake()` on each notification and after each (re)connection,
    `changed()` whenever `connected` or `lost` flips."""

    def __init__(
        self,
        url: str,
        wake: Callable[[], None],
        changed: Callable[[], None],
        *,
        timeout: float = 5.0,
        retry_first: float = RETRY_FIRST,
        retry_last: float = RETRY_LAST,
        pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.url = url
        self._wake = wake
        self._changed = changed
        self._timeout = timeout
        self._retry_first = retry_first
        self._retry_last = retry_last
        self._pause = pause
        #: LISTENing now.
        self.connected = False
        #: The connection could not be made or was lost, and no new one is up yet.
        self.lost = False
        #: Why the server refused the LISTEN (a standby): the feed polls. None otherwise.
        self.refused: str | None = None
        #: Counters, for tests and benchmarks.
        self.notifications = 0
        self.connections = 0

    def _set(self, *, connected: bool, lost: bool) -> None:
        if (connected, lost) != (self.connected, self.lost):
            self.connected, self.lost = connected, lost
            self._changed()

    async def run(self) -> None:
        """Listen until cancelled, reconnecting with backoff."""
        import psycopg

        wait = self._retry_first
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.url,
                    autocommit=True,
                    connect_timeout=max(1, int(self._timeout)),
                    application_name="ircmd-feed",
                    # A connection cut without a word (a dead network path) is found by
                    # TCP keepalives within about 20 s; the feed's poll covers the gap.
                    keepalives=1,
                    keepalives_idle=10,
                    keepalives_interval=5,
                    keepalives_count=2,
                )
            except (psycopg.Error, OSError) as e:
                log.info("LISTEN connection to %s failed: %s", redact(self.url), e)
                self._set(connected=False, lost=True)
            else:
                try:
                    async with conn:
                        try:
                            await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                        except psycopg.OperationalError:
                            raise
                        except psycopg.Error as e:
                            # A standby cannot LISTEN (and hears no NOTIFY from the
                            # primary): the feed polls instead, for good.
                            log.warning("no LISTEN on %s (%s): polling", redact(self.url), e)
                            self.refused = str(e).strip()
                            self._set(connected=False, lost=False)
                            return
                        self.connections += 1
                        wait = self._retry_first
                        self._set(connected=True, lost=False)
                        # Whatever was committed while nobody listened: read it now.
                        self._wake()
                        async for _note in conn.notifies():
                            self.notifications += 1
                            self._wake()
                except (psycopg.Error, OSError) as e:
                    log.info("LISTEN connection to %s lost: %s", redact(self.url), e)
                # notifies() ends only when the connection does.
                self._set(connected=False, lost=True)
            await self._pause(wait)
            wait = min(wait * 2, self._retry_last)
