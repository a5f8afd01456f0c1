"""The command line (click). Only `ircmd` with no subcommand and `ircmd demo` import
Textual, so one-shot commands like `ircmd log` start fast; a command imports what
only it needs (the store, playbooks, escalation, files) when it runs, and
`ircmd log INC-n TEXT` writes through the synchronous `SyncStore`, without asyncio.

Every error reaches the user as one line, `ircmd: error: ...`, with exit status 1
(2 for usage errors) and no traceback.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Awaitable, Callable, Mapping
from contextlib import aclosing
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from . import __version__, collector, display, rules
from .config import Config, lock_user, opened, resolve
from .domain import (
    DECLARER,
    LOG_KINDS,
    MAX_PAYLOAD_BYTES,
    REVIEW_FIELDS,
    ActionType,
    DatabaseReplaced,
    Format,
    InvalidInput,
    IrcmdError,
    Kind,
    Phase,
    Status,
    StorageError,
    action_key,
    parse_action_ref,
    parse_delivery_ref,
    parse_evidence_ref,
    parse_incident_ref,
    read_only_refusal,
)
from .jsondump import jsonable
from .lock import LockedCommand, LockedGroup
from .retry import DEFAULT_DELAY, DEFAULT_RETRIES, Backoff
from .root import ROOT_OPTIONS, fail

if TYPE_CHECKING:
    from . import entry
    from .alerting import Router
    from .models import Event, Metrics, Playbook, VerifyResult
    from .settings import Settings
    from .store import Store
    from .store.facade import Face
    from .store.sync import SyncStore

T = TypeVar("T")


# ------------------------------------------------------------------ plumbing


def root_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The root command's options, from the table the screen's fast start reads too."""
    for o in reversed(ROOT_OPTIONS):
        if o.kind is None:
            f = click.option(o.flag, o.name, is_flag=True, default=None, help=o.help)(f)
        else:
            f = click.option(o.flag, o.name, type=o.kind, metavar=o.metavar, help=o.help)(f)
    return f


def cfg_of(ctx: click.Context) -> Config:
    cfg = ctx.find_object(Config)
    assert cfg is not None
    return cfg


def settle(store: Face, cfg: Config) -> None:
    """The user's limits on what a store records: --force-time and IRCMD_MAX_TEXT."""
    store.force_time = cfg.force_time
    store.max_text = cfg.max_text


def run(
    ctx: click.Context,
    body: Callable[[Store, Config], Awaitable[T]],
    *,
    reads: bool = False,
    check_anchor: bool = True,
) -> T:
    """Open the store, run one body against it, close it (an open aiosqlite
    connection would keep the process alive). A command that only `reads` never
    creates the database: a missing file is an error. On opening, the newest anchor
    is checked (one query) and a mismatch is one warning line; the body still runs."""
    import asyncio

    from .anchor import open_warning
    from .store import Store

    cfg = cfg_of(ctx)

    async def go() -> T:
        store = await Store.open(
            cfg.db, read_only=cfg.read_only, must_exist=reads, timeout=cfg.timeout
        )
        try:
            now = identified(ctx, store)
            settle(store, now)
            if check_anchor:
                warning = await open_warning(store, now.anchor)
                if warning:
                    warn(warning)
            return await body(store, now)
        finally:
            await store.close()

    return asyncio.run(go())


def run_sync(ctx: click.Context, body: Callable[[SyncStore, Config], T]) -> T:
    """`run` for a one-shot write on the synchronous `SyncStore`: the same open, the
    same anchor check and settings, without an event loop or a connection thread."""
    from .anchor import open_warning_sync
    from .store.sync import SyncStore

    cfg = cfg_of(ctx)
    with SyncStore.open(cfg.db, read_only=cfg.read_only, timeout=cfg.timeout) as store:
        cfg = identified(ctx, store)
        settle(store, cfg)
        warning = open_warning_sync(store, cfg.anchor)
        if warning:
            warn(warning)
        return body(store, cfg)


def identified(ctx: click.Context, store: Face) -> Config:
    """The Config as the opened store has it (`config.opened`): the actor is the
    database login under identity "database", and a standby is read-only. It
    becomes the command's Config, so later checks see it too."""
    cfg = opened(
        cfg_of(ctx),
        db_user=store.db_user,
        read_only=store.read_only,
        on_postgres=isinstance(store.location, str),
    )
    ctx.obj = cfg
    return cfg


def at_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--at", "at", metavar="TIME", help="When it happened: ISO-8601 or HH:MM (UTC)."
    )(f)


def when(value: str | None) -> datetime | None:
    """`--at`: a bare time of day means its latest moment, which may be yesterday's;
    say so, since a typo (23:59 for 13:59) would otherwise land a day early unseen."""
    if not value:
        return None
    now = rules_now()
    at = rules.parse_at(value, now)
    if rules.is_time_of_day(value) and at.date() != now.date():
        warn(f"--at {value.strip()} taken as {display.stamp(at)} UTC, yesterday")
    return at


def rules_now() -> datetime:
    from .store import utc_now

    return utc_now()


def out(text: str) -> None:
    click.echo(display.printable(text, keep_newlines=True))


def row(text: str) -> None:
    """One record of a listing: any line break in user text shows as ⏎, so a row
    printed is a row stored."""
    click.echo(display.one_line(text))


def emit_json(data: Any) -> None:
    click.echo(display.json_text(data))


def refuse_if_read_only(ctx: click.Context, what: str) -> None:
    """A read-only session writes nothing anywhere: no record, and no file either."""
    if cfg_of(ctx).read_only:
        raise read_only_refusal(f"{what} refused (a read-only session writes nothing)")


def warn(message: str) -> None:
    click.echo(f"ircmd: warning: {display.printable(message)}", err=True)


# ---------------------------------------------------------------------- root


class IrcmdGroup(LockedGroup):
    """The root group: the verbs generated from the slash commands are made when
    named (or listed by --help), so `ircmd log` never imports their registry."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            from .entry import COMMANDS

            spec = next((s for s in COMMANDS if s.cli and s.name == cmd_name), None)
            if spec is not None:
                self.add_command(slash_verb(spec))
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        from .entry import COMMANDS

        for spec in COMMANDS:
            if spec.cli and spec.name not in self.commands:
                self.add_command(slash_verb(spec))
        return super().list_commands(ctx)


@click.group(
    cls=IrcmdGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@root_options
@click.version_option(__version__, prog_name="ircmd")
@click.pass_context
def cli(
    ctx: click.Context,
    db: str | None,
    user: str | None,
    read_only: bool | None,
    playbooks: str | None,
    timeout: float | None,
    force_time: bool | None,
) -> None:
    """Run a live incident from one terminal screen, on a tamper-evident record.

    With no command, opens the command screen on the database.
    """
    ctx.obj = resolve(
        db=db,
        user=user,
        read_only=read_only,
        playbooks=playbooks,
        timeout=timeout,
        force_time=force_time,
    )
    if ctx.invoked_subcommand is None:
        from .app import run_app

        run_app(ctx.obj)  # the screen resumes the collector once it has painted
    else:
        collector.resume()


@cli.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Open the screen on a temporary database holding a sample incident."""
    from .app import run_demo

    refuse_if_read_only(ctx, "demo")
    run_demo(cfg_of(ctx))


