"""The deliverer: sends the outbox's deliveries, at least once, and puts each
outcome on the record. It runs inside `ircmd serve` or as `ircmd deliver`.

- On start it writes the routing of its hooks into the database (`outbox.set_routes`):
  the writers queue what it will send, and nothing secret leaves config.toml.
- It takes due deliveries with a lease (`outbox.claim`): two deliverers never send
  the same delivery at once, and one that dies leaves leases that run out (at once,
  for a deliverer of this host whose process is gone: `gone`). Each
  incident's deliveries to one hook are sent one after another in event order, and
  a delivery waiting to be retried holds back the ones after it.
- Each attempt goes to its kind's sender (`ircmd.hooks.<kind>.send`, imported when
  first needed, so a kind's module plugs in by existing) with an idempotency key
  from the event's hash and the hook's name: a receiver can drop the repeat a crash
  between sending and recording may cause.
- Timeouts, connection failures, 429 and 5xx are retried with exponential backoff
  and jitter (or after Retry-After), until the hook's `give_up_after` has passed
  since the delivery was queued; any other refusal is permanent. The outcome and
  the row's new state are written together (`verbs.deliveries.record_delivery`).
- It wakes on commits by other processes through the change feed (a file watch,
  confirmed by PRAGMA data_version; LISTEN/NOTIFY on PostgreSQL), and by itself when
  the next retry is due.

The clock and the random source are injected, so tests move time themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
import random
import socket
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from ..models import DELIVER_SESSION_PREFIX, DatabaseReplaced, InvalidInput, IrcmdError
from ..settings import Contact, Hook, Settings
from ..store import Store
from ..store.feed import ChangeFeed
from ..store.verbs.deliveries import Result
from . import outbox
from .base import PAYLOAD_VERSION, Delivery, Outcome, Sender

log = logging.getLogger(__name__)

#: Who the record says recorded each outcome.
ACTOR = "deliverer"
#: The presence line shows a deliverer as this person ("deliveries are waiting and
#: no deliverer is running" is told from its absence).
PRESENCE_NAME = "deliver"
HEARTBEAT_SECONDS = 10.0
#: Backoff: the first retry after about this many seconds, doubling up to the cap.
FIRST_RETRY = 2.0
RETRY_CAP = 600.0
#: How many runs (incident and hook) are sent at once.
CONCURRENCY = 16
#: A send that overruns its hook's timeout by this much is abandoned as timed out,
#: whatever the sender does.
SEND_GRACE = 5.0

Clock = Callable[[], datetime]


def routes_of(settings: Settings) -> tuple[list[outbox.Route], list[outbox.ContactRoute]]:
    """What the writers may know of the hooks: names, events and filters only."""
    hooks = [
        outbox.Route(
            name=h.name,
            kind=h.kind,
            events=h.events,
            audience=h.audience.value if h.audience else None,
            min_severity=h.min_severity.value if h.min_severity else None,
            incident_type=h.incident_type,
        )
        for h in settings.hooks
    ]
    contacts = [contact_route(who, c) for who, c in settings.contacts.items()]
    return hooks, contacts


def contact_route(who: str, c: Contact) -> outbox.ContactRoute:
    return outbox.ContactRoute(contact=who, hook=c.hook, address=c.address)


def sender(kind: str) -> Sender:
    """The `send` of module `ircmd.hooks.<kind>` (one of `settings.HookKind`)."""
    try:
        module = importlib.import_module(f"{__package__}.{kind}")
    except ModuleNotFoundError:
        raise InvalidInput(f"hooks of kind {kind!r} cannot be sent by this ircmd") from None
    send: Sender = module.send
    return send


def backoff(attempt: int, rng: random.Random, first: float, cap: float) -> float:
    """Seconds before retrying after failed attempt number `attempt`: doubling from
    `first` up to `cap`, between half and all of it, so that deliveries that failed
    together do not all come back together."""
    grown: float = min(cap, first * 2.0 ** (attempt - 1))
    return grown * rng.uniform(0.5, 1.0)


def settle(
    outcome: Outcome,
    claimed: outbox.Claimed,
    hook: Hook,
    now: datetime,
    rng: random.Random,
    *,
    first: float = FIRST_RETRY,
    cap: float = RETRY_CAP,
) -> Result:
    """What one attempt's outcome makes of the delivery."""
    if outcome.ok:
        return Result("sent", outcome.status, outcome.reason)
    if not outcome.retry:
        return Result("failed", outcome.status, outcome.reason)
    deadline = claimed.queued_at + timedelta(seconds=hook.give_up_after)
    if now >= deadline:
        return Result("gave_up", outcome.status, outcome.reason)
    wait = outcome.retry_after
    if wait is None:
        wait = backoff(claimed.attempt, rng, first, cap)
    retry_at = min(now + timedelta(seconds=wait), deadline)
    news = claimed.attempt == 1 or outcome.status != claimed.last_status
    return Result("failed", outcome.status, outcome.reason, retry_at=retry_at, record=news)


