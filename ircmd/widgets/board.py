"""The board: active incidents, most severe first; choosing one makes it current.
Resolved and in-review ones stay, under a "resolved" divider, until they are closed.

Kept in step one incident at a time: a change to INC-7 replaces INC-7's line,
it does not rebuild the list.
"""

from __future__ import annotations

import contextlib

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option, OptionDoesNotExist

from ..models import ACTIVE_STATUSES, Incident, Status
from .style import severity, status, user

DIVIDER = "resolved"  # the id of the line above the resolved and in-review incidents


def _active(inc: Incident) -> bool:
    return inc.status in ACTIVE_STATUSES


#: Before the title of an incident that alerts opened and no person has triaged yet.
UNTRIAGED = "ALERT "


def _prompt(inc: Incident, current: bool, untriaged: bool) -> Content:
    mark = [(UNTRIAGED, "bold $text-error")] if untriaged else []
    return Content.assemble(
        ("▶ " if current else "  ", "bold $text-accent"),
        (inc.key.ljust(6), "bold"),
        " ",
        severity(inc.severity),
        " ",
        status(inc.status),
        " ",
        *mark,
        user(inc.title),
    )


class Board(OptionList):
    """One line per incident not yet closed, the active ones first; Enter opens one."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.incidents: dict[int, Incident] = {}
        self.current: int | None = None
        # Opened by alerts, not yet triaged by a person (Store.untriaged); the screen
        # sets it before it upserts the incidents a batch touched.
        self.untriaged: set[int] = set()

    def load(
        self,
        incidents: list[Incident],
        current: int | None,
        untriaged: set[int],
        *,
        first: int | None = None,
    ) -> None:
        """All of `incidents` that are not closed; with `first`, only the first lines
        until `fill()`: the first frame need not measure two hundred it cannot show."""
        self.incidents = {i.id: i for i in incidents if i.status is not Status.CLOSED}
        self.current = current
        self.untriaged = untriaged
        self._rebuild(first)

    def most_lines(self) -> int | None:
        """The lines the board can show at most (its CSS max-height), if it has one."""
        top = self.styles.max_height
        return int(top.value) if top is not None and top.is_cells else None

    def fill(self) -> None:
        """The lines `load(first=...)` left out (none when a change has rebuilt the
        board since)."""
        self.add_options(self._lines_of(start=self.option_count))

    def _line(self, inc: Incident) -> Content:
        return _prompt(inc, inc.id == self.current, inc.id in self.untriaged)

    def _order(self) -> list[Incident | None]:
        """The board's incidents in line order; None is the "resolved" divider."""
        active = sorted(
            (i for i in self.incidents.values() if _active(i)),
            key=lambda i: (i.severity.value, -i.id),
        )
        resolved = sorted(
            (i for i in self.incidents.values() if not _active(i)), key=lambda i: -i.id
        )
        return [*active, None, *resolved] if resolved else [*active]

    def _lines_of(self, start: int = 0, stop: int | None = None) -> list[Option]:
        return [
            Option(Content.styled(f"── {DIVIDER} ──", "$text-muted"), id=DIVIDER, disabled=True)
            if i is None
            else Option(self._line(i), id=str(i.id))
            for i in self._order()[start:stop]
        ]

    def _rebuild(self, first: int | None = None) -> None:
        highlighted = self.highlighted_option.id if self.highlighted_option else None
        self.clear_options()
        self.add_options(self._lines_of(stop=first))
        if highlighted is not None:
            with contextlib.suppress(OptionDoesNotExist):
                self.highlighted = self.get_option_index(highlighted)
        resolved = sum(1 for i in self.incidents.values() if not _active(i))
        active = len(self.incidents) - resolved
        self.border_title = f"Board {active}" + (f" +{resolved} resolved" if resolved else "")

    def _redraw(self, n: int) -> None:
        """Incident n's line again, if the board has built it (see `load`)."""
        with contextlib.suppress(OptionDoesNotExist):
            self.replace_option_prompt(str(n), self._line(self.incidents[n]))

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
            self._redraw(inc.id)
        else:
            self._rebuild()

    def set_current(self, current: int | None) -> None:
        previous, self.current = self.current, current
        for n in (previous, current):
            if n is not None and n in self.incidents:
                self._redraw(n)
