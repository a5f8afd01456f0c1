"""From a payload to the record: what `ircmd serve` and `ircmd ingest` share, so an
alert is routed and written the same way whichever door it came in by, and serve's
group commit (`GroupCommit`), which writes concurrent payloads together."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .ingest import IngestResult, Route, RoutedAlert, parse, route
from .models import Format, InvalidInput, Playbook, StorageBusy
from .playbooks import load_playbooks, playbook_for_type
from .settings import IngestSettings
from .store import Store
from .store.verbs.alerts import Payload

#: The most alerts one group-commit transaction writes (a payload larger than this is
#: still written whole, alone): some tens of milliseconds of holding the write lock,
#: so a person's command does not wait longer than that behind a burst of alerts.
MAX_BATCH_ALERTS = 500


@dataclass(frozen=True)
class Router:
    """The routes with every playbook they name loaded, once, before any alert: a
    route naming a playbook that does not exist is a configuration error at start,
    not a failed POST in the middle of an outage."""

    routes: tuple[Route, ...]
    defaults: Route
    playbooks: dict[str, Playbook]

    @classmethod
    def load(cls, settings: IngestSettings, dirs: Iterable[Path]) -> Router:
        books, _ = load_playbooks(dirs)
        used: dict[str, Playbook] = {}

        def resolved(rule: Route) -> Route:
            """The route with its playbook named: its own, else its type's (as
            `ircmd declare --type` picks one)."""
            if rule.playbook:
                if rule.playbook not in books:
                    known = ", ".join(sorted(books)) or "none"
                    raise InvalidInput(
                        f"config: route playbook {rule.playbook!r} does not exist (known: {known})"
                    )
                used[rule.playbook] = books[rule.playbook]
                return rule
            book = playbook_for_type(rule.type, books)
            if book is None:
                return rule
            used[book.name] = book
            return rule.model_copy(update={"playbook": book.name})

        routes = tuple(resolved(r) for r in settings.routes)
        return cls(routes, resolved(settings.defaults), used)


class GroupCommit:
    """serve's writer of alerts: the payloads that arrive while a transaction is in
    flight are written together in the next one (group commit).

    With one transaction per payload, many concurrent senders are held back by the
    turn-taking rather than by the work: between two transactions the connection's
    thread idles while the event loop takes the answer back, hands the lock on and
    sends the next job, and each transaction pays its own BEGIN, COMMIT and sync to
    disk. Semantics are those of `Store.ingest_alerts` for each payload: its answer
    comes only after the COMMIT that holds it (a 200 means committed), it is written
    whole or not at all, in arrival order, and one refused by the rules fails alone
    (`verbs.alerts.ingest_batch`)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: list[tuple[Payload, asyncio.Future[IngestResult]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def ingest_alerts(
        self,
        alerts: Sequence[RoutedAlert],
        *,
        actor: str,
        source: str,
        playbooks: Mapping[str, Playbook],
        dropped: int = 0,
    ) -> IngestResult:
        """As `Store.ingest_alerts`, in the next transaction to start."""
        done: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        self._queue.append((Payload(alerts, actor, source, playbooks, dropped), done))
        if self._writing is None:
            self._writing = asyncio.create_task(self._write())
        return await done

    async def _write(self) -> None:
        """Write what is queued, one transaction after another, until nothing is."""
        try:
            while self._queue:
                batch = self._take()
                outcomes = await self._commit([p for p, _ in batch])
                for (_, done), outcome in zip(batch, outcomes, strict=True):
                    if done.done():  # its sender went away; the alerts are written all the same
                        continue
                    if isinstance(outcome, BaseException):
                        done.set_exception(outcome)
                    else:
                        done.set_result(outcome)
        finally:
            self._writing = None

    def _take(self) -> list[tuple[Payload, asyncio.Future[IngestResult]]]:
        """The oldest queued payloads, up to MAX_BATCH_ALERTS alerts (one at least)."""
        n = total = 0
        for payload, _ in self._queue:
            total += len(payload.alerts)
            if n and total > MAX_BATCH_ALERTS:
                break
            n += 1
        batch, self._queue = self._queue[:n], self._queue[n:]
        return batch

    async def _commit(self, payloads: list[Payload]) -> list[IngestResult | Exception]:
        try:
            return list(await self.store.ingest_batch(payloads))
        except StorageBusy as e:
            # The lock stayed busy past the timeout, or the disk is full: alone, each
            # would fail alike, after waiting as long again.
            return [e] * len(payloads)
        except Exception as e:
            if len(payloads) == 1:
                return [e]
        # Not a rule's refusal (those stay with their payload) but something no rule
        # foresees failed the transaction: write each alone, so that only the payload
        # that causes it fails.
        return [await self._alone(p) for p in payloads]

    async def _alone(self, p: Payload) -> IngestResult | Exception:
        try:
            return await self.store.ingest_alerts(
                p.alerts, actor=p.actor, source=p.source, playbooks=p.playbooks, dropped=p.dropped
            )
        except Exception as e:
            return e


async def receive(
    store: Store | GroupCommit, router: Router, body: bytes, fmt: Format, *, source: str, actor: str
) -> IngestResult:
    """Parse, route and record one payload whole: in a transaction of its own
    through the Store (`ircmd ingest`), or with the payloads that arrive meanwhile
    through a GroupCommit (serve). PayloadError (nothing written) if any of it is
    malformed."""
    routed = [route(a, router.routes, router.defaults) for a in parse(body, fmt)]
    kept = [r for r in routed if r is not None]
    return await store.ingest_alerts(
        kept,
        actor=actor,
        source=source,
        playbooks=router.playbooks,
        dropped=len(routed) - len(kept),
    )


def log_line(source: str, result: IngestResult) -> str:
    """One JSON line per payload for serve's log and `ingest`'s stderr: every alert
    received is counted, the unmatched and the dropped too."""
    return json.dumps({"source": source, **result.model_dump()}, ensure_ascii=False)
