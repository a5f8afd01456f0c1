"""Retrying a write that failed for a reason that may pass: a lock busy past the
timeout, a full disk, an I/O error (`StorageBusy`). Nothing else is retried: a
closed incident or bad input fails the same way every time.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from .domain import StorageBusy

T = TypeVar("T")

DEFAULT_RETRIES = 5
DEFAULT_DELAY = 0.5


@dataclass(frozen=True)
class Backoff:
    """How often and how patiently to retry: `retries` attempts after the first,
    pausing `delay` seconds, doubled each time up to `cap`, with jitter so that
    writers who failed together do not all come back at the same moment."""

    retries: int = DEFAULT_RETRIES
    delay: float = DEFAULT_DELAY
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def pause(self, attempt: int) -> float:
        """The pause before retry number `attempt` (1-based)."""
        grown: float = self.delay * 2.0 ** (attempt - 1)
        return min(self.cap, grown) * self.rng.uniform(0.5, 1.0)


async def retrying(
    write: Callable[[], Awaitable[T]],
    backoff: Backoff,
    on_retry: Callable[[StorageBusy, int, float], None],
) -> T:
    """`await write()`, retried on StorageBusy; `on_retry(error, attempt, pause)`
    is told before each pause, so a waiting writer says why it waits. The last
    error is raised when the retries are spent."""
    import asyncio  # here, not above: `ircmd log` takes its defaults without an event loop

    attempt = 0
    while True:
        try:
            return await write()
        except StorageBusy as e:
            attempt += 1
            if attempt > backoff.retries:
                raise
            pause = backoff.pause(attempt)
            on_retry(e, attempt, pause)
            await asyncio.sleep(pause)
