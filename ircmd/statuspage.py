"""The public status page: HTML, JSON and Atom from what the commander published.

Pure: a list of `PublicIncident` in, text out; `ircmd serve` (GET /status,
/status.json, /status.atom) and `ircmd status-page --out DIR` render the same
bytes. A `PublicIncident` can only hold what is public (the public title, the
public status, the external updates), so an internal note, a name, a severity or
the internal title cannot reach the page by a slip in a template.

All user text goes through `display.printable` first (control and bidi characters
shown escaped, so an update cannot reorder the page or break the XML), then through
the escaping of the format: HTML and XML escape every `<`, `&` and quote, JSON is
`json.dumps`. No user text is ever a URL, so a `javascript:` link cannot be made.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from .display import printable
from .models import Status, incident_key


def xml_escape(text: str) -> str:
    """`&`, `<` and `>` escaped, as `xml.sax.saxutils.escape` does; not imported from
    there, since it pulls in urllib.request, http and email, which every process
    that reads the record (this module comes with the store's queries) would pay for."""
    return html.escape(text, quote=False)


FILES = {"html": "status.html", "json": "status.json", "atom": "status.atom"}

#: The public word for each status: what a reader outside needs, no internal stage.
PUBLIC_STATUS = {
    Status.REPORTED: "investigating",
    Status.TRIAGED: "investigating",
    Status.CONTAINED: "identified",
    Status.RECOVERING: "monitoring",
    Status.RESOLVED: "resolved",
    Status.IN_REVIEW: "resolved",
    Status.CLOSED: "resolved",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class PublicUpdate:
    event_id: int
    at: datetime
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PublicIncident:
    """An incident as the public sees it: only published fields."""

    id: int
    public_title: str  # "" when none was set: the page names the incident by its id
    status: Status
    updates: tuple[PublicUpdate, ...]  # external updates, oldest first; never empty

    @property
    def title(self) -> str:
        return self.public_title or f"Incident {incident_key(self.id)}"

    @property
    def public_status(self) -> str:
        return PUBLIC_STATUS[self.status]

    @property
    def updated_at(self) -> datetime:
        return self.updates[-1].at


def _text(s: str) -> str:
    return printable(s, keep_newlines=True)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _shown(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def ordered(incidents: Sequence[PublicIncident]) -> list[PublicIncident]:
    """Open incidents first, then by their latest update, newest first."""
    return sorted(
        incidents,
        key=lambda i: (i.public_status != "resolved", i.updated_at, i.id),
        reverse=True,
    )


def render_json(incidents: Sequence[PublicIncident], page_title: str) -> str:
    data = {
        "title": _text(page_title),
        "incidents": [
            {
                "id": incident_key(i.id),
                "title": _text(i.title),
                "status": i.public_status,
                "updated_at": _iso(i.updated_at),
                "updates": [{"at": _iso(u.at), "text": _text(u.text)} for u in i.updates],
            }
            for i in ordered(incidents)
        ],
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


_CSS = """
body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:46rem;padding:1rem;
color:#1d1d1f;background:#fff}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin:0}
article{border:1px solid #ccc;border-radius:6px;padding:.75rem 1rem;margin:1rem 0}
p,h2,li{overflow-wrap:anywhere;unicode-bidi:isolate}
.status{font-weight:600;text-transform:capitalize}
.open .status{color:#b45309}.resolved .status{color:#15803d}
ol{padding-left:1.2rem}time{color:#555;font-size:.9rem;display:block}
"""


def render_html(incidents: Sequence[PublicIncident], page_title: str) -> str:
    """A page that needs no JavaScript and reads on a phone (viewport, one column,
    long words wrap anywhere)."""
    title = html.escape(_text(page_title))
    shown = ordered(incidents)
    articles = []
    for i in shown:
        state = "resolved" if i.public_status == "resolved" else "open"
        items = "".join(
            f'<li><time datetime="{_iso(u.at)}">{_shown(u.at)}</time>'
            f'<p dir="auto">{html.escape(_text(u.text))}</p></li>'
            for u in reversed(i.updates)
        )
        articles.append(
            f'<article class="{state}" id="{incident_key(i.id)}">'
            f'<h2 dir="auto">{html.escape(_text(i.title))}</h2>'
            f'<p class="status">{i.public_status}</p><ol reversed>{items}</ol></article>'
        )
    body = "".join(articles) or "<p>No incidents reported.</p>"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title>"
        '<link rel="alternate" type="application/atom+xml" href="status.atom">'
        f"<style>{_CSS}</style></head>"
        f"<body><h1>{title}</h1><main>{body}</main></body></html>\n"
    )


def render_atom(incidents: Sequence[PublicIncident], page_title: str, now: datetime) -> str:
    """One entry per external update, newest first. Ids are URNs of the update's event,
    stable across renders, so a feed reader shows each update once."""
    updates = sorted(
        ((i, u) for i in incidents for u in i.updates),
        key=lambda pair: (pair[1].at, pair[1].event_id),
        reverse=True,
    )
    latest = _iso(updates[0][1].at) if updates else _iso(now)
    entries = "".join(
        "<entry>"
        f"<id>urn:ircmd:update:{u.event_id}</id>"
        f"<title>{xml_escape(_text(i.title))} ({i.public_status})</title>"
        f"<updated>{_iso(u.at)}</updated>"
        f'<content type="text">{xml_escape(_text(u.text))}</content>'
        "</entry>"
        for i, u in updates
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>urn:ircmd:status</id><title>{xml_escape(_text(page_title))}</title>"
        f"<updated>{latest}</updated><author><name>{xml_escape(_text(page_title))}</name>"
        f"</author>{entries}</feed>\n"
    )


def render(kind: str, incidents: Sequence[PublicIncident], page_title: str, now: datetime) -> str:
    """One of the three files by its key in `FILES`; `now` dates an empty feed."""
    match kind:
        case "html":
            return render_html(incidents, page_title)
        case "json":
            return render_json(incidents, page_title)
        case "atom":
            return render_atom(incidents, page_title, now)
    raise ValueError(f"no status page format {kind!r}")


def render_all(
    incidents: Sequence[PublicIncident], page_title: str, now: datetime
) -> dict[str, str]:
    """The three files by key (`FILES`), as `status-page --out` writes them."""
    return {kind: render(kind, incidents, page_title, now) for kind in FILES}
