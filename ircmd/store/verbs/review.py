"""The post-incident review: merged field by field, refusing lost updates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from ...models import (
    REVIEW_FIELDS,
    Event,
    IncidentState,
    InvalidInput,
    Kind,
    Review,
    RuleViolation,
)
from ..reader import IncidentRef
from ..record import EVENT_COLUMNS
from ..rows import event_from_row
from ..tx import Tx, verb


@verb
def save_review(
    tx: Tx,
    /,
    ref: IncidentRef,
    *,
    actor: str,
    at: datetime | None = None,
    base: Mapping[str, str | Sequence[str]] | None = None,
    **fields: str | Sequence[str] | None,
) -> Event:
    """Merge the given review fields into the saved review, as one event.

    None leaves a field as saved; blank text (or no whys) clears it. `base`
    holds what an editor started from for the fields it changes (the review
    form): a field whose saved value has moved on from its base since, to
    something other than this save's value, refuses the whole save (a lost
    update otherwise), naming who changed it and when. Without `base` (the
    CLI, one-shot) the given fields are simply set.
    """
    unknown = (set(fields) | set(base or ())) - set(REVIEW_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown review field(s): {', '.join(sorted(unknown))}")
    given: dict[str, str | list[str]] = {}
    for k, v in fields.items():
        if v is None:
            continue
        if isinstance(v, str):
            given[k] = tx.text(v, k.replace("_", " ")) if v.strip() else ""
        else:
            given[k] = [tx.text(part, k.replace("_", " ")) for part in v]
    if not given:
        raise InvalidInput("nothing to save: give at least one review field")

    def plain(v: str | Sequence[str]) -> str | list[str]:
        return v if isinstance(v, str) else list(v)

    state = tx.state(ref)
    merged = {k: getattr(state.review, k) for k in REVIEW_FIELDS}
    merged["whys"] = list(merged["whys"])
    moved = [
        k
        for k in given
        if base is not None and k in base and merged[k] != plain(base[k]) and merged[k] != given[k]
    ]
    if moved:
        raise RuleViolation(_moved(tx, state, moved))
    merged.update(given)
    text = "review: " + ", ".join(
        k.replace("_", " ") + ("" if v else " (cleared)") for k, v in given.items()
    )
    return tx.append(state.incident.id, Kind.REVIEW, actor, text, {"review": merged}, at)


def _moved(tx: Tx, state: IncidentState, moved: list[str]) -> str:
    """Who last changed each of the `moved` review fields, and when: one line."""
    rows = tx.rows(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE incident_id = ? AND kind = ? ORDER BY id",
        (state.incident.id, Kind.REVIEW.value),
    )
    last: dict[str, Event] = {}
    blank = Review()
    before = {k: getattr(blank, k) for k in REVIEW_FIELDS}
    before["whys"] = []
    for ev in map(event_from_row, rows):
        saved = ev.data.get("review", {})
        for k in moved:
            if saved.get(k) != before.get(k):
                last[k] = ev
        before = saved
    today = tx.clock().astimezone(UTC).date()
    groups: dict[str, list[str]] = {}
    for k in moved:
        changer = last.get(k)
        if changer is None:
            who = "someone"
        else:
            when = changer.recorded_at.astimezone(UTC)
            fmt = "%H:%M" if when.date() == today else "%Y-%m-%d %H:%M"
            who = f"{changer.actor} at {when.strftime(fmt)}"
        groups.setdefault(who, []).append(k.replace("_", " "))
    parts: list[str] = []
    for who, names in groups.items():
        joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        verb_ = "was" if len(names) == 1 else "were"
        parts.append(f"{joined} {verb_} changed by {who}" if not parts else f"{joined} by {who}")
    return (
        f"the review's {' and '.join(parts)} since you opened it;"
        " your text is kept: reopen the form (r) to merge"
    )
