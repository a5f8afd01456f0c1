"""The status page: only what was published, and user text escaped in HTML, XML and
JSON (script tags, attribute breakers, `javascript:` links, bidi controls, very
long words), from the renderers and from `ircmd status-page --out` and `serve`."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers.cli import Cli
from helpers.db import Ref
from helpers.serve import Server, write_config

from ircmd.models import Status
from ircmd.statuspage import PublicIncident, PublicUpdate, render_all

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    "javascript:alert(document.cookie)",
    "[click](javascript:alert(1))",
    "abc\u202edcba\u2066x\u2069 done",
    "W" * 5000,
    "]]><!-- & &amp; \x00\x1b[31m",
]


def incident(title: str, *texts: str, status: Status = Status.CONTAINED) -> PublicIncident:
    updates = tuple(
        PublicUpdate(event_id=i + 10, at=NOW.replace(minute=i), text=t) for i, t in enumerate(texts)
    )
    return PublicIncident(id=3, public_title=title, status=status, updates=updates)


class Tags(HTMLParser):
    """Every tag and attribute the HTML actually has, as a browser would parse it."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_stays_text_in_html(hostile: str) -> None:
    page = render_all([incident(hostile, hostile)], hostile, NOW)["html"]
    parsed = Tags()
    parsed.feed(page)
    assert set(parsed.tags) <= {
        "html", "head", "meta", "title", "link", "style", "body", "h1", "main",
        "article", "h2", "p", "ol", "li", "time",
    }  # fmt: skip
    names = {name for name, _ in parsed.attrs}
    assert not {n for n in names if n.startswith("on")}
    assert all("javascript" not in (v or "") for _, v in parsed.attrs)
    assert "<script" not in page.lower().replace("&lt;script", "")
    # Bidi controls and other invisibles are shown escaped, never acted on.
    assert not re.search("[\u202a-\u202e\u2066-\u2069\x00\x1b]", page)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_stays_text_in_atom_and_json(hostile: str) -> None:
    pages = render_all([incident(hostile, hostile)], hostile, NOW)
    feed = ET.fromstring(pages["atom"].encode())
    ns = {"a": "http://www.w3.org/2005/Atom"}
    (entry,) = feed.findall("a:entry", ns)
    shown = entry.findtext("a:content", namespaces=ns) or ""
    assert len(list(entry.iter())) == 5  # entry, id, title, updated, content: nothing injected
    data = json.loads(pages["json"])
    assert data["incidents"][0]["updates"][0]["text"] == shown
    if hostile.isprintable():
        assert shown == hostile  # escaped for the format, not changed


def test_a_very_long_word_may_wrap_anywhere() -> None:
    page = render_all([incident("W" * 5000, "W" * 5000)], "Status", NOW)["html"]
    assert "overflow-wrap:anywhere" in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page


def test_open_incidents_come_first_and_updates_newest_first() -> None:
    old = replace(incident("Old", "done", status=Status.RESOLVED), id=1)
    new = incident("Now", "first", "second")
    data = json.loads(render_all([old, new], "S", NOW)["json"])
    assert [i["title"] for i in data["incidents"]] == ["Now", "Old"]
    assert [i["status"] for i in data["incidents"]] == ["identified", "resolved"]
    page = render_all([new], "S", NOW)["html"]
    assert page.index("second") < page.index("first")


def test_no_public_title_names_the_incident_by_its_id() -> None:
    data = json.loads(render_all([incident("", "x")], "S", NOW)["json"])
    assert data["incidents"][0]["title"] == "Incident INC-3"


SECRETS = (
    "Internal: db-7 disk full",
    "carol",
    "dave",
    "SEV1",
    "internal note",
    "EV-1",
    "secret.log",
)


def published(cli: Cli) -> None:
    """One incident with internal everything and one external update; one with none."""
    cli.ok("declare", "Internal: db-7 disk full", "--severity", "SEV1", "--no-playbook")
    cli.ok("assign", "INC-1", "ic", "carol")
    cli.ok("log", "INC-1", "internal note about dave", user="carol")
    cli.ok("evidence", "add", "INC-1", "secret.log", "--stdin", input="x", user="carol")
    cli.ok("update", "INC-1", "internal", "internal note: paging dave", user="carol")
    cli.ok("update", "INC-1", "external", "We are looking into slow checkouts.", user="carol")
    cli.ok("public-title", "INC-1", "Slow checkout", user="carol")
    cli.ok("declare", "Unpublished thing", "--no-playbook")


def test_the_page_shows_only_what_the_commander_published(tmp_path: Path, db_ref: Ref) -> None:
    cli = Cli(tmp_path, db_ref)
    published(cli)
    # Only the commander (or deputy) names the incident in public.
    cli.fails("public-title", "INC-1", "Mine", says="commander")
    out = tmp_path / "site"
    written = cli.ok("status-page", "--out", str(out)).out.split()
    assert sorted(Path(p).name for p in written) == ["status.atom", "status.html", "status.json"]
    for name in ("status.html", "status.json", "status.atom"):
        text = (out / name).read_text()
        assert "Slow checkout" in text and "We are looking into slow checkouts." in text
        for secret in (*SECRETS, "Unpublished thing", "INC-2"):
            assert secret not in text, (name, secret)


def test_serve_answers_the_same_bytes_as_status_page(
    tmp_path: Path, db_ref: Ref, server: type[Server]
) -> None:
    cli = Cli(tmp_path, db_ref)
    published(cli)
    out = tmp_path / "site"
    cli.ok("status-page", "--out", str(out))
    s = server(cli.db, write_config(tmp_path))
    for path, name, kind in (
        ("/status", "status.html", "text/html"),
        ("/status.json", "status.json", "application/json"),
        ("/status.atom", "status.atom", "application/atom+xml"),
    ):
        r = s.get(path)
        assert r.status == 200
        assert r.headers["Content-Type"].startswith(kind)
        assert r.body == (out / name).read_bytes()
    assert "default-src 'none'" in s.get("/status").headers["Content-Security-Policy"]


def test_status_page_is_refused_to_a_read_only_session(tmp_path: Path, db_ref: Ref) -> None:
    cli = Cli(tmp_path, db_ref)
    published(cli)
    cli.fails("--read-only", "status-page", "--out", str(tmp_path / "site"), says="read-only")
    assert not (tmp_path / "site").exists()
