"""Shared ways of putting user text and domain values on screen.

Everything a user typed goes through `user()` (display.printable) and into a
Content span, never into markup: `[/]` or `[@click=...]` in a title stays text.
Colours are theme variables so the screen reads in dark and light themes.
"""

from __future__ import annotations

from textual.content import Content

from .. import display
from ..models import Severity, Status

SEVERITY_STYLE = {
    Severity.SEV1: "bold $text-error",
    Severity.SEV2: "bold $text-warning",
    Severity.SEV3: "bold $text-accent",
    Severity.SEV4: "bold $text-success",
}

STATUS_STYLE = {
    Status.REPORTED: "$text-warning",
    Status.TRIAGED: "$text-warning",
    Status.CONTAINED: "$text-accent",
    Status.RECOVERING: "$text-accent",
    Status.RESOLVED: "$text-success",
    Status.IN_REVIEW: "$text-success",
    Status.CLOSED: "$text-muted",
}


def user(text: str, style: str = "") -> Content:
    """A user's string as inert Content: control characters shown as symbols."""
    return (
        Content.styled(display.printable(text), style)
        if style
        else Content(display.printable(text))
    )


def severity(sev: Severity) -> Content:
    return Content.styled(sev.value, SEVERITY_STYLE[sev])


def status(st: Status) -> Content:
    return Content.styled(st.value, STATUS_STYLE[st])
