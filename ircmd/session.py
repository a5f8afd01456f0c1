"""Session: one user on one open database, everything the command screen works with.

The app opens it and hands it to the screen, so the screen needs nothing from the
app: the config, the Store, the clock (tests freeze it; the Store stamps events and
the widgets read elapsed times from it, never from datetime.now), the change feed,
this session's presence identity and the automatic anchoring. It holds no Textual
object, so it is built and tested without a terminal.
"""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from .anchor import AutoAnchor, open_warning
from .config import Config, opened
from .models import ACTIVE_STATUSES, Incident, IrcmdError, Presence
from .store import Store
from .store.feed import ChangeFeed
from .store.store import PRESENCE_TIMEOUT


def latest_active(incidents: Iterable[Incident]) -> int | None:
    """The active incident with the latest activity: the one a screen opens first."""
    active = [i for i in incidents if i.status in ACTIVE_STATUSES]
    latest = max(active, key=lambda i: (i.last_event_id, i.id), default=None)
    return latest.id if latest else None


@dataclass
class Session:
    """An open database as one user; `close()` leaves presence and closes it."""

    cfg: Config
    store: Store
    clock: Callable[[], datetime]
    feed: ChangeFeed
    # Said in red in the header when the screen opens (the record no longer matches
    # its newest anchor, or that could not be checked); None when all is well.
    warning: str | None = None
    anchoring: AutoAnchor | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)  # presence: this session
    host: str = field(default_factory=socket.gethostname)

    @classmethod
    async def open(
        cls, cfg: Config, clock: Callable[[], datetime], *, poll_interval: float | None = None
    ) -> Session:
        """Open the database, check its newest anchor, and start the feed after the
        newest event. Raises IrcmdError when the database cannot be opened."""
        store = await Store.open(cfg.db, read_only=cfg.read_only, clock=clock, timeout=cfg.timeout)
        try:
            # The database may say who this is (identity "database") and that it is
            # read-only (a standby): the screen acts and says so.
            cfg = opened(
                cfg,
                db_user=store.db_user,
                read_only=store.read_only,
                on_postgres=isinstance(store.location, str),
            )
            store.force_time = cfg.force_time
            store.max_text = cfg.max_text
            after = await store.last_event_id()
            try:
                warning = await open_warning(store, cfg.anchor)
            except IrcmdError as e:  # the check could not be made: that is worth a red line too
                warning = f"the newest anchor could not be checked: {e}"
        except BaseException:
            await store.close()
            raise
        anchoring = None
        if not cfg.read_only and cfg.anchor.log is not None:
            anchoring = AutoAnchor(store, cfg.anchor, clock, last_id=after)
        if poll_interval is None:
            feed = ChangeFeed(store, after_id=after)
        else:  # tests shorten the fallback poll
            feed = ChangeFeed(store, after_id=after, poll_interval=poll_interval)
        return cls(cfg, store, clock, feed, warning, anchoring)

    @property
    def read_only(self) -> bool:
        return self.cfg.read_only

    @property
    def user(self) -> str:
        return self.cfg.user

    async def heartbeat(self, current: int | None) -> list[Presence]:
        """Say which incident this session shows; return who is watching which."""
        await self.store.heartbeat(self.id, current, self.cfg.user, self.host)
        return await self.store.watchers(PRESENCE_TIMEOUT)

    async def close(self) -> None:
        """Stop the feed, leave presence and close the database: an open aiosqlite
        thread would keep the process alive."""
        self.feed.stop()
        with contextlib.suppress(IrcmdError):
            await self.store.leave(self.id)
        await self.store.close()
