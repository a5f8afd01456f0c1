"""The board: active incidents, most severe first; choosing one makes it current.

Kept in step one incident at a time: a change to INC-7 replaces INC-7's line,
it does not rebuild the list.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ..models import ACTIVE_STATUSES, Incident
from .style import severity, status, user


def _prompt(inc: Incident, current: bool) -> Content:
    return Content.assemble(
        ("▶ " if current else "  ", "bold $text-accent"),
        (inc.key.ljust(6), "bold"),
        " ",
        severity(inc.severity),
        " ",
        status(inc.status),
        " ",
        user(inc.title),
    )


class Board(OptionList):
    """One line per active incident; Enter opens it."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.incidents: dict[int, Incident] = {}
        self.current: int | None = None

    def load(self, incidents: list[Incident], current: int | None) -> None:
        self.incidents = {i.id: i for i in incidents if i.status in ACTIVE_STATUSES}
        self.current = current
        self._rebuild()

    def _order(self) -> list[Incident]:
        return sorted(self.incidents.values(), key=lambda i: (i.severity.value, -i.id))

    def _rebuild(self) -> None:
        highlighted = self.highlighted_option.id if self.highlighted_option else None
        self.clear_options()
        self.add_options(
            Option(_prompt(i, i.id == self.current), id=str(i.id)) for i in self._order()
        )
        if highlighted is not None and highlighted in {str(i) for i in self.incidents}:
            self.highlighted = self.get_option_index(highlighted)
        self.border_title = f"Board {len(self.incidents)}"

    def upsert(self, inc: Incident) -> None:
        """One incident changed: replace its line, or add/remove it when its status moved."""
        known = inc.id in self.incidents
        active = inc.status in ACTIVE_STATUSES
        old = self.incidents.get(inc.id)
        if active:
            self.incidents[inc.id] = inc
        else:
            self.incidents.pop(inc.id, None)
        if known and active and old is not None and old.severity == inc.severity:
            self.replace_option_prompt(str(inc.id), _prompt(inc, inc.id == self.current))
        elif known or active:
            self._rebuild()

    def set_current(self, current: int | None) -> None:
        previous, self.current = self.current, current
        for n in (previous, current):
            if n is not None and n in self.incidents:
                self.replace_option_prompt(str(n), _prompt(self.incidents[n], n == current))