# ------------------------------------------------------------ the record


@cli.command()
@click.argument("title")
@click.option(
    "--severity",
    "-s",
    metavar="SEVn",
    help="SEV1..SEV4; suggested from impact x urgency if omitted.",
)
@click.option(
    "--type",
    "type_",
    metavar="TYPE",
    default="",
    help="Incident type, e.g. outage, security; applies the playbook that lists it.",
)
@click.option("--impact", metavar="LEVEL", help="high, medium or low.")
@click.option("--urgency", metavar="LEVEL", help="high, medium or low.")
@click.option("--summary", default="", help="What is known so far.")
@click.option("--playbook", metavar="NAME", help="Apply this playbook's steps at once.")
@click.option("--no-playbook", is_flag=True, help="Apply no playbook, not even the type's.")
@click.option(
    "--commander",
    metavar="NAME",
    help='Who commands (default: you, the declarer; "" for nobody yet).',
)
@click.option("--detected-at", metavar="TIME", help="When it was detected (for metrics).")
@click.option("--started-at", metavar="TIME", help="When impact began (for metrics).")
@at_option
@click.pass_context
def declare(
    ctx: click.Context,
    title: str,
    severity: str | None,
    type_: str,
    impact: str | None,
    urgency: str | None,
    summary: str,
    playbook: str | None,
    no_playbook: bool,
    commander: str | None,
    detected_at: str | None,
    started_at: str | None,
    at: str | None,
) -> None:
    """Declare an incident; prints its id (INC-n).

    With a type and no --playbook, the playbook whose name or `types` list matches
    the type is applied (said on stderr); --no-playbook applies none."""
    from .playbooks import find_playbook, load_playbooks, playbook_for_type

    cfg = cfg_of(ctx)
    if playbook and no_playbook:
        fail("--playbook and --no-playbook exclude each other", 2)
    sev = rules.parse_severity(severity) if severity else None
    imp = rules.parse_level(impact, "impact") if impact else None
    urg = rules.parse_level(urgency, "urgency") if urgency else None
    book = find_playbook(playbook, cfg.playbook_dirs) if playbook else None
    by_type = book is None and not no_playbook and bool(type_.strip())
    if by_type:
        book = playbook_for_type(type_, load_playbooks(cfg.playbook_dirs)[0])

    async def body(store: Store, cfg: Config) -> None:
        inc = await store.declare(
            title,
            actor=cfg.user,
            severity=sev,
            type=type_,
            impact=imp,
            urgency=urg,
            summary=summary,
            at=when(at),
            detected_at=when(detected_at),
            started_at=when(started_at),
            playbook=book,
            commander=DECLARER if commander is None else commander,
        )
        click.echo(inc.key)
        if sev is None:
            click.echo(f"severity {inc.severity} ({inc.severity.meaning})", err=True)
        if by_type and book is not None:
            type_shown = display.printable(type_)
            click.echo(f"applied playbook {book.name} for type {type_shown}", err=True)

    run(ctx, body)


@cli.command()
@click.argument("incident")
@click.argument("words", nargs=-1)
@click.option(
    "--kind",
    type=click.Choice([k.value for k in LOG_KINDS]),
    default="note",
    show_default=True,
)
@click.option(
    "--stdin",
    "from_stdin",
    is_flag=True,
    help="One entry per input line, each committed as it arrives.",
)
@click.option(
    "--echo",
    is_flag=True,
    help="With --stdin: print each entry's #id once it is committed.",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 100),
    default=DEFAULT_RETRIES,
    envvar="IRCMD_RETRIES",
    show_default=True,
    metavar="N",
    help="With --stdin: retries of a line the lock, a full disk or an I/O error stopped"
    " (env IRCMD_RETRIES).",
)
@click.option(
    "--retry-delay",
    type=click.FloatRange(0, 60),
    default=DEFAULT_DELAY,
    envvar="IRCMD_RETRY_DELAY",
    show_default=True,
    metavar="SECONDS",
    help="With --stdin: the first pause before a retry, doubled each time, jittered"
    " (env IRCMD_RETRY_DELAY).",
)
@at_option
@click.pass_context
def log(
    ctx: click.Context,
    incident: str,
    words: tuple[str, ...],
    kind: str,
    from_stdin: bool,
    echo: bool,
    retries: int,
    retry_delay: float,
    at: str | None,
) -> None:
    """Append an entry to an incident's timeline: TEXT (several words are joined
    with spaces, so quotes are optional), or one entry per line of --stdin."""
    text = " ".join(words) if words else None
    if from_stdin and text is not None:
        fail("give TEXT or --stdin, not both", 2)
    if not from_stdin and text is None:
        fail("nothing to log: give the entry's TEXT or --stdin", 2)
    if text is not None:
        from .store.verbs.entries import append_entry

        def one(store: SyncStore, cfg: Config) -> None:
            ev = store.run(
                append_entry, incident, text, actor=cfg.user, kind=Kind(kind), at=when(at)
            )
            click.echo(f"#{ev.id}")

        run_sync(ctx, one)
        return
    backoff = Backoff(retries=retries, delay=retry_delay)

    async def lines(store: Store, cfg: Config) -> int:
        await store.incident(incident)  # fail before reading input for a bad id
        return await log_lines(store, cfg.user, incident, Kind(kind), when(at), backoff, echo)

    if run(ctx, lines):
        sys.exit(1)


async def log_lines(
    store: Store,
    actor: str,
    incident: str,
    kind: Kind,
    at: datetime | None,
    backoff: Backoff,
    echo: bool,
) -> int:
    """`log --stdin`: each line committed as it arrives; returns how many failed.

    Nothing is dropped silently. A line the lock, a full disk or an I/O error
    stopped is retried with backoff; one that still cannot be written, or that
    the rules refuse, is printed to stderr with its number and its exact text
    (as a JSON string) and the next line is tried. Input is read as bytes, so a
    line that is not valid UTF-8 is stored with U+FFFD in place of the bad bytes,
    with a warning. If the database file was replaced under this process, no
    later line could be written either: it stops there, and says so.
    """
    from .retry import retrying

    failures = 0
    for number, raw in enumerate(sys.stdin.buffer, 1):
        raw = raw.rstrip(b"\r\n")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = raw.decode("utf-8", errors="replace")
            warn(f"line {number} is not valid UTF-8: stored with U+FFFD for the bad bytes")
        if not line.strip():
            continue

        async def write(line: str = line) -> Event:
            return await store.log(incident, line, actor=actor, kind=kind, at=at)

        def waiting(e: IrcmdError, attempt: int, pause: float, number: int = number) -> None:
            warn(f"line {number}: {e}; retry {attempt} of {backoff.retries} in {pause:.1f} s")

        try:
            ev = await retrying(write, backoff, waiting)
        except IrcmdError as e:
            failures += 1
            quoted = json.dumps(line, ensure_ascii=False)
            click.echo(
                f"ircmd: error: line {number} not written: {display.printable(str(e))}:"
                f" {display.printable(quoted)}",
                err=True,
            )
            if isinstance(e, DatabaseReplaced):
                click.echo(
                    f"ircmd: error: stopped after line {number}; later lines not read", err=True
                )
                break
            continue
        if echo:
            click.echo(f"#{ev.id}")
    return failures


