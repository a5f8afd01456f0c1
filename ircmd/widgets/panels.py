"""Roles and checklist panels: short lists redrawn whole from the IncidentState.

Both are a few dozen lines at most, so a redraw from the state is cheaper and
simpler than patching; the timeline is the one that must be incremental.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.content import Content
from textual.geometry import Size
from textual.widgets import Static

from .. import rules
from ..models import IncidentState, Phase, Role
from .style import user

ROLE_LABELS = {
    Role.COMMANDER: "commander",
    Role.DEPUTY: "deputy",
    Role.SCRIBE: "scribe",
    Role.COMMS: "comms",
    Role.RESPONDER: "responder",
    Role.LIAISON: "liaison",
}


class FullView(Static, can_focus=True):
    """A pane that may not fit: Enter shows all of it in a dialog (the screen's
    `show_in_full` action reads `lines`)."""

    BINDINGS = [Binding("enter", "screen.show_in_full", "Show all")]

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id)
        self.lines: list[Content] = []

    def _set_lines(self, lines: list[Content]) -> None:
        self.lines = lines
        self.update(Content("\n").join(lines))


class RolesPanel(FullView):
    """Who holds which role; roles the severity or a playbook needs are flagged.
    When the pane is too short, the last line says how many more there are."""

    def show(self, state: IncidentState | None) -> None:
        if state is None:
            self._set_lines([Content.styled("no incident", "$text-muted")])
            self.border_title = "Roles"
            return
        missing = rules.missing_roles(state)
        lines = [
            Content.assemble(
                (ROLE_LABELS[r].ljust(10), "$text-muted"), ("⚠ missing", "bold $text-warning")
            )
            for r in missing
        ]
        for role in Role:
            people = state.people(role)
            if people:
                label = Content.styled(ROLE_LABELS[role].ljust(10), "$text-muted")
                lines.append(label + user(", ".join(people)))
        if not lines:
            lines.append(Content.styled("nobody assigned: /assign ROLE PERSON", "$text-muted"))
        self._set_lines(lines)
        self.border_title = f"Roles ⚠{len(missing)}" if missing else "Roles"

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """All the lines: an auto-height pane (wide layout) grows to fit them, and
        only a pane held shorter than that needs the "+N more" line."""
        return len(self.lines)

    def render(self) -> Content:
        height = self.content_region.height
        if height < 1 or len(self.lines) <= height:
            return Content("\n").join(self.lines)
        kept = height - 1
        more = Content.styled(f"+{len(self.lines) - kept} more: Enter shows all", "$text-muted")
        return Content("\n").join([*self.lines[:kept], more])


STEP_INDENT = 7  # `nn [x] `: a long step's next lines start under its text


class Checklist(FullView):
    """Containment steps, then recovery steps in their own section, numbered as
    /check N expects; each section heading carries its done/total count. Long
    steps wrap, their next lines indented under the text (nothing is cut: at 80
    columns most steps are longer than the pane is wide)."""

    def on_resize(self) -> None:
        self.refresh(layout=True)  # the wrapping, and so the height, follow the width

    def render(self) -> Content:
        width = self.content_region.width
        if width <= STEP_INDENT + 10:
            return Content("\n").join(self.lines)
        shown: list[Content] = []
        for line in self.lines:
            if line.cell_length <= width:
                shown.append(line)
                continue
            head, *rest = line.wrap(width)
            shown.append(head)
            tail = Content(" ").join(rest)  # rewrapped narrower, under the text
            shown.extend(
                Content(" " * STEP_INDENT) + part for part in tail.wrap(width - STEP_INDENT)
            )
        return Content("\n").join(shown)

    def show(self, state: IncidentState | None) -> None:
        if state is None or not state.checklist:
            hint = "no steps: /add TEXT, /recovery TEXT, /playbook NAME" if state else "no incident"
            self._set_lines([Content.styled(hint, "$text-muted")])
            self.border_title = "Checklist"
            return
        lines: list[Content] = []
        for phase, title, hint in (
            (Phase.CONTAINMENT, "Containment", "/add TEXT"),
            (Phase.RECOVERY, "Recovery", "/recovery TEXT"),
        ):
            items = [i for i in state.checklist if i.phase is phase]
            done = sum(1 for i in items if i.done)
            heading = Content.styled(f"{title} {done}/{len(items)}", "bold")
            if not items:
                heading += Content.styled(f"  none yet: {hint}", "$text-muted")
            lines.append(heading)
            for item in items:
                box = Content.styled("[x]", "bold $text-success") if item.done else Content("[ ]")
                parts = [
                    Content(f"{item.n:>2} "),
                    box,
                    Content(" "),
                    user(item.text, "$text-muted" if item.done else ""),
                ]
                if item.assignee:
                    parts.append(user(f" @{item.assignee}", "$text-accent"))
                lines.append(Content.assemble(*parts))
        done = sum(1 for i in state.checklist if i.done)
        self._set_lines(lines)
        self.border_title = f"Checklist {done}/{len(state.checklist)}"
