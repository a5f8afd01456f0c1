"""Escalation: who must be notified at each severity (shipped defaults + user TOML)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from . import rules
from .models import IncidentState, InvalidInput, Severity

SHIPPED = Path(__file__).with_name("escalation.toml")


def contact(table: Mapping[Severity, list[str]], severity: Severity, who: str) -> str:
    """`who` as the escalation list of `severity` spells it, so that "legal counsel"
    notifies the listed "Legal Counsel" instead of recording a second contact."""
    return rules.contact_name(who, table.get(severity, []))


def pending_contacts(table: Mapping[Severity, list[str]], state: IncidentState) -> list[str]:
    """Contacts on the list of the incident's severity not yet told, in the list's order."""
    return rules.pending_notifications(table.get(state.incident.severity, []), state)


def load_escalation(config_dir: Path | None = None) -> dict[Severity, list[str]]:
    """Shipped defaults, overridden per severity by `<config>/escalation.toml`."""
    table = _read(SHIPPED)
    user = config_dir / "escalation.toml" if config_dir else None
    if user and user.exists():
        table.update(_read(user))
    return table


def _read(path: Path) -> dict[Severity, list[str]]:
    import tomllib  # here: the screen reads the lists after its first frame

    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise InvalidInput(f"{path}: {e}") from None
    out: dict[Severity, list[str]] = {}
    for key, who in raw.items():
        try:
            sev = Severity(key.upper())
        except ValueError:
            raise InvalidInput(f"{path}: unknown severity {key!r}") from None
        if not isinstance(who, list) or not all(isinstance(w, str) for w in who):
            raise InvalidInput(f"{path}: {key} must be a list of names")
        out[sev] = who
    return out
