"""What a locked session (IRCMD_LOCK_USER, set by an SSH forced command) may run.

The client of a locked session is a stranger to the host account, so its command
line is held to an allow-list: the verbs and options a remote person needs to run an
incident, and no argument that names a path on the host. Anything not listed,
including every verb or option added later, is unavailable until it is listed here.

The check is made by click itself rather than by matching argv: under a lock a
command that is not listed cannot be resolved, and a command's options that are not
listed do not exist, so no spelling (`-oF`, `--output=F`, after `--`) can reach them.
"""

from __future__ import annotations

import functools
import os

import click

from .config import lock_user

#: Verb path -> parameters (click's names) a locked session may give it; `--help` is
#: always there. Groups are listed by their own path with no parameters.
_LISTED: dict[tuple[str, ...], str] = {
    (): "user read_only timeout force_time version",  # not --db, --playbooks
    ("declare",): "title severity type_ impact urgency summary playbook no_playbook commander"
    " detected_at started_at at",
    ("log",): "incident words kind from_stdin echo retries retry_delay at",
    ("amend",): "incident entry text at",
    ("severity",): "incident value reason at",
    ("status",): "incident value reason override at",
    ("close",): "incident override at",
    ("assign",): "incident role person at",
    ("unassign",): "incident role person at",
    ("checklist",): "",
    ("checklist", "add"): "incident text recovery assignee at",
    ("check",): "incident n at",
    ("uncheck",): "incident n at",
    ("list",): "include_closed as_json",
    ("show",): "incident as_json",
    ("report",): "incident fmt",  # standard output only: no -o/--output
    ("verify",): "incident",
    ("anchor",): "",  # to the administrator's log only: no --log, no --sign
    ("playbooks",): "",
    ("playbook",): "incident name at",
    ("update",): "incident audience text channel final at",
    ("notify",): "incident who at",
    ("escalation",): "incident",
    ("metrics",): "incident as_json",
    ("evidence",): "",
    ("evidence", "add"): "incident description from_stdin location at",  # no --file
    ("evidence", "transfer"): "incident evid to reason at",
    ("evidence", "amend"): "incident evid text at",
    ("evidence", "list"): "incident as_json",
    ("review",): "incident summary root_cause contributing_factors whys went_well"
    " went_poorly lessons at",
    ("action",): "",
    ("action", "add"): "incident title owner due type_ review_ at",
    ("action", "set"): "action_id new_status note evidence owner due review_ at",
    ("action", "link"): "action_id url at",
    ("actions",): "overdue owner incident as_json",
    # Alerts from standard input, recorded as the locked person; the routes are the
    # administrator's config.toml. Not `serve` or `status-page`: they bind a socket
    # or write files on the host.
    ("ingest",): "fmt",
    ("public-title",): "incident text at",
    # The outbox as the record shows it (no URL or secret is ever in it), and a failed
    # delivery queued again, on the record as the locked person. Not `deliver`: it
    # reads the administrator's secrets and sends to the hosts they name.
    ("deliveries",): "",
    ("deliveries", "list"): "incident failed as_json",
    ("deliveries", "retry"): "delivery_id",
}
# The verbs generated from the slash commands (`Spec(cli=True)`) take only these,
# none a file.
SLASH_VERB_PARAMS = frozenset({"incident", "words", "at"})


@functools.cache
def allowed() -> dict[tuple[str, ...], frozenset[str]]:
    """Verb path -> the parameters a locked session may give it. Built on first use,
    under a lock only: the slash commands' registry is not imported by `ircmd log`."""
    from .entry import COMMANDS

    table = {path: frozenset(params.split()) for path, params in _LISTED.items()}
    return table | {(spec.name,): SLASH_VERB_PARAMS for spec in COMMANDS if spec.cli}


def is_locked() -> bool:
    """Read from the environment the forced command set, not from the Config: click
    resolves a verb before the root command has built the Config."""
    return bool(lock_user(os.environ))


def path_of(ctx: click.Context) -> tuple[str, ...]:
    """The verbs from the root to this context's command, e.g. ("evidence", "add")."""
    names: list[str] = []
    while ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return tuple(reversed(names))


def refused(what: str, why: str) -> click.ClickException:
    return click.ClickException(
        f"this session is locked by its administrator; {what} refused ({why})"
    )


class LockedCommand(click.Command):
    """A command that, under a lock, has only the parameters `allowed()` lists.

    An option that is not listed is reported as refused by the lock rather than as
    unknown, so the client learns why; its value is never parsed."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        if not is_locked():
            return params
        permitted = allowed().get(path_of(ctx), frozenset())
        return [p for p in params if p.name in permitted or p is self.get_help_option(ctx)]

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            rest = super().parse_args(ctx, args)
        except click.NoSuchOption as e:
            known = {o for p in super().get_params(ctx) for o in (*p.opts, *p.secondary_opts)}
            if not is_locked() or e.option_name not in known:
                raise
            what = " ".join((*path_of(ctx), e.option_name))
            raise refused(what, "a locked session names no file or setting on the host") from None
        # A parameter the lock hides still reaches the callback, as not given: None
        # (an empty tuple for a repeatable one), never a value from anywhere else.
        # So a hidden option's callback must treat None as "not given".
        for param in super().get_params(ctx):
            if param.expose_value and param.name and param.name not in ctx.params:
                ctx.params[param.name] = param.type_cast_value(ctx, None)
        return rest


class LockedGroup(click.Group, LockedCommand):
    """A group whose commands and sub-groups are LockedCommand / LockedGroup, and which,
    under a lock, resolves only the verbs `allowed()` lists."""

    command_class = LockedCommand
    group_class = type  # sub-groups are LockedGroup too

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None and is_locked():
            verb = (*path_of(ctx), cmd_name)
            if verb not in allowed():
                raise refused(" ".join(verb), "not available to a locked session")
        return cmd

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = super().list_commands(ctx)
        if not is_locked():
            return names
        return [n for n in names if (*path_of(ctx), n) in allowed()]