@cli.command()
@click.argument("incident")
@click.argument("entry", type=int)
@click.argument("text")
@at_option
@click.pass_context
def amend(ctx: click.Context, incident: str, entry: int, text: str, at: str | None) -> None:
    """Correct timeline entry #ENTRY; the original stays on the record."""

    async def body(store: Store, cfg: Config) -> None:
        ev = await store.amend(incident, entry, text, actor=cfg.user, at=when(at))
        click.echo(f"#{ev.id}")

    run(ctx, body)


@cli.command()
@click.argument("incident")
@click.argument("value", metavar="SEVn")
@click.option("--reason", default="")
@at_option
@click.pass_context
def severity(ctx: click.Context, incident: str, value: str, reason: str, at: str | None) -> None:
    """Change the severity (commander or deputy)."""
    sev = rules.parse_severity(value)
    run(ctx, lambda s, c: s.set_severity(incident, sev, actor=c.user, reason=reason, at=when(at)))


@cli.command()
@click.argument("incident")
@click.argument("value", metavar="STATUS")
@click.option("--reason", default="", help="Required to move back (re-open).")
@click.option("--override", default="", metavar="REASON", help="Close despite missing items.")
@at_option
@click.pass_context
def status(
    ctx: click.Context, incident: str, value: str, reason: str, override: str, at: str | None
) -> None:
    """Move the incident: reported triaged contained recovering resolved in_review closed."""
    st = rules.parse_status(value)
    run(
        ctx,
        lambda s, c: s.set_status(
            incident, st, actor=c.user, reason=reason, override=override, at=when(at)
        ),
    )


@cli.command()
@click.argument("incident")
@click.option("--override", default="", metavar="REASON", help="Close despite missing items.")
@at_option
@click.pass_context
def close(ctx: click.Context, incident: str, override: str, at: str | None) -> None:
    """Close the incident; refuses and lists what is missing unless overridden."""
    run(
        ctx,
        lambda s, c: s.set_status(
            incident, Status.CLOSED, actor=c.user, override=override, at=when(at)
        ),
    )


@cli.command()
@click.argument("incident")
@click.argument("role")
@click.argument("person")
@at_option
@click.pass_context
def assign(ctx: click.Context, incident: str, role: str, person: str, at: str | None) -> None:
    """Give PERSON a ROLE: commander (ic), deputy, scribe, comms, responder, liaison."""
    r = rules.parse_role(role)
    run(ctx, lambda s, c: s.assign(incident, r, person, actor=c.user, at=when(at)))


@cli.command()
@click.argument("incident")
@click.argument("role")
@click.argument("person")
@at_option
@click.pass_context
def unassign(ctx: click.Context, incident: str, role: str, person: str, at: str | None) -> None:
    """Take a ROLE away from PERSON."""
    r = rules.parse_role(role)
    run(ctx, lambda s, c: s.unassign(incident, r, person, actor=c.user, at=when(at)))


@cli.group()
def checklist() -> None:
    """Containment and recovery steps."""


@checklist.command("add")
@click.argument("incident")
@click.argument("text")
@click.option("--recovery", is_flag=True, help="A recovery step rather than containment.")
@click.option("--assignee", metavar="PERSON")
@at_option
@click.pass_context
def checklist_add(
    ctx: click.Context,
    incident: str,
    text: str,
    recovery: bool,
    assignee: str | None,
    at: str | None,
) -> None:
    """Add a step; prints its number."""
    phase = Phase.RECOVERY if recovery else Phase.CONTAINMENT

    async def body(store: Store, cfg: Config) -> None:
        item = await store.add_item(
            incident, text, actor=cfg.user, phase=phase, assignee=assignee, at=when(at)
        )
        click.echo(item.n)

    run(ctx, body)


def _check_command(done: bool) -> Callable[..., None]:
    @click.argument("incident")
    @click.argument("n", type=int)
    @at_option
    @click.pass_context
    def command(ctx: click.Context, incident: str, n: int, at: str | None) -> None:
        ev = run(ctx, lambda s, c: s.check(incident, n, actor=c.user, done=done, at=when(at)))
        if ev.data.get("already"):
            row(display.already_checked(n, ev.data["already"]))

    return command


cli.command("check", help="Mark checklist step N done.")(_check_command(True))
cli.command("uncheck", help="Mark checklist step N not done.")(_check_command(False))


@cli.command("list")
@click.option("--all", "include_closed", is_flag=True, help="Include closed incidents.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_(ctx: click.Context, include_closed: bool, as_json: bool) -> None:
    """Active incidents (all with --all)."""
    incidents = run(ctx, lambda s, c: s.list_incidents(include_closed=include_closed), reads=True)
    if as_json:
        emit_json([jsonable(i) | {"key": i.key} for i in incidents])
        return
    if not incidents:  # said on stderr: stdout stays empty for scripts reading it
        shown = "incidents" if include_closed else "active incidents (--all lists closed ones)"
        click.echo(f"no {shown}", err=True)
    for i in incidents:
        row(f"{i.key:<8} {i.severity} {i.status:<10} {display.stamp(i.declared_at)}  {i.title}")


@cli.command()
@click.argument("incident")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx: click.Context, incident: str, as_json: bool) -> None:
    """One incident: state, roles, checklist and its timeline."""
    write = sys.stdout.write
    if as_json:
        stream_report(ctx, incident, "json", write)
    else:
        stream_report(
            ctx, incident, "md", lambda text: write(display.printable(text, keep_newlines=True))
        )


@cli.command()
@click.argument("incident")
@click.option(
    "--format", "fmt", type=click.Choice(["md", "json", "csv"]), default="md", show_default=True
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to FILE."
)
@click.pass_context
def report(ctx: click.Context, incident: str, fmt: str, output: str | None) -> None:
    """The postmortem report of an incident."""
    if output:
        refuse_if_read_only(ctx, "report -o/--output")
    if not output:
        stream_report(ctx, incident, fmt, sys.stdout.write, terminal=sys.stdout.isatty())
        return
    files: list[TextIO] = []

    def write(text: str) -> None:
        if not files:  # opened once the incident is found: a bad id leaves no file
            files.append(open(output, "w", encoding="utf-8"))  # noqa: SIM115
        files[0].write(text)

    try:
        stream_report(ctx, incident, fmt, write)
    except OSError as e:
        fail(f"cannot write {output}: {e.strerror}")
    finally:
        for f in files:
            f.close()


