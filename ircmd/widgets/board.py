"""The board: active incidents, most severe first; choosing one makes it current.
Resolved and in-review ones stay, under a "resolved" divider, until they are closed.

Kept in step one incident at a time: a change to INC-7 replaces INC-7's line,
it does not rebuild the list.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ..models import ACTIVE_STATUSES, Incident, Status
from .style import severity, status, user

DIVIDER = "resolved"  # the id of the line above the resolved and in-review incidents


def _active(inc: Incident) -> bool:
    return inc.status in ACTIVE_STATUSES


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
    """One line per incident not yet closed, the active ones first; Enter opens one."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.incidents: dict[int, Incident] = {}
        self.current: int | None = None

    def load(self, incidents: list[Incident], current: int | None) -> None:
        self.incidents = {i.id: i for i in incidents if i.status is not Status.CLOSED}
        self.current = current
        self._rebuild()

    def _order(self) -> list[Incident]:
        return sorted(
            (i for i in self.incidents.values() if _active(i)),
            key=lambda i: (i.severity.value, -i.id),
        )

    def _resolved(self) -> list[Incident]:
        return sorted((i for i in self.incidents.values() if not _active(i)), key=lambda i: -i.id)

    def _rebuild(self) -> None:
        highlighted = self.highlighted_option.id if self.highlighted_option else None
        self.clear_options()
        self.add_options(
            Option(_prompt(i, i.id == self.current), id=str(i.id)) for i in self._order()
        )
        resolved = self._resolved()
        if resolved:
            rule = Content.styled(f"── {DIVIDER} ──", "$text-muted")
            self.add_option(Option(rule, id=DIVIDER, disabled=True))
            self.add_options(
                Option(_prompt(i, i.id == self.current), id=str(i.id)) for i in resolved
            )
        if highlighted is not None and highlighted in {str(i) for i in self.incidents}:
            self.highlighted = self.get_option_index(highlighted)
        active = len(self.incidents) - len(resolved)
        self.border_title = f"Board {active}" + (f" +{len(resolved)} resolved" if resolved else "")

    def upsert(self, inc: Incident) -> None:
        """One incident changed: replace its line, or rebuild when it moved (severity,
        active to resolved and back, closed: off the board)."""
        old = self.incidents.get(inc.id)
        if inc.status is Status.CLOSED:
            if self.incidents.pop(inc.id, None) is not None:
                self._rebuild()
            return
        self.incidents[inc.id] = inc
        if old is not None and old.severity == inc.severity and _active(old) == _active(inc):
            self.replace_option_prompt(str(inc.id), _prompt(inc, inc.id == self.current))
        else:
            self._rebuild()

    def set_current(self, current: int | None) -> None:
        previous, self.current = self.current, current
        for n in (previous, current):
            if n is not None and n in self.incidents:
                self.replace_option_prompt(str(n), _prompt(self.incidents[n], n == current))
