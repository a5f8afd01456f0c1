"""The `command` hook: an executable run with the delivery's payload as JSON on its
standard input (for `sendmail`, ntfy, a pager's CLI, `gh issue create`).

It is run from its argv, never through a shell, so nothing in an event (a title, an
update's text) can become a command. Its exit status is the outcome: 0 sent, 75
(EX_TEMPFAIL, from sysexits.h) try again later, anything else a permanent failure
whose reason is the last line it wrote to standard error.

Its environment is built, not inherited: the deliverer runs in an operator's
session, whose environment may hold tokens (GH_TOKEN, AWS_*), an SSH agent's
socket or a locked session's settings, none of which a hook should be handed by
default. It gets PATH, HOME and the locale, where an `ircmd` it runs finds its
record (IRCMD_DB, XDG_*), IRCMD_HOOK and IRCMD_IDEMPOTENCY_KEY, and the variables the
hook names in `pass_env`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Mapping, Sequence

from ..display import printable
from ..settings import Hook
from .base import Delivery, Outcome

#: What `sysexits.h` calls EX_TEMPFAIL: "try again later".
EX_TEMPFAIL = 75
#: Passed through from the deliverer's environment when set. PATH, HOME and the
#: locale let a program run as it would at a prompt; the rest say which record an
#: `ircmd` the command runs writes to, so a link it records lands where the event is.
PASSED = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TZ",
    "IRCMD_DB",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_CONFIG_HOME",
)
#: What is kept of standard error: enough for its last line, however much it writes.
_STDERR_TAIL = 8192
_REASON_CHARS = 200


def environment(hook: Hook, delivery: Delivery, env: Mapping[str, str]) -> dict[str, str]:
    """The command's environment: what `PASSED` and the hook's `pass_env` name, from
    `env` (the deliverer's), and what identifies this delivery."""
    names = (*PASSED, *hook.pass_env)
    out = {name: env[name] for name in names if name in env}
    if delivery.record:
        out["IRCMD_DB"] = delivery.record
    out["IRCMD_HOOK"] = hook.name
    out["IRCMD_IDEMPOTENCY_KEY"] = delivery.idempotency_key
    return out


#: `pass_env` values shorter than this are not hidden (a region, a flag): hiding "eu"
#: in every reason would garble it, and such a value is no secret.
_SECRET_MIN = 4


def last_line(stderr: bytes, secrets: Sequence[str] = ()) -> str:
    """The last non-blank line of standard error, trimmed and safe to record: the
    values of the hook's `pass_env` variables (`secrets`) in it are hidden, since the
    reason goes on the record, which keeps it for good."""
    text = stderr.decode("utf-8", "replace")
    for secret in sorted({s for s in secrets if len(s) >= _SECRET_MIN}, key=len, reverse=True):
        text = text.replace(secret, "[hidden]")
    lines = [ln.strip() for ln in text.splitlines()]
    kept = next((ln for ln in reversed(lines) if ln), "")
    kept = printable(" ".join(kept.split()))
    return kept if len(kept) <= _REASON_CHARS else kept[: _REASON_CHARS - 1] + "…"


async def send(hook: Hook, delivery: Delivery) -> Outcome:
    """Run the hook's command once; see the module's docstring for the outcome."""
    body = json.dumps(delivery.payload, ensure_ascii=False).encode()
    program = hook.command[0]
    try:
        proc = await asyncio.create_subprocess_exec(
            *hook.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=environment(hook, delivery, os.environ),
            # Its own process group, so a timeout ends what it started too.
            start_new_session=True,
        )
    except FileNotFoundError:
        return Outcome(False, False, "missing", f"{program}: no such executable")
    except PermissionError:
        return Outcome(False, False, "not executable", f"{program}: permission denied")
    except OSError as e:
        return Outcome(False, False, "not run", f"{program}: {e.strerror or e}")
    try:
        stderr = await asyncio.wait_for(_converse(proc, body), hook.timeout)
    except TimeoutError:
        await _end(proc)
        return Outcome(False, True, "timeout", f"{program} ran past {hook.timeout:g} s")
    except BaseException:  # the deliverer stopping: leave nothing running behind it
        await _end(proc)
        raise
    code = proc.returncode
    assert code is not None
    if code == 0:
        return Outcome(True, False, "exit 0")
    reason = last_line(stderr, [os.environ[n] for n in hook.pass_env if n in os.environ])
    if code < 0:
        return Outcome(False, False, f"signal {-code}", reason or f"{program} was killed")
    return Outcome(False, code == EX_TEMPFAIL, f"exit {code}", reason)


async def _converse(proc: asyncio.subprocess.Process, body: bytes) -> bytes:
    """Write the payload, keep the tail of standard error, wait for the exit. A
    command that does not read its input is no failure of the delivery."""
    assert proc.stdin is not None and proc.stderr is not None
    stdin, stderr = proc.stdin, proc.stderr

    async def feed() -> None:
        try:
            stdin.write(body)
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            stdin.close()

    async def tail() -> bytes:
        kept = b""
        while chunk := await stderr.read(65536):
            kept = (kept + chunk)[-_STDERR_TAIL:]
        return kept

    _, kept, _ = await asyncio.gather(feed(), tail(), proc.wait())
    return kept


async def _end(proc: asyncio.subprocess.Process) -> None:
    """Kill the command's whole process group and reap it (no zombie is left)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    await proc.wait()
