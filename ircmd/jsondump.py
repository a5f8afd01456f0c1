"""A record (`models`) as JSON-ready data: what the report and the CLI's `--json`
print.

Pydantic dumps it, as it did when the records were pydantic models, so the output
stays the same to the byte: times in UTC as `2026-01-01T00:00:00Z`, enums as their
values, tuples as lists, fields in their order. It is imported only here, when a
record is first dumped: none of these paths is on the screen's first frame.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import DataclassInstance
    from pydantic import TypeAdapter


def jsonable(record: DataclassInstance, *, include: set[str] | None = None) -> dict[str, Any]:
    """`record`'s fields (only those in `include`, if given) as JSON-ready values."""
    dumped: dict[str, Any] = _adapter(type(record)).dump_python(
        record, mode="json", include=include
    )
    return dumped


@functools.cache
def _adapter(cls: type[DataclassInstance]) -> TypeAdapter[Any]:
    from pydantic import TypeAdapter

    return TypeAdapter(cls)