def stream_report(
    ctx: click.Context,
    incident: str,
    fmt: str,
    write: Callable[[str], Any],
    *,
    terminal: bool = False,
) -> None:
    """Write an incident's report (md, json or csv) as it is read: the state and the
    few events metrics and corrections need first, then each long section (the
    timeline among them) a chunk at a time, so an incident of 100,000 entries never
    sits in memory whole. The text is the same as `report.incident_markdown`,
    `display.json_text(report.incident_json(...))` and `report.incident_csv` give,
    plus a final newline; CSV bound for a `terminal` has its control characters
    shown safely. Each stream of chunks is closed (`aclosing`) before the store is,
    even when the reader goes away."""
    from . import report as rep
    from .escalation import load_escalation

    async def body(store: Store, cfg: Config) -> None:
        # The head first, and the timeline up to it: what the report says it read.
        head = await store.head()
        state = await store.state(incident)
        now = rules_now()
        if fmt == "csv":
            write(rep.csv_header())
            async with aclosing(store.event_chunks(incident, upto=head.id)) as chunks:
                async for chunk in chunks:
                    write(rep.csv_rows(chunk, for_terminal=terminal))
            return
        # The few events every section may need, then each streamed section in turn.
        first = [
            e
            async for c in store.event_chunks(incident, kinds=rep.FIRST_READ, upto=head.id)
            for e in c
        ]
        parts = (rep.json_parts if fmt == "json" else rep.markdown_parts)(
            state, first, now, load_escalation(cfg.config_dir), head=head
        )
        await rep.stream(
            parts,
            lambda p: store.event_chunks(incident, by_time=p.by_time, kinds=p.kinds, upto=head.id),
            write,
        )
        write("\n")

    run(ctx, body, reads=True)


@cli.command()
@click.argument("incident", required=False)
@click.pass_context
def verify(ctx: click.Context, incident: str | None) -> None:
    """Recompute the hash chain, the schema and the projections, and check every
    anchor of this database; names the first bad event or anchor."""
    from .anchor import AnchorCheck, read_all, verify_anchors

    async def body(store: Store, cfg: Config) -> tuple[VerifyResult, AnchorCheck]:
        result = await store.verify(incident)
        head = result.head or await store.head()
        return result, await verify_anchors(store, cfg.anchor, head)

    try:
        result, anchors = run(ctx, body, reads=True, check_anchor=False)
    except StorageError as e:
        # A missing, emptied or unreadable record still breaks its anchors: say which.
        cfg = cfg_of(ctx)
        first = next(read_all(cfg.anchor.log, cfg.db), None) if cfg.anchor.log else None
        if first is None or first[1] is None:
            raise
        fail(f"verify failed: {e}; {first[1].describe(first[0])} does not hold")
    problems = [p for p in (anchors.failure, None if result.ok else result.message) if p]
    if problems:
        fail(f"verify failed: {'; and '.join(problems)}")
    assert result.head is not None
    if anchors.log is None:
        said = "no anchor log"
    elif anchors.checked:
        n = anchors.checked
        said = f"{n} anchor{'s' if n > 1 else ''} in {anchors.log} match{'' if n > 1 else 'es'}"
    else:
        said = f"no anchor yet in {anchors.log} (see `ircmd anchor`)"
    click.echo(f"ok: {result.message}; head #{result.head.id} {result.head.hash}; {said}")


@cli.command()
@click.option(
    "--log", "log", metavar="PATH", help="Append to this anchor log (env IRCMD_ANCHOR_LOG)."
)
@click.option(
    "--sign", "key", metavar="KEYFILE", help="Sign with this SSH key (env IRCMD_ANCHOR_KEY)."
)
@click.pass_context
def anchor(ctx: click.Context, log: str | None, key: str | None) -> None:
    """Append the chain's head (count, head id and hash, time, the database's path) to
    the anchor log, signed with an SSH key if one is given or configured."""
    from dataclasses import replace

    from .anchor import write_anchor

    cfg = cfg_of(ctx)
    if cfg.read_only:
        raise read_only_refusal("nothing was anchored")
    settings = replace(cfg.anchor, log=Path(log).expanduser()) if log else cfg.anchor
    signer = Path(key).expanduser() if key else None
    made = run(
        ctx,
        lambda s, c: write_anchor(s, settings, rules_now(), key=signer),
        check_anchor=False,
    )
    signed = " (signed)" if made.sig else ""
    click.echo(
        f"anchored {made.count} events; head #{made.head_id} {made.head_hash}{signed}"
        f" in {settings.log}"
    )


@cli.command()
@click.argument("dest", type=click.Path(dir_okay=False))
@click.pass_context
def backup(ctx: click.Context, dest: str) -> None:
    """A consistent copy of the database (safe while others write)."""
    refuse_if_read_only(ctx, "backup")
    path = run(ctx, lambda s, c: s.backup(dest))
    click.echo(f"backed up to {path}")


