"""`ircmd serve`: alert ingestion and the public status page over HTTP (aiohttp).

The only module that imports aiohttp; `ircmd.cli` imports it inside the `serve`
command, so every other command starts without it.

- `POST /ingest/<source>`: a configured source's payload, bearer token compared in
  constant time; routed and written whole (`alerting.receive`), together with the
  payloads that arrived meanwhile (`alerting.GroupCommit`), before the answer, so a
  200 means committed and anything else means nothing was written (the sender
  retries, and the retry is deduplicated by fingerprint).
- `GET /status`, `/status.json`, `/status.atom`: the status page, read from the
  record on each request (`statuspage`).
- A presence row (`serve` on the screens' presence line) while it runs.
- The deliverer of the config's hooks (`hooks.deliverer`), if it has any.

Every error answer is one line of JSON, `{"error": "..."}`; serve's log (stderr)
has one JSON line per payload with what became of each alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import signal
import socket
import ssl
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from . import statuspage
from .alerting import GroupCommit, Router, log_line, receive
from .models import (
    MAX_PAYLOAD_BYTES,
    SERVE_SESSION_PREFIX,
    DatabaseReplaced,
    Format,
    InvalidInput,
    IrcmdError,
    ReadOnly,
    RuleViolation,
    StorageBusy,
)
from .settings import Settings, Source
from .store import Store

#: The presence line shows a serve process as this person.
PRESENCE_NAME = "serve"
#: As often as a screen's own heartbeat (app.HEARTBEAT), so `serve` never looks gone.
HEARTBEAT_SECONDS = 10.0
_STORE: web.AppKey[Store] = web.AppKey("store", Store)
_SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
_ROUTER: web.AppKey[Router] = web.AppKey("router", Router)
_ALERTS: web.AppKey[GroupCommit] = web.AppKey("alerts", GroupCommit)
_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "Referrer-Policy": "no-referrer",
}


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": " ".join(message.split())}, status=status)


def authorized(request: web.Request, source: Source) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), source.token.encode())


async def ingest(request: web.Request) -> web.Response:
    """Every payload gets one line in serve's log, refused ones too, so the log
    accounts for each POST whatever its sender does with the answer."""
    name = request.match_info["source"]
    answer = await _ingest(request, name)
    if answer.status != 200:
        assert isinstance(answer, web.Response) and answer.text is not None
        refused = {"source": name, "status": answer.status, **json.loads(answer.text)}
        print(json.dumps(refused, ensure_ascii=False), file=sys.stderr, flush=True)
    return answer


async def _ingest(request: web.Request, name: str) -> web.Response:
    sources = request.app[_SETTINGS].ingest.sources
    source = sources.get(name)
    if source is None or not authorized(request, source):
        # An unknown name is a 404 only to a caller holding some source's token: to
        # anyone else it looks like a wrong token, so the names cannot be probed.
        if source is None and any(authorized(request, s) for s in sources.values()):
            return error(404, f"no ingest source {name!r}")
        return error(401, "missing or wrong bearer token; nothing was written")
    if (request.content_length or 0) > MAX_PAYLOAD_BYTES:
        return error(413, f"payload is larger than {MAX_PAYLOAD_BYTES} bytes; nothing was written")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return error(413, f"payload is larger than {MAX_PAYLOAD_BYTES} bytes; nothing was written")
    try:
        result = await receive(
            request.app[_ALERTS],
            request.app[_ROUTER],
            body,
            Format(source.format),
            source=name,
            actor=f"alerts:{name}",
        )
    except InvalidInput as e:
        return error(400, f"{e}; nothing was written")
    except RuleViolation as e:
        return error(409, f"{e}; nothing was written")
    except ReadOnly as e:
        return error(403, str(e))
    except StorageBusy as e:
        return error(503, f"{e}; retry")
    except DatabaseReplaced as e:  # serve stops at its next heartbeat; retried, it lands
        return error(503, str(e))
    except IrcmdError as e:
        return error(500, f"{e}; nothing was written")
    print(log_line(name, result), file=sys.stderr, flush=True)
    return web.json_response(result.model_dump())


def page(kind: str, content_type: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        store = request.app[_STORE]
        incidents = await store.public_incidents()
        title = request.app[_SETTINGS].status.title
        text = statuspage.render(kind, incidents, title, store.now())
        return web.Response(text=text, content_type=content_type, headers=_HEADERS)

    return handler


def build_app(store: Store, settings: Settings, router: Router) -> web.Application:
    # The body limit is ours to report (one JSON line), so aiohttp's is set just above it.
    app = web.Application(client_max_size=MAX_PAYLOAD_BYTES + 1)
    app[_STORE], app[_SETTINGS], app[_ROUTER] = store, settings, router
    app[_ALERTS] = GroupCommit(store)
    app.router.add_post("/ingest/{source}", ingest)
    app.router.add_get("/status", page("html", "text/html"))
    app.router.add_get("/status.json", page("json", "application/json"))
    app.router.add_get("/status.atom", page("atom", "application/atom+xml"))
    return app


def parse_listen(listen: str) -> tuple[str, int]:
    """`HOST:PORT` or `[v6]:PORT`; port 0 picks a free one (said on stdout)."""
    host, sep, port = listen.strip().rpartition(":")
    if not sep or not port.isdigit() or not host or int(port) > 65535:
        raise InvalidInput(f"--listen {listen!r}: expected HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]"), int(port)


def tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise InvalidInput("--cert and --key go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        raise InvalidInput(f"cannot load the certificate or key: {e}") from None
    return context


async def run(
    store: Store,
    settings: Settings,
    router: Router,
    listen: str,
    tls: ssl.SSLContext | None,
) -> None:
    """Serve until SIGTERM or SIGINT; prints `listening on URL` once bound."""
    host, port = parse_listen(listen)
    runner = web.AppRunner(build_app(store, settings, router), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, ssl_context=tls)
        try:
            await site.start()
        except OSError as e:
            raise InvalidInput(f"cannot listen on {listen}: {e.strerror}") from None
        bound = runner.addresses[0]
        scheme = "https" if tls else "http"
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        print(f"ircmd serve: listening on {scheme}://{shown}:{bound[1]}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        beat = asyncio.create_task(heartbeat(store))
        delivering = asyncio.create_task(deliver(store, settings, stop))
        # A deliverer that fails stops serve, with its error, rather than leave
        # deliveries waiting unseen; so does a record replaced under serve (found by
        # the heartbeat), rather than refuse every alert until someone notices.
        delivering.add_done_callback(lambda t: _stop_on_failure(t, stop))
        beat.add_done_callback(lambda t: _stop_on_failure(t, stop))
        try:
            await stop.wait()
        finally:
            beat.cancel()
            try:
                await delivering
            finally:
                with contextlib.suppress(asyncio.CancelledError):
                    await beat  # its DatabaseReplaced, if that is what stopped serve
    finally:
        await runner.cleanup()


def _stop_on_failure(task: asyncio.Task[None], stop: asyncio.Event) -> None:
    if not task.cancelled() and task.exception() is not None:
        stop.set()


async def deliver(store: Store, settings: Settings, stop: asyncio.Event) -> None:
    """The deliverer of the config's hooks (`hooks.deliverer`), until `stop`, on a
    connection of its own (its change feed sees only other connections' commits,
    this process's alerts included). No hooks: the routing is left as it is."""
    if not settings.hooks:
        return
    from .hooks.deliverer import Deliverer

    own = await Store.open(store.location, timeout=store.timeout)
    try:
        await Deliverer(own, settings).run(stop)
    finally:
        await own.close()


async def heartbeat(store: Store) -> None:
    """`serve` on the screens' presence line, so the commander sees alerts can flow;
    a killed serve drops off it when its heartbeats stop."""
    session = f"{SERVE_SESSION_PREFIX}{uuid.uuid4().hex[:12]}"
    try:
        while True:
            try:
                await store.heartbeat(session, None, PRESENCE_NAME, socket.gethostname())
            except DatabaseReplaced:
                raise  # serve stops with it (see `run`): a restart opens the new file
            except IrcmdError:
                pass  # a busy record: try at the next beat
            await asyncio.sleep(HEARTBEAT_SECONDS)
    finally:
        with contextlib.suppress(IrcmdError):
            await asyncio.shield(store.leave(session))
