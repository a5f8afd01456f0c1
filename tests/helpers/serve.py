"""`ircmd serve` as a real process on a free loopback port, and real HTTP to it;
`ircmd deliver`, the other deliverer, as a process too.

`Server` starts serve with `--listen 127.0.0.1:0` and reads the port it bound from
its first line; the `server` fixture stops every one it started. `post` and `get`
are plain urllib over 127.0.0.1: no mocked transport. Payload builders make the
formats' real shapes.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ircmd.store import Store

from .cli import IRCMD, clean_env
from .processes import DEADLINE, _lines, _next

TOKEN = "alertmanager-token-0123456789"
GRAFANA_TOKEN = "grafana-token-0123456789abcdef"
JSON_TOKEN = "json-token-0123456789abcdef012"

CONFIG = f"""
[serve]
listen = "127.0.0.1:0"

[ingest.sources.alertmanager]
format = "alertmanager"
token = "{TOKEN}"

[ingest.sources.grafana]
format = "grafana"
token = "{GRAFANA_TOKEN}"

[ingest.sources.own]
format = "json"
token = "{JSON_TOKEN}"

[[ingest.routes]]
match = {{ team = "payments" }}
severity = "SEV2"
type = "outage"
playbook = "service-outage"
group_by = ["alertname", "service"]

[[ingest.routes]]
match = {{ alertname = "Watchdog" }}
drop = true

[ingest.defaults]
group_by = ["alertname"]
"""


def write_config(root: Path, text: str = CONFIG, mode: int = 0o600) -> Path:
    path = root / "config.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


@dataclass
class Reply:
    status: int
    body: bytes
    headers: Mapping[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


def request(url: str, data: bytes | None = None, headers: Mapping[str, str] | None = None) -> Reply:
    req = urllib.request.Request(url, data=data, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(req, timeout=DEADLINE) as r:
            return Reply(r.status, r.read(), dict(r.headers))
    except urllib.error.HTTPError as e:
        return Reply(e.code, e.read(), dict(e.headers))


class Server:
    """One `ircmd serve` on `db`, configured by `config`, as alice's OS account."""

    def __init__(
        self, db: Path, home: Path, config: Path, env: Mapping[str, str] | None = None
    ) -> None:
        env = clean_env(home, {"IRCMD_DB": str(db), "IRCMD_CONFIG": str(config), **(env or {})})
        self.proc = subprocess.Popen(
            [*IRCMD, "serve", "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.out = _lines(self.proc.stdout)
        self.err = _lines(self.proc.stderr)
        first = _next(self.out, "listening line")
        assert first and "listening on http://127.0.0.1:" in first, (first, self.log())
        self.url = first.rsplit(" ", 1)[1]

    def post(self, source: str, payload: Any, token: str | None = TOKEN) -> Reply:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return request(f"{self.url}/ingest/{source}", body, headers)

    def get(self, path: str) -> Reply:
        return request(f"{self.url}{path}")

    def log(self) -> list[str]:
        """serve's stderr so far, without waiting."""
        got: list[str] = []
        while True:
            try:
                line = self.err.get_nowait()
            except queue.Empty:
                return got
            if line is not None:
                got.append(line)

    def stop(self) -> int:
        """SIGTERM, as systemd stops it; its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=DEADLINE)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=DEADLINE)


@pytest.fixture(name="server")
def server_fixture(tmp_path: Path) -> Iterator[type[Server]]:
    """`server(db, config[, env])` starts serve; each is killed at the end of the test."""
    made: list[Server] = []
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)

    class Tracked(Server):
        def __init__(self, db: Path, config: Path, env: Mapping[str, str] | None = None) -> None:
            super().__init__(db, home, config, env)
            made.append(self)

    yield Tracked
    for s in made:
        s.kill()


class Deliver:
    """`ircmd deliver` running as the administrator, with the hooks' secrets; `first`
    is the line it starts with (the hooks it sends for)."""

    def __init__(self, db: Path, home: Path, config: Path) -> None:
        env = clean_env(home, {"IRCMD_DB": str(db), "IRCMD_CONFIG": str(config)})
        self.db = db
        self.proc = subprocess.Popen(
            [*IRCMD, "deliver"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        self.out = _lines(self.proc.stdout)
        self.err = _lines(self.proc.stderr)
        first = _next(self.out, "deliver's first line")
        assert first and first.startswith("ircmd deliver: sending for "), first
        self.first = first

    async def routed(self) -> None:
        """Until its routing is in the record (it writes it after its first line):
        from then on every writer queues what it will send."""
        async with await Store.open(self.db) as store:
            for _ in range(int(DEADLINE * 20)):
                if await store.routes() or self.proc.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            assert await store.routes(), self.proc.poll()

    def outcomes(self, n: int) -> list[dict[str, object]]:
        """The next `n` outcome lines of its log."""
        got: list[dict[str, object]] = []
        while len(got) < n:
            line = _next(self.err, "an outcome line")
            assert line is not None, "deliver ended"
            got.append(json.loads(line))
        return got

    def stop(self) -> int:
        """SIGTERM; its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=DEADLINE)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(DEADLINE)


# ------------------------------------------------------------------ payloads


def am_alert(
    fingerprint: str,
    *,
    status: str = "firing",
    alertname: str = "HighErrorRate",
    service: str = "checkout",
    team: str = "payments",
    starts: str = "2026-12-01T10:00:00Z",
    ends: str = "0001-01-01T00:00:00Z",
    summary: str = "5xx rate high",
    **labels: str,
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": alertname, "service": service, "team": team, **labels},
        "annotations": {"summary": summary, "description": f"{alertname} on {service}"},
        "startsAt": starts,
        "endsAt": ends,
        "generatorURL": "http://prometheus.example/graph",
        "fingerprint": fingerprint,
    }


def alertmanager(*alerts: dict[str, Any]) -> dict[str, Any]:
    """Alertmanager's webhook payload, version 4."""
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": "ircmd",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example",
        "alerts": list(alerts),
    }


def grafana(*alerts: dict[str, Any]) -> dict[str, Any]:
    """Grafana alerting's webhook: Alertmanager's core and Grafana's own fields."""
    return {
        **alertmanager(*alerts),
        "version": "1",
        "orgId": 1,
        "title": "[FIRING:1] HighErrorRate",
        "state": "alerting",
        "message": "**Firing**",
    }