@cli.command()
@click.argument("backup_file", metavar="BACKUP", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Restore even while other sessions are present.")
@click.pass_context
def restore(ctx: click.Context, backup_file: str, force: bool) -> None:
    """Put BACKUP in place of the database, once its chain verifies. The current
    file (and its -wal/-shm) is kept beside it, renamed; running writers refuse
    to write after the swap instead of writing to the old file."""
    import asyncio

    from .store.restore import restore_backup

    cfg = cfg_of(ctx)
    if cfg.user_locked:
        fail("this session is locked by its administrator; restore refused (it names a host file)")
    if cfg.read_only:
        raise read_only_refusal("restore refused")
    if isinstance(cfg.db, str):
        fail(
            "restore puts a backup in place of a SQLite file; a PostgreSQL backup"
            " (`ircmd backup`, pg_dump) is restored by pg_restore into a new, empty database:"
            " pg_restore --no-owner --dbname URL BACKUP, then ircmd --db URL verify"
        )
    done = asyncio.run(restore_backup(cfg.db, Path(backup_file), force=force, timeout=cfg.timeout))
    click.echo(f"restored {cfg.db} from {backup_file} ({done.events} events)")
    if done.aside:
        click.echo(f"the previous database is kept as {done.aside} (with its -wal/-shm, if any)")


@cli.command()
@click.option(
    "--to",
    "to",
    required=True,
    metavar="URL",
    help="The PostgreSQL database to move the record to (postgresql://...); it must hold"
    " no record yet.",
)
@click.option(
    "--from",
    "from_",
    metavar="PATH",
    help="The SQLite record to move (default: the configured database file).",
)
@click.pass_context
def migrate(ctx: click.Context, to: str, from_: str | None) -> None:
    """Copy a SQLite record into an empty PostgreSQL database, event by event with
    their ids and hashes unchanged, and verify the chain and the projections there."""
    from .config import database, default_db
    from .store.migrate import migrate as move
    from .store.postgres import is_url, redact

    cfg = cfg_of(ctx)
    if cfg.read_only:
        raise read_only_refusal("migrate refused")
    if not is_url(to):
        raise InvalidInput(f"--to {to!r} is not a PostgreSQL URL (postgresql://...)")
    if from_ is not None:
        source = database(from_)
    else:
        # The configured database when it is a file; with a URL configured (the usual
        # order: config.toml first, then the move), the default file.
        source = cfg.db if isinstance(cfg.db, Path) else default_db()
    if not isinstance(source, Path):
        raise InvalidInput(
            "--from names a PostgreSQL database: migrate moves a SQLite file"
            " (between PostgreSQL databases, use pg_dump and pg_restore)"
        )
    show = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if not show:  # a terminal only: a script's stderr holds its one error line, if any
            return
        if done < total:
            click.echo(f"\rircmd: copied {done:,} of {total:,} events", err=True, nl=False)
        else:
            click.echo(f"\rircmd: copied {done:,} events; verifying them there", err=True)

    made = move(source, to, timeout=cfg.timeout, anchor_log=cfg.anchor.log, progress=progress)
    head = made.head
    click.echo(f"migrated {made.events} events; chain intact; head #{head.id} {head.hash}")
    notes = []
    if made.anchors:
        n = made.anchors
        notes.append(f"{n} anchor{'s' if n > 1 else ''} of {source} hold{'' if n > 1 else 's'}")
    if made.deliveries:
        notes.append(f"{made.deliveries} unsent or failed deliveries came along")
    notes.append(f"{source} is unchanged; point IRCMD_DB or --db at {redact(to)}")
    click.echo("; ".join(notes))


@cli.command("pg-setup")
@click.option("--apply", is_flag=True, help="Run the SQL (as --db's login, a superuser).")
@click.option(
    "--identity",
    type=click.Choice(["client", "database"]),
    help="Who names each event's actor: the client (--as, IRCMD_USER; the default) or the"
    " database (each person logs in as their own role, and the actor is that login).",
)
@click.option(
    "--roles",
    "prefix",
    metavar="PREFIX",
    default="ircmd",
    show_default=True,
    help="Name the roles PREFIX_owner, PREFIX_app and PREFIX_service.",
)
@click.option(
    "--person",
    "people",
    metavar="NAME",
    multiple=True,
    help="Instead: a login for this person, a member of PREFIX_app (repeatable).",
)
@click.option(
    "--service",
    "services",
    metavar="NAME",
    multiple=True,
    help="Instead: a login for serve / deliver, a member of PREFIX_service (repeatable).",
)
@click.pass_context
def pg_setup(
    ctx: click.Context,
    apply: bool,
    identity: str | None,
    prefix: str,
    people: tuple[str, ...],
    services: tuple[str, ...],
) -> None:
    """Print (with --apply, run) the SQL that makes a PostgreSQL record append-only by
    grants: the owner role PREFIX_owner (no login; owns the tables, created as it when
    the database holds no record yet), the group PREFIX_app (SELECT and INSERT on
    events, never UPDATE or DELETE; read and write on the other tables; read-only
    ircmd_meta) and the group PREFIX_service (PREFIX_app that may record alert
    sources and hooks as actors, for serve and deliver).

    With --person NAME / --service NAME, only the logins: CREATE ROLE NAME LOGIN IN
    ROLE PREFIX_app (or _service). How they log in (password, client certificate,
    peer/GSS) is the server's pg_hba.conf.

    --identity database: each person logs in as their own role and every event's
    actor is that login (session_user); set `identity = "database"` under [database]
    in config.toml too, and --as is refused.

    Run it as a superuser, on the primary; read what it prints before --apply.

    \b
    ircmd --db postgresql://postgres@db/ircmd pg-setup --identity database
    ircmd --db postgresql://postgres@db/ircmd pg-setup --identity database --apply
    ircmd --db postgresql://postgres@db/ircmd pg-setup --person alice --apply
    """
    from .store import pgsetup
    from .store.postgres import is_url, redact

    cfg = cfg_of(ctx)
    if not is_url(cfg.db):
        fail(
            f"pg-setup is for a PostgreSQL database, and {cfg.db} is a SQLite file:"
            " give --db postgresql://... (or [database] url in config.toml)"
        )
    if apply and cfg.read_only:
        raise read_only_refusal("pg-setup --apply refused")
    url = str(cfg.db)
    roles = pgsetup.Roles(prefix)
    if people or services:
        if identity:
            fail("--identity sets up the record: give it without --person / --service", 2)
        steps = pgsetup.login_steps(people, services, roles)
    else:
        found = pgsetup.find(url, cfg.timeout)
        steps = pgsetup.setup_steps(found, roles, identity)
    if not apply:
        click.echo(pgsetup.render(steps), nl=False)
        return
    pgsetup.apply(url, steps, cfg.timeout)
    done = ", ".join(people + services) if people or services else "roles and grants"
    click.echo(f"pg-setup applied to {redact(url)}: {done}")


# ------------------------------------------------------- classification etc.


@cli.command("playbooks")
@click.pass_context
def playbooks_(ctx: click.Context) -> None:
    """List the playbooks, name first."""
    from .playbooks import load_playbooks

    books, errors = load_playbooks(cfg_of(ctx).playbook_dirs)
    for e in errors:
        click.echo(f"ircmd: error: {display.printable(e)}", err=True)
    for b in sorted(books.values(), key=lambda b: b.name):
        steps = f"{len(b.containment)} containment, {len(b.recovery)} recovery"
        row(f"{b.name}  {b.title} ({steps}; roles: {', '.join(b.required_roles) or '-'})")
    if errors:
        sys.exit(1)


@cli.command()
@click.argument("incident")
@click.argument("name")
@at_option
@click.pass_context
def playbook(ctx: click.Context, incident: str, name: str, at: str | None) -> None:
    """Apply playbook NAME: its steps join the checklist."""
    from .playbooks import find_playbook

    book = find_playbook(name, cfg_of(ctx).playbook_dirs)

    async def body(store: Store, cfg: Config) -> None:
        ev = await store.apply_playbook(incident, book, actor=cfg.user, at=when(at))
        steps = ev.data["steps"]
        if steps:
            click.echo(f"steps {steps[0]['n']}-{steps[-1]['n']} added")

    run(ctx, body)


@cli.command()
@click.argument("incident")
@click.argument("audience", metavar="internal|external")
@click.argument("text")
@click.option("--channel", default="", help="Where it was sent (email, status page, #channel).")
@click.option("--final", is_flag=True, help="This is the final update.")
@at_option
@click.pass_context
def update(
    ctx: click.Context,
    incident: str,
    audience: str,
    text: str,
    channel: str,
    final: bool,
    at: str | None,
) -> None:
    """Log a stakeholder update; resets the update countdown."""
    aud = rules.parse_audience(audience)

    async def body(store: Store, cfg: Config) -> None:
        ev = await store.send_update(
            incident, aud, text, actor=cfg.user, channel=channel, final=final, at=when(at)
        )
        click.echo(f"#{ev.id}")
        due = rules.next_update_due(await store.state(incident))
        if due:
            click.echo(f"next update due by {display.stamp(due)} UTC", err=True)

    run(ctx, body)


@cli.command()
@click.argument("incident")
@click.argument("who")
@at_option
@click.pass_context
def notify(ctx: click.Context, incident: str, who: str, at: str | None) -> None:
    """Check off WHO as notified (see `ircmd escalation INC`)."""
    from .entry import notified
    from .escalation import contact, load_escalation, pending_contacts

    table = load_escalation(cfg_of(ctx).config_dir)  # a broken file fails before writing

    async def body(store: Store, cfg: Config) -> None:
        severity = (await store.incident(incident)).severity
        named = contact(table, severity, who)
        ev = await store.notify(incident, named, actor=cfg.user, at=when(at))
        click.echo(await notified(store, named, ev), err=True)
        state = await store.state(incident)
        pending = pending_contacts(table, state)
        left = f"still to notify: {', '.join(pending)}" if pending else "all notified"
        click.echo(f"{state.incident.severity} escalation: {left}", err=True)

    run(ctx, body)


@cli.command()
@click.argument("incident")
@click.pass_context
def escalation(ctx: click.Context, incident: str) -> None:
    """Who must be told at this severity, and who still is not."""
    from .escalation import load_escalation

    state = run(ctx, lambda s, c: s.state(incident), reads=True)
    inc = state.incident
    required = load_escalation(cfg_of(ctx).config_dir).get(inc.severity, [])
    pending = rules.pending_notifications(required, state)
    row(
        f"{inc.key} {inc.severity} ({inc.severity.label}): "
        f"{len(required) - len(pending)} of {len(required)} notified"
        + (f"; pending: {', '.join(pending)}" if pending else "")
    )
    told = {n.who.casefold(): n for n in state.notifications}
    for who in required:
        n = told.get(who.casefold())
        mark = f"[x] {display.stamp(n.notified_at)} by {n.notified_by}" if n else "[ ] pending"
        row(f"{mark}  {who}")
    wanted = {w.casefold() for w in required}
    extra = [n for n in state.notifications if n.who.casefold() not in wanted]
    for n in extra:
        row(f"[x] {display.stamp(n.notified_at)} by {n.notified_by}  {n.who} (extra)")


async def incident_metrics(store: Store, incident: str) -> Metrics:
    """Metrics from the few events they are computed from, not all of the incident's."""
    return rules.metrics(
        [e async for c in store.event_chunks(incident, kinds=rules.METRIC_KINDS) for e in c]
    )


@cli.command()
@click.argument("incident")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def metrics(ctx: click.Context, incident: str, as_json: bool) -> None:
    """Time to detect, report, acknowledge, contain and resolve, from the record."""
    m = run(ctx, lambda s, c: incident_metrics(s, incident), reads=True)
    if as_json:
        from .report import metrics_json

        emit_json(metrics_json(m))
        return
    for name, seconds in m.durations().items():
        click.echo(f"{name.replace('_', ' '):<20} {rules.format_duration(seconds)}{m.note(name)}")


# ------------------------------------------------------------------ evidence


@cli.group()
def evidence() -> None:
    """The evidence register and its chain of custody."""


@evidence.command("add")
@click.argument("incident")
@click.argument("description")
@click.option("--file", "file_", type=click.Path(dir_okay=False), help="Hash this file (sha256).")
@click.option(
    "--stdin",
    "from_stdin",
    is_flag=True,
    help="Read the item's bytes from standard input: hash them (sha256) and record the"
    " size; kept in IRCMD_EVIDENCE_DIR when the administrator set one.",
)
@click.option("--location", default="", help="Where the item is kept.")
@at_option
@click.pass_context
def evidence_add(
    ctx: click.Context,
    incident: str,
    description: str,
    file_: str | None,
    from_stdin: bool,
    location: str,
    at: str | None,
) -> None:
    """Register an item; prints its id (EV-n). You are its first custodian."""
    from .hashing import hash_file, receive

    if file_ and from_stdin:
        fail("give --file or --stdin (not both)", 2)
    refuse_if_read_only(ctx, "evidence add")  # before reading: a copy is a write too
    cfg = cfg_of(ctx)
    digest = name = received = None
    if file_:
        hashed = hash_file(Path(file_), location)
        digest, name, location = hashed.sha256, hashed.name, hashed.location
    elif from_stdin:
        received = receive(sys.stdin.buffer, cfg.evidence_dir)
        digest = received.sha256
        if received.kept is not None:
            location = "; ".join(filter(None, (location, f"copy kept at {received.kept}")))

    async def body(store: Store, cfg: Config) -> None:
        item = await store.add_evidence(
            incident,
            description,
            actor=cfg.user,
            location=location,
            sha256=digest,
            filename=name,
            size=received.size if received else None,
            at=when(at),
        )
        if received:
            received.keep()
        click.echo(item.key)
        if digest:
            size = f" ({received.size} bytes)" if received else ""
            click.echo(f"sha256 {digest}{size}", err=True)

    try:
        run(ctx, body)
    finally:
        if received:
            received.discard()  # the record refused it: no copy without an item


@evidence.command("transfer")
@click.argument("incident")
@click.argument("evid", metavar="EV-n")
@click.argument("to")
@click.option("--reason", required=True, help="Why custody changes hands.")
@at_option
@click.pass_context
def evidence_transfer(
    ctx: click.Context, incident: str, evid: str, to: str, reason: str, at: str | None
) -> None:
    """Hand an item to TO; the transfer is on the custody chain."""
    n = parse_evidence_ref(evid)
    run(
        ctx,
        lambda s, c: s.transfer_evidence(incident, n, to, reason=reason, actor=c.user, at=when(at)),
    )


@evidence.command("amend")
@click.argument("incident")
@click.argument("evid", metavar="EV-n")
@click.argument("text")
@at_option
@click.pass_context
def evidence_amend(ctx: click.Context, incident: str, evid: str, text: str, at: str | None) -> None:
    """Add a correction to an item (items are never edited)."""
    n = parse_evidence_ref(evid)
    run(ctx, lambda s, c: s.amend_evidence(incident, n, text, actor=c.user, at=when(at)))


@evidence.command("list")
@click.argument("incident")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def evidence_list(ctx: click.Context, incident: str, as_json: bool) -> None:
    """Each item with its chain of custody."""
    state = run(ctx, lambda s, c: s.state(incident), reads=True)
    if as_json:
        emit_json([jsonable(e) | {"key": e.key} for e in state.evidence])
        return
    for e in state.evidence:
        row(f"{e.key}  {e.description}")
        row(
            f"    collected {display.stamp(e.collected_at)} by {e.collected_by}"
            + (f" at {e.location}" if e.location else "")
        )
        if e.sha256:
            row(f"    sha256 {e.sha256}")
        for t in e.transfers:
            row(f"    {display.stamp(t.at)} {t.from_person} -> {t.to_person}: {t.reason}")
        for a in e.amendments:
            row(f"    amended: {a}")
        row(f"    held by {e.custodian}")


# -------------------------------------------------------------------- review


@cli.command()
@click.argument("incident")
@click.option("--summary")
@click.option("--root-cause")
@click.option("--contributing-factors", "--factors", "contributing_factors")
@click.option("--why", "whys", multiple=True, help="One of the five whys (repeat, in order).")
@click.option("--went-well")
@click.option("--went-poorly")
@click.option("--lessons")
@at_option
@click.pass_context
def review(ctx: click.Context, /, incident: str, at: str | None, **fields: Any) -> None:
    """Save post-incident review fields (others keep their saved text; "" clears one)."""
    given = {k: v for k, v in fields.items() if k in REVIEW_FIELDS}
    given["whys"] = list(given["whys"]) or None
    run(ctx, lambda s, c: s.save_review(incident, actor=c.user, at=when(at), **given))


# ------------------------------------------------------------------- actions


@cli.group()
def action() -> None:
    """Follow-up actions."""


def _date(value: str | None, what: str) -> date | None:
    return rules.parse_date(value, what) if value else None


@action.command("add")
@click.argument("incident")
@click.argument("title")
@click.option("--owner", metavar="PERSON")
@click.option("--due", metavar="YYYY-MM-DD")
@click.option(
    "--type",
    "type_",
    type=click.Choice([t.value for t in ActionType]),
    default="corrective",
    show_default=True,
)
@click.option("--review", "review_", metavar="YYYY-MM-DD", help="When to review effectiveness.")
@at_option
@click.pass_context
def action_add(
    ctx: click.Context,
    incident: str,
    title: str,
    owner: str | None,
    due: str | None,
    type_: str,
    review_: str | None,
    at: str | None,
) -> None:
    """Add a follow-up action; prints its id (ACT-n)."""
    due_d, review_d = _date(due, "due date"), _date(review_, "review date")

    async def body(store: Store, cfg: Config) -> None:
        a = await store.add_action(
            incident,
            title,
            actor=cfg.user,
            owner=owner,
            due=due_d,
            type=ActionType(type_),
            review_date=review_d,
            at=when(at),
        )
        click.echo(a.key)

    run(ctx, body)


@action.command("set")
@click.argument("action_id", metavar="ACT-n")
@click.argument("new_status", metavar="STATUS", required=False)
@click.option("--note", default="", help="Reason (wont_do) or verification (verified).")
@click.option("--evidence", default="", help="Closure evidence.")
@click.option("--owner", metavar="PERSON")
@click.option("--due", metavar="YYYY-MM-DD")
@click.option("--review", "review_", metavar="YYYY-MM-DD")
@at_option
@click.pass_context
def action_set(
    ctx: click.Context,
    action_id: str,
    new_status: str | None,
    note: str,
    evidence: str,
    owner: str | None,
    due: str | None,
    review_: str | None,
    at: str | None,
) -> None:
    """Move an action: open in_progress done verified wont_do; or change owner/dates."""
    aid = parse_action_ref(action_id)
    st = None
    if new_status:
        st = rules.parse_action_status(new_status)
    due_d, review_d = _date(due, "due date"), _date(review_, "review date")
    a = run(
        ctx,
        lambda s, c: s.set_action(
            aid,
            st,
            actor=c.user,
            note=note,
            evidence=evidence,
            owner=owner,
            due=due_d,
            review_date=review_d,
            at=when(at),
        ),
    )
    click.echo(f"{a.key} {a.status}")


@action.command("link")
@click.argument("action_id", metavar="ACT-n")
@click.argument("url", metavar="URL")
@at_option
@click.pass_context
def action_link(ctx: click.Context, action_id: str, url: str, at: str | None) -> None:
    """Record where an action is tracked outside ircmd (an issue's URL); its status and
    verification stay here."""
    aid = parse_action_ref(action_id)
    a = run(ctx, lambda s, c: s.link_action(aid, url, actor=c.user, at=when(at)))
    click.echo(f"{a.key} tracked at {a.link}")


@cli.command()
@click.option("--overdue", is_flag=True, help="Only actions past their due date.")
@click.option("--owner", metavar="PERSON")
@click.option("--incident", metavar="INC")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def actions(
    ctx: click.Context, overdue: bool, owner: str | None, incident: str | None, as_json: bool
) -> None:
    """The action log across all incidents."""
    found = run(
        ctx,
        lambda s, c: s.actions(
            incident=incident, owner=owner, overdue_at=rules_now() if overdue else None
        ),
        reads=True,
    )
    if as_json:
        emit_json([jsonable(a) | {"key": a.key} for a in found])
        return
    now = rules_now()
    for a in found:
        flag = rules.action_flag(a, now)
        late = f" {flag}" if flag else ""
        row(
            f"{action_key(a.id):<7} INC-{a.incident_id:<4} {a.status:<11} {a.owner or '-':<12} "
            f"due {a.due or '-':<10}{late}  {a.title}"
        )


# ------------------------------------------------ alerts and the status page


def _router(cfg: Config, settings: Settings) -> Router:
    from .alerting import Router

    return Router.load(settings.ingest, cfg.playbook_dirs)


@cli.command()
@click.option("--listen", metavar="HOST:PORT", help="Where to listen ([serve] listen).")
@click.option("--cert", type=click.Path(dir_okay=False), help="TLS certificate (PEM).")
@click.option("--key", type=click.Path(dir_okay=False), help="TLS private key (PEM).")
@click.pass_context
def serve(ctx: click.Context, listen: str | None, cert: str | None, key: str | None) -> None:
    """Alert ingestion (POST /ingest/SOURCE) and the status page (GET /status) over HTTP.

    Settings come from config.toml (or IRCMD_CONFIG); stops on SIGTERM or Ctrl+C."""
    # It writes alerts to the record and reads the host files --cert/--key name.
    refuse_if_read_only(ctx, "serve")
    from . import serve as server  # aiohttp: only for this command
    from .settings import load_settings

    settings = load_settings()
    router = _router(cfg_of(ctx), settings)
    tls = server.tls_context(
        Path(cert) if cert else settings.serve.cert, Path(key) if key else settings.serve.key
    )
    run(
        ctx,
        lambda store, _: server.run(store, settings, router, listen or settings.serve.listen, tls),
    )


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in Format]),
    default=Format.JSON.value,
    show_default=True,
)
@click.pass_context
def ingest(ctx: click.Context, fmt: str) -> None:
    """Alerts from standard input (one payload), routed as `serve` routes them.

    Prints what became of them as one JSON line; nothing is written if any is malformed."""
    from .alerting import log_line, receive
    from .settings import load_settings

    cfg = cfg_of(ctx)
    router = _router(cfg, load_settings())
    body = sys.stdin.buffer.read(MAX_PAYLOAD_BYTES + 1)

    async def go(store: Store, cfg: Config) -> str:
        result = await receive(store, router, body, Format(fmt), source="stdin", actor=cfg.user)
        return log_line("stdin", result)

    click.echo(run(ctx, go))


