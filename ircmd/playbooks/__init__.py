"""Playbooks: containment and recovery checklists per incident type, in TOML.

The shipped ones live beside this file; users add their own in the config
directory's `playbooks/` or with `--playbooks DIR`. A later file with the same
name replaces a shipped one. A broken file is reported by name and line and
skipped; the rest still load.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ..models import NotFound, Playbook

if TYPE_CHECKING:
    from pydantic import TypeAdapter

SHIPPED = Path(__file__).parent


def load_playbooks(dirs: Iterable[Path] = ()) -> tuple[dict[str, Playbook], list[str]]:
    """All playbooks by name, and one message per file that could not be read."""
    found: dict[str, Playbook] = {}
    errors: list[str] = []
    for folder in (SHIPPED, *dirs):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                pb = parse_playbook(path)
            except ValueError as e:
                errors.append(str(e))
                continue
            found[pb.name] = pb
    return found, errors


def parse_playbook(path: Path) -> Playbook:
    """One file -> a Playbook, or ValueError naming the file (and line, for TOML errors)."""
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read: {e}") from None
    raw.setdefault("name", path.stem)
    raw.setdefault("title", raw["name"])
    unknown = sorted(raw.keys() - _KEYS)
    if unknown:
        raise ValueError(f"{path}: {_fault(text, (unknown[0],), 'Extra inputs are not permitted')}")
    from pydantic import ValidationError

    try:
        return _validator().validate_python({**raw, "source": str(path)})
    except ValidationError as e:
        first = e.errors()[0]
        raise ValueError(f"{path}: {_fault(text, first['loc'], first['msg'])}") from None


#: The keys a playbook file may set. Any other is refused here, before pydantic,
#: which would ignore it (a misspelt key would silently do nothing).
_KEYS = {f.name for f in dataclasses.fields(Playbook)}


@functools.cache
def _validator() -> TypeAdapter[Playbook]:
    """Pydantic's validator of a playbook, built when a playbook is first read: the
    TOML is untrusted input (lists become tuples, enums are read from their values)."""
    from pydantic import TypeAdapter

    return TypeAdapter(Playbook)


def _fault(text: str, loc: tuple[str | int, ...], msg: str) -> str:
    """A validation error at `loc` as one line, with the line its top-level key is on."""
    where = ".".join(str(p) for p in loc)
    line = _key_line(text, str(loc[0])) if loc else None
    return f"{where}: {msg}" + (f" (at line {line})" if line else "")


def _key_line(text: str, key: str) -> int | None:
    """The line where a top-level key is set, to point a validation error at it."""
    for number, line in enumerate(text.splitlines(), 1):
        if line.split("=", 1)[0].strip().strip('"') == key and "=" in line:
            return number
    return None


def find_playbook(name: str, dirs: Iterable[Path] = ()) -> Playbook:
    books, errors = load_playbooks(dirs)
    if name not in books:
        broken = [e for e in errors if Path(e.split(": ", 1)[0]).stem == name]
        if broken:
            raise NotFound(f"playbook {name!r} cannot be used: {broken[0]}")
        known = ", ".join(sorted(books)) or "none"
        raise NotFound(f"no playbook {name!r} (known: {known})")
    return books[name]


def playbook_for_type(incident_type: str, books: dict[str, Playbook]) -> Playbook | None:
    """The playbook whose name or listed types match an incident type, if any."""
    t = incident_type.strip().lower()
    if not t:
        return None
    return books.get(t) or next((b for b in books.values() if t in b.types), None)
