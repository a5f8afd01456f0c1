"""Roles and checklist panels: short lists redrawn whole from the IncidentState.

Both are a few dozen lines at most, so a redraw from the state is cheaper and
simpler than patching; the timeline is the one that must be incremental.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.binding import Binding
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.widgets import Static

from .. import rules
from ..models import ChecklistItem, IncidentState, Phase, Role
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
CURSOR = "bold $block-cursor-foreground on $block-cursor-background"


class Checklist(FullView):
    """Containment steps, then recovery steps in their own section, numbered as
    /check N expects; each section heading carries its done/total count (skipped
    steps after a `+`: settled for closing, yet not done). Long steps wrap, their
    next lines indented under the text (nothing is cut: at 80 columns most steps
    are longer than the pane is wide).

    With the focus, Up/Down (k/j) select a step and Space or x toggles it: the
    pane only posts `Toggled`, the screen runs it as `/check N` would, so a
    read-only session or a refusal is said the same way."""

    BINDINGS = [
        Binding("up,k", "select(-1)", "Up", show=False),
        Binding("down,j", "select(1)", "Down", show=False),
        Binding("space,x", "toggle_step", "Toggle", key_display="Space"),
    ]

    class Toggled(Message):
        """Space or x on step `n`: `done` is what it should become."""

        def __init__(self, n: int, done: bool) -> None:
            super().__init__()
            self.n = n
            self.done = done

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id)
        self.steps: list[int | None] = []  # per line of `lines`: its step, None for a heading
        self.done: dict[int, bool] = {}
        # By step number, not line: a redraw (another session's check) keeps it in place.
        self.selected: int | None = None
        self.top = 0  # the first line shown: see render

    def on_resize(self) -> None:
        self.refresh(layout=True)  # the wrapping, and so the height, follow the width

    def on_focus(self) -> None:
        self.refresh()  # the selection shows only while the pane has the focus

    def on_blur(self) -> None:
        self.refresh()  # and the pane goes back to its first line

    def _wrapped(self, width: int) -> list[list[Content]]:
        """Each line of `lines` as the screen lines it takes at `width`."""
        if width <= STEP_INDENT + 10:
            return [[line] for line in self.lines]
        shown: list[list[Content]] = []
        for line in self.lines:
            if line.cell_length <= width:
                shown.append([line])
                continue
            head = line.wrap(width)[0]
            # The rest of the step as it was, rewrapped narrower under the text. Not its
            # wrapped lines joined: a word longer than the pane came out folded at the
            # full width, and refolded narrower it alternated long and short lines.
            tail = line[len(head.plain) :]
            tail = tail[len(tail.plain) - len(tail.plain.lstrip()) :]
            shown.append(
                [head, *(Content(" " * STEP_INDENT) + p for p in tail.wrap(width - STEP_INDENT))]
            )
        return shown

    def render(self) -> Content:
        """The steps from `top` on: while the selection shows, `top` moves just
        enough to keep all of the selected step in the pane (a Static does not
        scroll, and at 80x24 a playbook's steps do not fit)."""
        width, height = self.content_region.width, self.content_region.height
        shown: list[Content] = []
        first = last = None
        for step, parts in zip(self.steps, self._wrapped(width), strict=True):
            if self.has_focus and step is not None and step == self.selected:
                parts = [
                    p.extend_right(max(0, width - p.cell_length)).stylize(CURSOR) for p in parts
                ]
                first, last = len(shown), len(shown) + len(parts)
            shown.extend(parts)
        if first is None or last is None or height < 1:
            self.top = 0
        else:  # with the line above it: a section's heading, or the step before
            above = max(0, first - 1)
            if above < self.top:
                self.top = above
            elif last > self.top + height:
                self.top = min(above, last - height)
        return Content("\n").join(shown[self.top :])

    def action_select(self, move: int) -> None:
        """The next or previous step; from no selection, Down starts at the first."""
        order = [n for n in self.steps if n is not None]
        if not order:
            return
        if self.selected in order:
            at = max(0, min(len(order) - 1, order.index(self.selected) + move))
        else:
            at = 0 if move > 0 else len(order) - 1
        self.selected = order[at]
        self.refresh()

    def action_toggle_step(self) -> None:
        """Post, not write: the screen holds the session, and its `/check N` path
        already says a read-only refusal or someone else's check."""
        if self.selected in self.done:
            self.post_message(self.Toggled(self.selected, not self.done[self.selected]))

    def show(self, state: IncidentState | None) -> None:
        if state is None or not state.checklist:
            hint = "no steps: /add TEXT, /recovery TEXT, /playbook NAME" if state else "no incident"
            self.steps, self.done = [None], {}
            self._set_lines([Content.styled(hint, "$text-muted")])
            self.border_title = "Checklist"
            return
        lines: list[Content] = []
        steps: list[int | None] = []
        for phase, title, hint in (
            (Phase.CONTAINMENT, "Containment", "/add TEXT"),
            (Phase.RECOVERY, "Recovery", "/recovery TEXT"),
        ):
            items = [i for i in state.checklist if i.phase is phase]
            heading = Content.styled(f"{title} {_count(items)}", "bold")
            if not items:
                heading += Content.styled(f"  none yet: {hint}", "$text-muted")
            lines.append(heading)
            steps.append(None)
            for item in items:
                lines.append(_step(item))
                steps.append(item.n)
        self.steps = steps
        self.done = {i.n: i.done for i in state.checklist}
        self._set_lines(lines)
        self.border_title = f"Checklist {_count(state.checklist)}"


def _count(items: Sequence[ChecklistItem]) -> str:
    """`done/total`, or `done+skipped/total` once a step is skipped."""
    done = sum(1 for i in items if i.done)
    skipped = sum(1 for i in items if i.skipped and not i.done)
    return f"{done}+{skipped}/{len(items)}" if skipped else f"{done}/{len(items)}"


def _step(item: ChecklistItem) -> Content:
    """`nn [x] text @owner`; a skipped step struck through and muted, with its reason."""
    skipped = item.skipped and not item.done
    if item.done:
        box = Content.styled("[x]", "bold $text-success")
    elif skipped:
        box = Content.styled("[-]", "$text-muted")
    else:
        box = Content("[ ]")
    text_style = "strike $text-muted" if skipped else "$text-muted" if item.done else ""
    parts = [Content(f"{item.n:>2} "), box, Content(" "), user(item.text, text_style)]
    if item.assignee:
        parts.append(user(f" @{item.assignee}", "$text-accent"))
    if skipped:
        parts.append(user(f" — skipped: {item.skip_reason or 'no reason given'}", "$text-muted"))
    return Content.assemble(*parts)