def owner_name() -> str:
    """Who holds a lease: this host and process, and a nonce for the instance."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def gone(owner: str) -> bool:
    """Is `owner` (`owner_name`) a process of this host that has ended? Its leases are
    void then. Any doubt (another host, a live or unreadable process) says no: the
    lease then runs out in its own time."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


class Deliverer:
    """Sends the deliveries of `settings.hooks` from `store`; see the module's docstring.

    `store` must be a connection of the deliverer's own: the change feed that wakes
    it sees commits by other connections only (PRAGMA data_version)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        first_retry: float = FIRST_RETRY,
        retry_cap: float = RETRY_CAP,
        poll_interval: float = 1.0,
        concurrency: int = CONCURRENCY,
        senders: Mapping[str, Sender] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.hooks = {h.name: h for h in settings.hooks}
        self.owner = owner_name()
        self._clock = clock or store.now
        self._rng = rng or random.Random()
        self._first, self._cap = first_retry, retry_cap
        self._poll = poll_interval
        self._slots = asyncio.Semaphore(concurrency)
        self._senders: dict[str, Sender] = dict(senders or {})
        for h in settings.hooks:  # a kind this ircmd cannot send fails at start
            if h.kind not in self._senders:
                self._senders[h.kind] = sender(h.kind)
        self._timeouts = {h.name: h.timeout + SEND_GRACE for h in settings.hooks}
        self._holding: set[int] = set()
        self._runs: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        # The record was restored or replaced under this process: `run` ends with it.
        self._replaced: DatabaseReplaced | None = None
        #: Attempts made and outcomes by kind, for tests and the benchmark.
        self.attempts = 0
        self.outcomes: dict[str, int] = {}

    async def publish_routes(self) -> None:
        """Write this deliverer's routing for the writers (see `outbox.set_routes`)."""
        hooks, contacts = routes_of(self.settings)
        await self.store.set_routes(hooks, contacts)

    # ------------------------------------------------------------ running

    async def run(self, stop: asyncio.Event, ready: Callable[[], None] | None = None) -> None:
        """Deliver until `stop` is set: publish the routing (then call `ready`: from
        then on, writers queue for it), then take what is due whenever the record
        changes or a retry falls due."""
        await self.publish_routes()
        if ready is not None:
            ready()
        feed = ChangeFeed(
            self.store, after_id=await self.store.last_event_id(), poll_interval=self._poll
        )
        helpers = [
            asyncio.create_task(self._watch(feed), name="ircmd-deliver-feed"),
            asyncio.create_task(self._heartbeat(), name="ircmd-deliver-heartbeat"),
        ]
        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                self._wake.clear()
                if self._replaced is not None:
                    # Loud, not silent: this process would go on reading the old file
                    # and send nothing queued in the new one. A restart opens that one.
                    raise self._replaced
                due = await self._take()
                pause = self._poll * 30 if due is None else (due - self._clock()).total_seconds()
                woken = asyncio.create_task(self._wake.wait())
                await asyncio.wait(
                    [woken, stopping], timeout=max(0.0, pause), return_when="FIRST_COMPLETED"
                )
                woken.cancel()
        finally:
            feed.stop()
            stopping.cancel()
            for task in helpers:
                task.cancel()
            await self._finish_runs()
            for task in helpers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def once(self) -> None:
        """Deliver what is due now, retries that fall due meanwhile not waited for
        (`ircmd deliver --once`, from cron)."""
        await self.publish_routes()
        while True:
            await self._take()
            if not self._runs:
                return
            await asyncio.wait(set(self._runs))

    async def _watch(self, feed: ChangeFeed) -> None:
        """Any commit by another process may have queued something: look."""
        async for _batch in feed:
            self._wake.set()

    async def _heartbeat(self) -> None:
        session = f"{DELIVER_SESSION_PREFIX}{uuid.uuid4().hex[:12]}"
        try:
            while True:
                try:
                    await self.store.heartbeat(session, None, PRESENCE_NAME, socket.gethostname())
                except DatabaseReplaced as e:
                    self._replaced = e
                    self._wake.set()
                    return
                except IrcmdError:
                    pass  # a busy record: at the next beat
                await asyncio.sleep(HEARTBEAT_SECONDS)
        finally:
            with contextlib.suppress(IrcmdError):
                await asyncio.shield(self.store.leave(session))

    async def _take(self) -> datetime | None:
        """Claim what is due and start sending it; when the next pending delivery
        falls due (None: only when the record changes or a run ends)."""
        try:
            claim = await self.store.claim_deliveries(
                self.owner,
                self._timeouts,
                self._clock(),
                holding=set(self._holding),
                gone=gone,
            )
        except DatabaseReplaced:
            raise
        except IrcmdError as e:  # the record busy or full: look again shortly
            log.warning("cannot take deliveries: %s", e)
            return self._clock() + timedelta(seconds=self._poll)
        for run in claim.runs:
            self._holding.update(c.id for c in run)
            task = asyncio.create_task(self._send_run(run), name="ircmd-deliver-run")
            self._runs.add(task)
            task.add_done_callback(self._run_done)
        return claim.next_due

    def _run_done(self, task: asyncio.Task[None]) -> None:
        self._runs.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a delivery run failed", exc_info=task.exception())
        self._wake.set()  # what followed the run in its incident may go now

    async def _finish_runs(self) -> None:
        """On stop: cancel the sends; what was not recorded goes back to the queue."""
        for task in list(self._runs):
            task.cancel()
        if self._runs:
            await asyncio.wait(set(self._runs))

    # ------------------------------------------------------------ sending

    async def _send_run(self, run: Sequence[outbox.Claimed]) -> None:
        """One incident's deliveries to one hook, in order; the first that must wait
        for a retry sends the rest back to the queue."""
        left = [c.id for c in run]
        try:
            async with self._slots:
                payloads = await self.store.delivery_payloads({c.event_id for c in run})
                for c in run:
                    result = await self._attempt(c, payloads.get(c.event_id))
                    await self.store.record_delivery(c.id, result, actor=ACTOR, owner=self.owner)
                    left.remove(c.id)
                    self._holding.discard(c.id)
                    if result.retry_at is not None:
                        break
        finally:
            if left:
                with contextlib.suppress(IrcmdError):
                    await asyncio.shield(self.store.release_deliveries(self.owner, left))
            self._holding.difference_update(c.id for c in run)

    async def _attempt(self, c: outbox.Claimed, found: dict[str, Any] | None) -> Result:
        hook = self.hooks[c.hook]
        if found is None:  # cannot be: events are never deleted
            outcome = Outcome(ok=False, retry=False, status="missing", reason="no such event")
        else:
            payload = {
                "version": PAYLOAD_VERSION,
                "hook": hook.name,
                "event": found["event"],
                "incident": found["incident"],
                "address": c.address,
            }
            key = outbox.idempotency_key(found["event"]["hash"], hook.name)
            delivery = Delivery(
                c.id, hook.name, c.event_id, key, payload, c.attempt, str(self.store.location)
            )
            outcome = await self._send(hook, delivery)
        result = settle(
            outcome, c, hook, self._clock(), self._rng, first=self._first, cap=self._cap
        )
        self.attempts += 1
        self.outcomes[result.outcome] = self.outcomes.get(result.outcome, 0) + 1
        line = {
            "delivery": c.id,
            "hook": hook.name,
            "event": c.event_id,
            "attempt": c.attempt,
            "outcome": result.outcome,
            "status": result.status,
            "reason": result.reason,
        }
        if result.retry_at is not None:
            line["retry_at"] = result.retry_at.isoformat()
        print(json.dumps(line, ensure_ascii=False), file=sys.stderr, flush=True)
        return result

    async def _send(self, hook: Hook, delivery: Delivery) -> Outcome:
        """The sender's outcome; a sender that overruns or breaks is a transient
        failure, named by its exception's type only (its text may hold a secret)."""
        try:
            async with asyncio.timeout(hook.timeout + SEND_GRACE):
                return await self._senders[hook.kind](hook, delivery)
        except TimeoutError:
            return Outcome(ok=False, retry=True, status="timeout", reason="the sender overran")
        except Exception as e:
            log.error("the %s sender failed on delivery %d", hook.kind, delivery.id)
            return Outcome(ok=False, retry=True, status="error", reason=type(e).__name__)
