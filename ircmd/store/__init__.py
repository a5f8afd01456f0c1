"""Everything that touches SQLite. Nothing above this package writes SQL."""

from .store import Store, utc_now

__all__ = ["Store", "utc_now"]
