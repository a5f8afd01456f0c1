"""How the record reads to a person: safe text, times and one-line event descriptions.

Shared by the command line and the screen so both say the same thing. Pure: no
Textual, no terminal I/O.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .domain import Kind, Mark

if TYPE_CHECKING:
    from .models import Event

_PICTURES = {i: chr(0x2400 + i) for i in range(0x20)} | {0x7F: "\u2421"}

# Format characters (Cf) that ordinary text needs as they are: ZWNJ and ZWJ shape
# Persian and Indic words and join emoji sequences (👩‍💻). Every other Cf is shown.
_KEPT_FORMAT = frozenset("\u200c\u200d")

# 🏴 + tag letters + CANCEL TAG: the subdivision flags (England, Scotland, Wales).
# Tag characters anywhere else are invisible ASCII look-alikes and are shown.
_EMOJI_TAG_SEQUENCE = re.compile("\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f")


def _escape(code: int) -> str:
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """User text made safe for a terminal, so what is shown is what is stored.

    - C0 controls and DEL become visible symbols (ESC shows as ␛), so a stored
      escape sequence can never drive the terminal; a newline is kept only with
      `keep_newlines`.
    - C1 controls (U+0080..U+009F, CSI among them), line and paragraph separators
      (U+2028/U+2029) and format characters (category Cf) are shown escaped, as
      `\\x9b` or `\\u202e`. Cf holds the bidirectional controls (LRE..RLO,
      LRI..PDI, LRM/RLM, ALM) that reorder how the rest of a line reads ("Trojan
      Source"), and invisible characters (zero-width space, word joiner, BOM,
      soft hyphen, tag characters, interlinear annotation marks) that can hide
      inside a host name or hash. Kept: ZWNJ/ZWJ, which real words and emoji
      need, and tag characters inside an emoji flag sequence. Rare script marks
      that are also Cf (Arabic number signs, hieroglyph joiners) show escaped:
      a small cost for a rule that also covers format characters added later.
    - Lone surrogates (Cs) are escaped: they cannot even be encoded for output.
    - Unchanged: everything else, markup-looking brackets included (the screen
      renders this as plain text), emoji, CJK, combining marks, and private-use
      characters (Co; icon fonts use them and a terminal only draws them).

    Idempotent: the result contains nothing that it would change again.
    """
    if text.isascii() and text.isprintable():
        return text  # most text, and nothing in it to show otherwise: no walk needed
    out = []
    i, end = 0, len(text)
    while i < end:
        ch = text[i]
        code = ord(ch)
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif code in _PICTURES:
            out.append(_PICTURES[code])
        elif code < 0x80 or ch in _KEPT_FORMAT:
            out.append(ch)
        elif code == 0x1F3F4 and (flag := _EMOJI_TAG_SEQUENCE.match(text, i)):
            out.append(flag.group())
            i = flag.end()
            continue
        elif code < 0xA0 or unicodedata.category(ch) in ("Cf", "Cs", "Zl", "Zp"):
            out.append(_escape(code))
        else:
            out.append(ch)
        i += 1
    return "".join(out)


# Every character that ends a line somewhere: Python's str.splitlines set (LF, VT,
# FF, CR, the file/group/record separators, NEL, U+2028/2029). CRLF is one break.
_LINE_BREAK = re.compile("\r\n|[\n\v\f\r\x1c\x1d\x1e\x85\u2028\u2029]")
NEWLINE_MARK = "\u23ce"  # ⏎


def one_line(text: str) -> str:
    """A listing's row (`list`, `actions`, `evidence list`, `escalation`): user text
    on exactly one terminal line. Each line break in it, of any kind, shows as ⏎,
    so a title with a newline cannot print what looks like another record's row;
    everything else is made safe as `printable` does."""
    return printable(_LINE_BREAK.sub(NEWLINE_MARK, text))


_NOT_ASCII = re.compile(r"[^\x20-\x7e\n]")


def json_text(data: Any) -> str:
    """JSON for a terminal or a file: exact data, yet nothing in it that
    `printable` would change reaches the output raw. Such characters can only sit
    inside strings, so they are written as JSON escapes (\\u202e) and parse back
    to the very same text; emoji and CJK stay readable."""

    def escape(m: re.Match[str]) -> str:
        ch = m.group()
        if printable(ch) == ch:
            return ch
        raw = ch.encode("utf-16-be", "surrogatepass")
        return "".join(f"\\u{int.from_bytes(raw[k : k + 2]):04x}" for k in range(0, len(raw), 2))

    dumped = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return _NOT_ASCII.sub(escape, dumped)


def hhmm(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%H:%M")


def stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def already_checked(n: int, by: str) -> str:
    """A check that found the step checked by someone else first: both are recorded."""
    return f"step {n} was already checked by {by}; yours is recorded too"


def describe(ev: Event) -> str:
    """What an event says, in one line of plain text (user text left as typed)."""
    d = ev.data
    match ev.kind:
        case Kind.DECLARE:
            return f"declared {d['severity']}: {ev.text}"
        case Kind.NOTE:
            return f"post-incident note: {ev.text}" if d.get("post_incident") else ev.text
        case Kind.DECISION:
            return f"DECISION: {ev.text}"
        case Kind.AMEND:
            return f"amends #{d['amends']}: {ev.text}"
        case Kind.SEVERITY:
            return f"severity {d['from']} -> {d['to']}" + (f" ({ev.text})" if ev.text else "")
        case Kind.STATUS:
            line = f"status {d['from']} -> {d['to']}"
            if d.get("override"):
                return line + f" OVERRIDE: {d['override']} (missing: {'; '.join(d['gaps'])})"
            return line + (f" ({ev.text})" if ev.text else "")
        case Kind.ASSIGN:
            if d["role"] == "commander" and d.get("previous"):
                return f"commander handed off {d['previous']} -> {d['person']}"
            line = f"{d['person']} is {d['role']}"
            return line + (f" (was {d['previous']})" if d.get("previous") else "")
        case Kind.UNASSIGN:
            return f"{d['person']} is no longer {d['role']}"
        case Kind.ITEM_ADD:
            who = f" @{d['assignee']}" if d.get("assignee") else ""
            return f"{d['phase']} step {d['n']} added: {ev.text}{who}"
        case Kind.CHECK:
            again = f" (already checked by {d['already']})" if d.get("already") else ""
            return f"[x] {d['n']}. {ev.text}{again}"
        case Kind.UNCHECK:
            return (
                f"[ ] {d['n']}. {ev.text} ("
                + ("no longer skipped" if d.get("unskips") else "unchecked")
                + ")"
            )
        case Kind.SKIP:
            return f"[-] {d['n']}. skipped, not applicable: {ev.text}"
        case Kind.ITEM_EDIT:
            return f"step {d['n']} corrected (#{d['corrects']}): {ev.text} (was: {d['from']})"
        case Kind.ITEM_OWN:
            owner = f"owned by {d['assignee']}" if d["assignee"] else "without an owner"
            was = f" (was {d['from']})" if d["from"] else ""
            return f"step {d['n']} {owner}{was}"
        case Kind.PLAYBOOK:
            return f"playbook {d['name']} applied: {len(d['steps'])} steps"
        case Kind.UPDATE:
            final = " FINAL" if d.get("final") else ""
            via = f" via {d['channel']}" if d.get("channel") else ""
            return f"{d['audience']}{final} update{via}: {ev.text}"
        case Kind.NOTIFY:
            again = f" (already told by {d['already']})" if d.get("already") else ""
            return f"notified {d['who']}{again}"
        case Kind.UNNOTIFY:
            return f"{d['who']} not notified after all (retracts #{d['corrects']}): {ev.text}"
        case Kind.RETITLE:
            return f"retitled: {ev.text} (was: {d['from']})"
        case Kind.SUMMARY:
            return f"summary: {ev.text}"
        case Kind.MARK:
            moment = "impact began" if d["what"] == Mark.IMPACT else "detected"
            return f"re-marked: {moment} {stamp(datetime.fromisoformat(d['at']))}: {ev.text}"
        case Kind.IMPACT:
            return "impact: " + impact_line(d["impact"])
        case Kind.ACTION_RETYPE:
            why = f": {ev.text}" if ev.text else ""
            return f"action ACT-{d['action_id']} type {d['from']} -> {d['to']}{why}"
        case Kind.EVIDENCE_ADD:
            sha = f" sha256:{d['sha256'][:12]}" if d.get("sha256") else ""
            return f"evidence EV-{d['n']} collected: {ev.text}{sha}"
        case Kind.EVIDENCE_TRANSFER:
            # A commander moving someone else's item: say who did it, on the line.
            by = f" (by {ev.actor})" if ev.actor != d["from"] else ""
            return f"evidence EV-{d['n']} custody {d['from']} -> {d['to']}{by}: {ev.text}"
        case Kind.EVIDENCE_AMEND:
            return f"evidence EV-{d['n']} amended: {ev.text}"
        case Kind.REVIEW:
            return ev.text
        case Kind.ACTION_ADD:
            owner = d.get("owner") or "no owner"
            due = f"due {d['due']}" if d.get("due") else "no due date"
            return f"action ACT-{d['action_id']} ({d['type']}, {owner}, {due}): {ev.text}"
        case Kind.ACTION_SET:
            changes = [f"{d['from']} -> {d['to']}"] if d["from"] != d["to"] else []
            changes += [
                f"{label} {d[key]}"
                for key, label in (("owner", "owner"), ("due", "due"), ("review_date", "review"))
                if d.get(key)
            ]
            move = ", ".join(changes) or "updated"
            return f"action ACT-{d['action_id']} {move}" + (f": {ev.text}" if ev.text else "")
        case Kind.ACTION_LINK:
            was = f" (was {d['from']})" if d.get("from") else ""
            return f"action ACT-{d['action_id']} tracked at {ev.text}{was}"
        case Kind.ALERT:
            opened = " (opened this incident)" if d.get("opened") else ""
            return f"ALERT {d['status']} from {d['source']}: {ev.text}{opened}"
        case Kind.PUBLIC_TITLE:
            return f"public title: {ev.text}"
        case Kind.DELIVERY:
            said = " ".join(str(d[k]) for k in ("status", "reason") if d.get(k))
            return f"delivery of #{d['of']} to {d['hook']}: {d['outcome']}" + (
                f" ({said})" if said else ""
            )
    return ev.text


def impact_line(impact: dict[str, Any]) -> str:
    """An impact event's fields in one line, the ones not given left out."""
    parts = [impact["customer_impact"]] if impact["customer_impact"] else []
    if impact["services"]:
        parts.append("services " + ", ".join(impact["services"]))
    for key, label in (("users_affected", "users"), ("records_affected", "records")):
        if impact[key] is not None:
            parts.append(f"{impact[key]} {label}")
    start, end = impact["data_loss_from"], impact["data_loss_to"]
    if start or end:
        shown = [stamp(datetime.fromisoformat(t)) if t else "?" for t in (start, end)]
        parts.append(f"data lost {shown[0]} to {shown[1]}")
    return "; ".join(parts) or "cleared"
