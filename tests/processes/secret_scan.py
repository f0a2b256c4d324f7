"""Looking for configured secrets everywhere a run leaves text (issue 10, item 4).

Every token setting gets a recognisable value (``SECRETS``); after a run, ``leaks`` searches the
places a person or another system could read: log records (with tracebacks), captured
stdout/stderr, everything the bot sent to Slack (messages and replies in every channel,
ephemerals, modals, App Home tabs, files and their bytes, every Web API call's arguments,
response_url posts, interaction acknowledgements, what the bot answered each delivery, the
sandbox's event history), and every value of every key in Redis
(journals, errors, artifacts, streams). The sandbox's own configuration endpoints
(``/control/seed``, ``/control/settings``) are left out: they are the fake Slack's side.

Also here: a fake Prometheus that requires the bearer token, so the token is really used.
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.parse
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from redis.asyncio import Redis

from sandbox import SandboxServer
from tests.processes.incident_fixtures import API_TOKEN, GITHUB_TOKEN, ROUTING_KEY
from tests.sandbox.control_client import Control

SLACK_BOT_TOKEN = "xoxb-1111-2222-LEAKCANARYbot7f3a9c"
SLACK_APP_TOKEN = "xapp-1-A0SHEPHERD-3333-LEAKCANARYapp5e1d"
SLACK_SIGNING_SECRET = "LEAKCANARYsigning9b2e44aa"
PROMETHEUS_BEARER_TOKEN = "LEAKCANARYprom0c4d2f"
PROMETHEUS_USER, PROMETHEUS_PASSWORD = "shepherd", "LEAKCANARYpromBasic81d0"
"""Basic auth the way aiohttp takes it: in PROMETHEUS_URL (``http://user:password@host:9090``)."""
PAGERDUTY_ROUTING_KEY, PAGERDUTY_API_TOKEN = ROUTING_KEY, API_TOKEN  # the fake PagerDuty checks these
SECRETS = {
    "SLACK_BOT_TOKEN": SLACK_BOT_TOKEN, "SLACK_APP_TOKEN": SLACK_APP_TOKEN,
    "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET, "PAGERDUTY_ROUTING_KEY": PAGERDUTY_ROUTING_KEY,
    "PAGERDUTY_API_TOKEN": PAGERDUTY_API_TOKEN, "GITHUB_TOKEN": GITHUB_TOKEN,
    "PROMETHEUS_BEARER_TOKEN": PROMETHEUS_BEARER_TOKEN, "PROMETHEUS_URL password": PROMETHEUS_PASSWORD,
}
"""Every token setting of bot/settings.py and integrations/*.py (engine/settings.py has none), and
the password a PROMETHEUS_URL may carry for basic auth."""


def sandbox_with_recognisable_tokens() -> SandboxServer:
    return SandboxServer(port=0, connect_wait=2.0, disconnect_grace=0.5, bot_token=SLACK_BOT_TOKEN,
                         app_token=SLACK_APP_TOKEN, signing_secret=SLACK_SIGNING_SECRET)


def _forms(secret: str) -> set[str]:
    """The secret as written, URL-encoded, and base64 (as in a Basic header) — any of them is a leak."""
    return {secret, urllib.parse.quote(secret, safe=""), base64.b64encode(secret.encode()).decode()}


def leaks(places: dict[str, str], secrets: dict[str, str] | None = None) -> list[str]:
    """``<place>: <setting> …excerpt…`` for every place that holds a secret (empty: no leak)."""
    found = []
    for where, text in places.items():
        for name, secret in (secrets or SECRETS).items():
            for form in _forms(secret):
                at = text.find(form)
                if at >= 0:
                    found.append(f"{where}: {name} …{text[max(0, at - 120):at + len(form) + 40]}…")
    return found


def log_text(records: Iterable[logging.LogRecord]) -> str:
    """Every record as a handler would write it: message, arguments, traceback and stack."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(r) for r in records)


async def slack_side(control: Control, server: SandboxServer) -> dict[str, str]:
    """What the bot and the workers put into Slack, by place."""
    places: dict[str, str] = {}
    seed = await control.get("/seed")
    for channel in (await control.get("/channels"))["channels"]:
        messages = await control.get(f"/channels/{channel['id']}/messages", include_replies="1")
        places[f"slack #{channel['name']}"] = json.dumps(messages) + json.dumps(channel)
    for user in seed["users"]:
        uid = user["id"]
        places[f"slack ephemerals of {uid}"] = json.dumps(await control.get(f"/users/{uid}/ephemerals", all="1"))
        places[f"slack modals of {uid}"] = json.dumps(await control.get(f"/users/{uid}/views"))
        places[f"slack home of {uid}"] = json.dumps(await control.get(f"/users/{uid}/home"))
    files = (await control.get("/files"))["files"]
    places["slack files"] = json.dumps(files)
    for file in files:
        async with control.session.get(f"{control.base}/files/{file['id']}/content") as resp:
            places[f"slack file {file['name']}"] = (await resp.read()).decode(errors="replace")
    places["slack web api calls"] = json.dumps(await control.get("/calls"))
    places["slack interactions"] = json.dumps(await control.get("/interactions"))
    places["slack deliveries and the bot's answers"] = json.dumps(await control.get("/deliveries"))
    places["slack event history"] = json.dumps(await control.get("/events/history"))
    places["slack response_url posts"] = json.dumps(
        [hook.posts for hook in server.sandbox.hooks.hooks.values()], default=str)
    return places


async def redis_side(redis_url: str) -> dict[str, str]:
    """Every value of every key, whatever its type, as bytes decoded leniently."""
    raw = Redis.from_url(redis_url, decode_responses=False)
    places: dict[str, str] = {}
    try:
        async for key in raw.scan_iter(count=500):
            kind = (await raw.type(key)).decode()
            value: Any
            if kind == "none":  # gone since the scan listed it (a lock released, a key expired)
                continue
            if kind == "string":
                value = await raw.get(key)
            elif kind == "hash":
                value = await raw.hgetall(key)
            elif kind == "list":
                value = await raw.lrange(key, 0, -1)
            elif kind == "set":
                value = await raw.smembers(key)
            elif kind == "zset":
                value = await raw.zrange(key, 0, -1, withscores=True)
            elif kind == "stream":
                value = await raw.xrange(key)
            else:
                raise AssertionError(f"Redis key {key!r} has a type this scan does not read: {kind}")
            places[f"redis {key.decode(errors='replace')} ({kind})"] = _flatten(value)
    finally:
        await raw.aclose()
    assert places, "Redis is empty: nothing was scanned"
    return places


def _flatten(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, dict):
        return "\n".join(f"{_flatten(k)}={_flatten(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return "\n".join(_flatten(v) for v in value)
    return str(value)


# -- a Prometheus that insists on its bearer token -------------------------------------------


@dataclass
class FakePrometheus:
    """The HTTP API calls slo-setup makes, each refused (401) without ``Bearer <token>`` or the
    basic-auth user and password (Prometheus's web config offers both).

    Instant queries answer 0.001 (a 0.1% error ratio), range queries a steady series;
    ``/-/reload`` loads the rule groups written to ``rules_dir`` so ``/api/v1/rules`` lists them
    afterwards, as Prometheus does.
    """

    rules_dir: Path
    url: str = ""
    requests: list[tuple[str, str, bool]] = field(default_factory=list)
    """(method, path, authorized)."""
    loaded: list[str] = field(default_factory=list)

    def _authorized(self, request: web.Request) -> bool:
        basic = base64.b64encode(f"{PROMETHEUS_USER}:{PROMETHEUS_PASSWORD}".encode()).decode()
        ok = request.headers.get("Authorization") in (f"Bearer {PROMETHEUS_BEARER_TOKEN}", f"Basic {basic}")
        self.requests.append((request.method, request.path, ok))
        return ok

    async def api(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.Response(status=401, text="Unauthorized")
        form = await request.post() if request.method == "POST" else request.query
        now = float(form.get("time", 0) or 0)
        endpoint = request.match_info["endpoint"]
        if endpoint == "query":
            data: dict[str, Any] = {"resultType": "vector", "result": [{"metric": {}, "value": [now, "0.001"]}]}
        elif endpoint == "query_range":
            start, end, step = (float(form[k]) for k in ("start", "end", "step"))
            points = [[start + i * step, "0.5"] for i in range(int((end - start) // step) + 1)][:500]
            data = {"resultType": "matrix", "result": [{"metric": {}, "values": points}]}
        elif endpoint == "rules":
            data = {"groups": [{"name": name, "rules": []} for name in self.loaded]}
        else:
            return web.json_response({"status": "error", "errorType": "bad_data", "error": "unknown"}, status=404)
        return web.json_response({"status": "success", "data": data})

    async def reload(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.Response(status=401, text="Unauthorized")
        self.loaded = [group["name"] for path in sorted(self.rules_dir.glob("*.yml"))
                       for group in yaml.safe_load(path.read_text())["groups"]]
        return web.Response(text="")


@pytest.fixture
async def prometheus_with_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakePrometheus]:
    """A running FakePrometheus, with PROMETHEUS_URL, _RULES_DIR and _BEARER_TOKEN pointing at it."""
    rules = tmp_path / "prometheus-rules"
    rules.mkdir()
    fake = FakePrometheus(rules_dir=rules)
    app = web.Application()
    app.router.add_route("*", "/api/v1/{endpoint}", fake.api)
    app.router.add_post("/-/reload", fake.reload)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    monkeypatch.setenv("PROMETHEUS_URL", fake.url)
    monkeypatch.setenv("PROMETHEUS_RULES_DIR", str(rules))
    monkeypatch.setenv("PROMETHEUS_BEARER_TOKEN", PROMETHEUS_BEARER_TOKEN)
    yield fake
    await runner.cleanup()
