"""From a payload to the record: what `ircmd serve` and `ircmd ingest` share, so an
alert is routed and written the same way whichever door it came in by."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .ingest import IngestResult, Route, parse, route
from .models import Format, InvalidInput, Playbook
from .playbooks import load_playbooks, playbook_for_type
from .settings import IngestSettings
from .store import Store


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


async def receive(
    store: Store, router: Router, body: bytes, fmt: Format, *, source: str, actor: str
) -> IngestResult:
    """Parse, route and record one payload in one transaction; PayloadError (nothing
    written) if any of it is malformed."""
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