@cli.command("public-title")
@click.argument("incident")
@click.argument("text")
@at_option
@click.pass_context
def public_title(ctx: click.Context, incident: str, text: str, at: str | None) -> None:
    """The title the public status page shows for INCIDENT (never the internal one)."""
    run(ctx, lambda s, c: s.set_public_title(incident, text, actor=c.user, at=when(at)))


@cli.command("status-page")
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Directory."
)
@click.pass_context
def status_page(ctx: click.Context, out_dir: str) -> None:
    """Write the status page (status.html, status.json, status.atom) into a directory,
    the same bytes `serve` answers, for a static web server."""
    from . import statuspage
    from .settings import load_settings

    refuse_if_read_only(ctx, "status-page")
    settings = load_settings()

    async def go(store: Store, cfg: Config) -> dict[str, str]:
        incidents = await store.public_incidents()
        return statuspage.render_all(incidents, settings.status.title, store.now())

    pages = run(ctx, go, reads=True)
    folder = Path(out_dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    for kind, name in statuspage.FILES.items():
        target = folder / name
        partial = target.with_name(f".{name}.partial")
        partial.write_text(pages[kind], encoding="utf-8")
        partial.replace(target)  # a web server never serves half a page
        click.echo(str(target))


# ---------------------------------------------------------------- deliveries


@cli.command()
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit (for cron).")
@click.pass_context
def deliver(ctx: click.Context, once: bool) -> None:
    """Send the deliveries the hooks of config.toml want, until stopped (SIGTERM,
    Ctrl+C); each outcome is appended to the record.

    On start, writes the hooks' routing (names, events, filters: never a URL or a
    secret) into the database, so that every writer queues what this sends."""
    refuse_if_read_only(ctx, "deliver")  # it writes outcomes and reads config's secrets
    from .settings import load_settings

    settings = load_settings()

    async def go(store: Store, cfg: Config) -> None:
        import asyncio
        import signal

        from .hooks.deliverer import Deliverer

        deliverer = Deliverer(store, settings)
        if not settings.hooks:
            await deliverer.publish_routes()
            warn("config.toml has no [[hooks]]: nothing will be queued or sent")
            return
        if once:
            await deliverer.once()
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        names = ", ".join(h.name for h in settings.hooks)
        await deliverer.run(stop, ready=lambda: click.echo(f"ircmd deliver: sending for {names}"))

    run(ctx, go)


class DeliveriesGroup(LockedGroup):
    """`ircmd deliveries [INC] [--failed] [--json]` lists (its `list` command, named
    or not); `ircmd deliveries retry ID` queues one again."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["list", *args]
        return super().parse_args(ctx, args)


@cli.group(cls=DeliveriesGroup)
def deliveries() -> None:
    """The outbox: what was sent to which hook, what is waiting, what failed."""


@deliveries.command("list")
@click.argument("incident", required=False)
@click.option("--failed", is_flag=True, help="Only failed, given up or retrying ones.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def deliveries_list(ctx: click.Context, incident: str | None, failed: bool, as_json: bool) -> None:
    """Deliveries in the order queued, of one incident or all."""
    from .hooks.outbox import DeliveryRow
    from .store.verbs.deliveries import DELIVERY_PREFIX

    found: list[DeliveryRow] = run(
        ctx, lambda s, c: s.deliveries(incident, failing=failed), reads=True
    )
    if as_json:
        emit_json(
            [
                {
                    "id": d.id,
                    "incident": f"INC-{d.incident_id}" if d.incident_id else None,
                    "event": d.event_id,
                    "kind": d.kind,
                    "hook": d.hook,
                    "address": d.address,
                    "state": d.shown_state,
                    "attempts": d.attempts,
                    "queued_at": d.queued_at.isoformat(),
                    "next_at": d.next_at.isoformat(),
                    "status": d.last_status,
                    "reason": d.last_reason,
                }
                for d in found
            ]
        )
        return
    for d in found:
        inc = f"INC-{d.incident_id}" if d.incident_id else "-"
        said = " ".join(x for x in (d.last_status, d.last_reason) if x)
        when = f" next {display.stamp(d.next_at)}" if d.shown_state == "retrying" else ""
        to = f" to {d.address}" if d.address else ""
        row(
            f"{DELIVERY_PREFIX}{d.id:<5} {inc:<7} #{d.event_id} {d.kind:<10} {d.hook}{to}"
            f"  {d.shown_state} ({d.attempts} tries){' ' + said if said else ''}{when}"
        )


@deliveries.command("retry")
@click.argument("delivery_id", metavar="DLV-n")
@click.pass_context
def deliveries_retry(ctx: click.Context, delivery_id: str) -> None:
    """Queue a failed or given-up delivery again (a deliverer sends it)."""
    number = parse_delivery_ref(delivery_id)
    ev = run(ctx, lambda s, c: s.retry_delivery(number, actor=c.user))
    click.echo(f"#{ev.id}")


# ---------------------------------------------------------------------- main


def forced_args(argv: list[str], env: Mapping[str, str]) -> list[str]:
    """Under an SSH forced command with a locked identity, the client's own command
    (SSH_ORIGINAL_COMMAND) follows the administrator's arguments, split like a shell
    would but never run by one: `ssh ir-host log INC-3 --stdin` works, nothing else runs."""
    original = env.get("SSH_ORIGINAL_COMMAND", "").strip()
    if not (lock_user(env) and original):
        return argv
    try:
        args = shlex.split(original)
    except ValueError:
        # ssh joins the client's words with spaces, so `log INC-3 "we can't"` arrives
        # unbalanced; words split at spaces are what the client typed.
        args = original.split()
    return argv + (args[1:] if args and Path(args[0]).name == "ircmd" else args)


# ------------------------------------------- verbs from the slash commands


class CliContext:
    """One CLI invocation as a command's `entry.Context`: the incident is named on the
    command line, there are no forms, and a question becomes a warning."""

    def __init__(self, store: Store, cfg: Config, incident: str) -> None:
        self.store = store
        self.cfg = cfg
        self.incident = parse_incident_ref(incident)

    @property
    def actor(self) -> str:
        return self.cfg.user

    def ref(self) -> int:
        return self.incident

    async def write(self, op: Callable[[], Awaitable[T]]) -> T:
        if self.cfg.read_only:
            raise read_only_refusal()
        return await op()

    async def show(self, form: entry.Form) -> None:
        raise InvalidInput(f"the {form} form is on the screen only: give the arguments")

    async def open(self, number: int) -> None:
        raise InvalidInput("the command line names the incident in each command")

    async def contact(self, typed: str, confirmed: bool, at: datetime | None) -> str | None:
        from .escalation import contact, load_escalation

        table = load_escalation(self.cfg.config_dir)
        severity = (await self.store.incident(self.incident)).severity
        who = contact(table, severity, typed)
        if who not in table.get(severity, []):
            warn(f"{who} is not on the {severity} escalation list; recorded as an extra")
        return who

    async def status(self, status: Status, reason: str, at: datetime | None) -> str | None:
        await self.write(
            lambda: self.store.set_status(
                self.incident, status, actor=self.actor, reason=reason, at=at
            )
        )
        return f"status {status}"

    async def confirm(self, question: str, again: entry.Command) -> bool:
        return True  # the command line was typed whole: nothing to ask

    async def close(self, override: str, at: datetime | None) -> str:
        await self.write(
            lambda: self.store.set_status(
                self.incident, Status.CLOSED, actor=self.actor, override=override, at=at
            )
        )
        return "status closed"

    def playbook(self, name: str) -> Playbook:
        from .playbooks import find_playbook

        return find_playbook(name, self.cfg.playbook_dirs)


def slash_verb(spec: entry.Spec) -> click.Command:
    """`ircmd NAME INC-n ARGS... [--at TIME]` for a slash command with `cli=True`: the
    screen's parser, run and wording, so the two cannot drift apart."""

    @click.argument("incident")
    @click.argument("words", nargs=-1, metavar=spec.args)
    @at_option
    @click.pass_context
    def verb(ctx: click.Context, incident: str, words: tuple[str, ...], at: str | None) -> None:
        back = when(at)
        from .entry import parse

        command = parse(f"/{spec.name} {' '.join(words)}", now=rules_now())

        async def body(store: Store, cfg: Config) -> None:
            done = await command.run(CliContext(store, cfg, incident), back)
            if done:
                out(done)

        run(ctx, body)

    verb.__doc__ = f"The screen's /{spec.name}: {spec.help}."
    return click.command(spec.name, cls=LockedCommand)(verb)


def main() -> None:
    """Entry point: click in non-standalone mode so every error is one line."""
    try:
        rv = cli.main(
            args=forced_args(sys.argv[1:], os.environ), prog_name="ircmd", standalone_mode=False
        )
    except click.exceptions.Abort:
        click.echo("ircmd: aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        fail(e.format_message(), e.exit_code)
    except IrcmdError as e:
        fail(str(e))
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(rv if isinstance(rv, int) else 0)
