"""The incident header: who, what, how bad, how long, and when the next update is due.

Re-rendered from the current IncidentState on every change and once a second
for the clocks; it is two lines, so a whole redraw costs nothing. Neither line
ever wraps: the title is cut to fit (the board and Enter on it show it whole), so
the second line, the update countdown, can never be pushed off the screen.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from textual.content import Content
from textual.widgets import Static

from .. import rules, view
from ..hooks.outbox import DeliveryRow
from ..models import IncidentState, Presence
from .style import severity, status, user

# The red line while a PostgreSQL record's connection is down (the feed is retrying).
RECONNECTING = "database connection lost: reconnecting…"
# On the presence line while an `ircmd serve` is up: alerts can reach the record.
SERVING = ("  serve: alerts in", "$text-success")


class IncidentHeader(Static):
    """Incident id, title, severity, status, elapsed time, update countdown, watchers."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        *,
        me: str = "",
        locked: bool = False,
        read_only: bool = False,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._clock = clock
        self.me = me
        self.locked = locked
        self.read_only = read_only
        self.state: IncidentState | None = None
        self.watchers: list[tuple[str, list[str]]] = []
        self._presence: list[Presence] = []  # the last heartbeat's read, and who I am
        self._me = ""
        self.serving = False  # an `ircmd serve` is heartbeating on this record
        #: A deliverer is heartbeating on this record; None until presence is read.
        self.deliverer: bool | None = None
        self.failing = 0  # the open incident's deliveries failing,
        self.waiting = 0  # and still to be sent
        self.warning: str | None = None
        self.reconnecting = False  # the database connection is lost (PostgreSQL)
        self._shown: tuple[str, tuple[object, ...]] | None = None

    def on_mount(self) -> None:
        self.set_interval(1, self.redraw)
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()  # the title is cut to the width

    def show(self, state: IncidentState | None) -> None:
        self.state = state
        self._count_watchers()
        self.redraw()

    def show_watchers(self, presence: list[Presence], me: str) -> None:
        """People with this incident open, other than me, with their roles on it; and
        whether an `ircmd serve` is up (alerts can reach the record) and whether a
        deliverer is (`ircmd deliver`, or one inside serve: deliveries can go out)."""
        self._presence, self._me = presence, me
        self.serving = any(p.is_serve for p in presence)
        self.deliverer = any(p.is_deliverer for p in presence)
        self._count_watchers()
        self.redraw()

    def _count_watchers(self) -> None:
        """The watchers with their roles as the incident now stands: counted again on
        every change of it, so `/ic bob` moves "(commander)" at once, not at the next
        heartbeat (up to ten seconds later)."""
        state = self.state
        seen: dict[str, list[str]] = {}
        for p in self._presence:
            if p.is_serve or p.is_deliverer:
                continue
            if state is None or p.incident_id != state.incident.id or p.person == self._me:
                continue
            seen.setdefault(p.person, [r.value for r in state.role_of(p.person)])
        self.watchers = sorted(seen.items())

    def show_deliveries(self, rows: list[DeliveryRow]) -> None:
        """The open incident's deliveries: how many fail, how many wait to be sent."""
        self.failing = len(view.failing(rows))
        self.waiting = len(view.waiting(rows))
        self.redraw()

    def warn(self, warning: str | None) -> None:
        """A red third line that stays: the record does not match its anchor, or
        anchoring failed. None clears it."""
        self.warning = warning
        self._warned()

    def show_reconnecting(self, reconnecting: bool) -> None:
        """The database connection is lost and being retried (a red line, before any
        other warning), or it is back (the line goes)."""
        self.reconnecting = reconnecting
        self._warned()

    def _warned(self) -> None:
        self.set_class(self.warning is not None or self.reconnecting, "-warning")
        self.redraw()

    def redraw(self) -> None:
        """Called every second, but repaints only when the text changed: an idle
        session over SSH should send next to nothing."""
        content = self.build(self._clock())
        key = (content.plain, tuple(content.spans))
        if key != self._shown:
            self._shown = key
            self.update(content)

    def build(self, now: datetime) -> Content:
        content = self._build(now)
        said = [
            w for w in (RECONNECTING if self.reconnecting else None, self.warning) if w is not None
        ]
        if not said:
            return content
        line = user(f"WARNING: {'; '.join(said)}", "bold $text-error")
        return Content.assemble(content, "\n", line)

    def identity(self) -> Content:
        """Who this session writes as: `as alice`, `(locked)` when the login fixes the
        name (a locked session cannot be anyone else), `read-only` when it writes nothing."""
        if not self.me:
            return Content("")
        parts: list[Content | str | tuple[str, str]] = [
            ("as ", "$text-muted"),
            user(self.me, "bold"),
        ]
        if self.locked:
            parts.append((" (locked)", "$text-muted"))
        if self.read_only:
            parts.append((" read-only", "bold $text-warning"))
        return Content.assemble(*parts)

    def _first_line(self, left: Content, title: Content) -> Content:
        """`left title ... identity` in the width: the title gives way, with an ellipsis."""
        me = self.identity()
        width = self.content_region.width
        if width <= 0:  # not laid out yet: the resize redraws
            return Content.assemble(left, title, "  ", me)
        room = width - left.cell_length - (me.cell_length + 2 if me.cell_length else 0)
        if room < 8:  # so narrow that the identity goes first
            return Content.assemble(left, title).truncate(width, ellipsis=True)
        if title.cell_length > room:
            title = title.truncate(room, ellipsis=True)
        gap = width - left.cell_length - title.cell_length - me.cell_length
        return Content.assemble(left, title, " " * max(gap, 2), me)

    def _build(self, now: datetime) -> Content:
        state = self.state
        if state is None:
            return self._first_line(
                Content.assemble(("ircmd", "bold $text-accent"), "  "),
                Content.assemble(
                    "no incident open: ",
                    ("/declare SEV2 title", "bold"),
                    " or ",
                    ("/open INC-n", "bold"),
                ),
            )
        inc = state.incident
        first = self._first_line(
            Content.assemble(
                (inc.key, "bold"),
                " ",
                severity(inc.severity),
                " ",
                status(inc.status),
                "  ",
            ),
            user(inc.title, "bold"),
        )
        elapsed = coarse((now - inc.declared_at).total_seconds())
        parts: list[Content | str | tuple[str, str]] = [("declared ", "$text-muted"), elapsed]
        due = rules.next_update_due(state)
        if due is not None:
            left = (due - now).total_seconds()
            if left < 0:
                parts += [
                    "  ",
                    (f"UPDATE OVERDUE {coarse(-left)}", "bold $text-error"),
                ]
            else:
                parts += ["  ", ("next update ", "$text-muted"), coarse(left, exact_below=120)]
        # After the countdown, before who is watching: when the width runs out, the
        # watchers give way first.
        said = view.delivery_warning(self.failing, self.waiting, self.deliverer)
        if said:
            parts += ["  ", (said, "bold $text-error")]
        if self.serving:
            parts.append(SERVING)
        if self.watchers:
            parts.append(("  watching: ", "$text-muted"))
            for i, (person, roles) in enumerate(self.watchers):
                if i:
                    parts.append(", ")
                parts.append(user(person))
                if roles:
                    parts.append(user(f" ({'/'.join(roles)})", "$text-muted"))
        second = Content.assemble(*parts)
        width = self.content_region.width
        if 0 < width < second.cell_length:  # watchers give way: the countdown stays
            second = second.truncate(width, ellipsis=True)
        return Content.assemble(first, "\n", second)


def coarse(seconds: float, *, exact_below: float = 0) -> str:
    """A duration to the minute (to the second below `exact_below`): the header then
    changes once a minute while nothing is pressing, not every second."""
    if exact_below <= seconds < 3600:
        return f"{int(seconds // 60)}m"
    return rules.format_duration(seconds)
