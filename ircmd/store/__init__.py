"""Everything that touches SQLite. Nothing above this package writes SQL.

`Store` (asyncio and aiosqlite) is loaded on first use, so that a one-shot command
on `sync.SyncStore` can import this package without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .facade import utc_now

if TYPE_CHECKING:
    from .store import Store

__all__ = ["Store", "utc_now"]


def __getattr__(name: str) -> Any:
    if name == "Store":
        from .store import Store

        return Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
