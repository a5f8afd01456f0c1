"""Rows -> records: the one typed decoder of the store's own rows.

The records (`models`) are plain dataclasses, not validated: the store wrote these
rows itself, so each column only needs turning back into its field's type, as the
writer encoded it. Per class, once, each field's type hint gives a converter: a
time from its stored text (`record.from_ts`), an enum from its value, a bool from
0 or 1, a tuple or a dict from the JSON text of one column (or a tuple from the
items themselves); `X | None` keeps NULL as None, and anything else (int, str, a
record already built) is taken as stored. A value that does not decode (a row
edited outside ircmd) is a `StorageError` naming the class and the field.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from types import NoneType, UnionType
from typing import TYPE_CHECKING, Any, TypeVar, Union, get_args, get_origin, get_type_hints

from ..domain import Kind, StorageError
from .reader import Row
from .record import EVENT_COLUMNS, from_ts

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    from ..models import Event

D = TypeVar("D", bound="DataclassInstance")
Convert = Callable[[Any], Any]
EVENT_FIELDS = tuple(EVENT_COLUMNS.split(", "))


def decode(cls: type[D], row: Row, **override: Any) -> D:
    """The record of one row (or of its (column, value) pairs), its fields taken by
    column name: columns it has no field for are ignored, fields with no column keep
    their defaults. `override` gives fields the row does not hold, decoded alike."""
    values = dict(row) | override
    kwargs: dict[str, Any] = {}
    for name, convert in _plan(cls):
        if name not in values:
            continue
        value = values[name]
        try:
            kwargs[name] = value if convert is None else convert(value)
        except (TypeError, ValueError) as e:  # json.JSONDecodeError is a ValueError
            why = "it is NULL" if value is None else e
            raise StorageError(
                f"cannot read {cls.__name__}.{name} from the database: {why}"
                " (was it changed outside ircmd? run ircmd verify)"
            ) from None
    return cls(**kwargs)


def event_from_row(row: Row) -> Event:
    """An event row (EVENT_COLUMNS), by name or by position, as its record: what
    `decode` makes of it, decoded by hand, a third faster (a timeline reads
    100,000). A row that does not decode goes through `decode` itself, so that it
    fails as every other row does, naming the field. `models` is imported here, not
    above, so that a one-shot `ircmd log` (`store` imports this) never imports it."""
    from ..models import Event

    try:
        return Event(
            id=row[0],
            incident_id=row[1],
            occurred_at=from_ts(row[2]),
            recorded_at=from_ts(row[3]),
            actor=row[4],
            kind=Kind(row[5]),
            text=row[6],
            data=json.loads(row[7]),
            prev_hash=row[8],
            hash=row[9],
        )
    except (TypeError, ValueError):
        return decode(Event, zip(EVENT_FIELDS, row, strict=True))


@functools.cache
def _plan(cls: type[DataclassInstance]) -> tuple[tuple[str, Convert | None], ...]:
    """Each field of `cls` and its converter (None: taken as stored)."""
    hints = get_type_hints(cls)
    return tuple((f.name, _converter(hints[f.name])) for f in dataclasses.fields(cls))


def _converter(hint: Any) -> Convert | None:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, UnionType):  # `X | None`: NULL stays None
        (inner,) = (a for a in args if a is not NoneType)
        convert = _converter(inner)
        if convert is None:
            return None
        return lambda v: None if v is None else convert(v)
    if hint is datetime:
        return from_ts
    if isinstance(hint, type) and issubclass(hint, Enum | bool):
        return hint  # Kind("note"); bool(1)
    if origin is tuple:
        item = _converter(args[0]) or (lambda v: v)
        return lambda v: tuple(map(item, _json(v)))
    if origin is dict:
        return _json
    return None


def _json(value: Any) -> Any:
    """A JSON column's text decoded; a value given already decoded, as it is."""
    return json.loads(value) if isinstance(value, str) else value
