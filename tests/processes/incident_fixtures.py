"""Fixtures for the incident tests: a fake PagerDuty that checks every request it gets, the
worker's Slack settings pointed at the sandbox, and a driver that answers asks and gates the
way people do in Slack (buttons and modals through the sandbox's control API).

Import what a test module uses (fixtures included) from here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from engine.client import ShepherdClient
from sandbox import SandboxServer
from tests.bot.conftest import Slack, control, harness, server, slack  # noqa: F401 - fixtures
from tests.sandbox.control_client import Control, eventually

ROUTING_KEY = "R0UTINGKEY0000000000000000000000"
API_TOKEN = "y_NbAkKc66ryYTWUXYEu"
POLICY = "PESCAL1"
WAIT = 15.0


@dataclass
class FakePagerDuty:
    """Events v2 and ``GET /oncalls`` with PagerDuty's validation rules, recording what it was sent."""

    url: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    oncall_queries: list[dict[str, Any]] = field(default_factory=list)
    incident_queries: list[list[tuple[str, str]]] = field(default_factory=list)
    incidents: dict[str, str] = field(default_factory=dict)
    """dedup key -> triggered | acknowledged | resolved (as PagerDuty keeps them)."""
    oncall: list[dict[str, Any]] = field(default_factory=list)
    fail_with: int | None = None
    fail_actions: dict[str, int] = field(default_factory=dict)
    """event action -> the HTTP status PagerDuty answers it with (only those actions fail)."""

    async def enqueue(self, request: web.Request) -> web.Response:
        assert request.content_type == "application/json", request.content_type
        body = await request.json()
        self.events.append(body)
        failing = self.fail_with or self.fail_actions.get(str(body.get("event_action")))
        if failing:
            return web.json_response({"status": "unavailable", "message": "try later"}, status=failing)
        problems = []
        if body.get("routing_key") != ROUTING_KEY:
            problems.append("'routing_key' is invalid")
        action = body.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            problems.append("'event_action' is invalid")
        if action == "trigger":
            payload = body.get("payload") or {}
            for name in ("summary", "source", "severity"):
                if not payload.get(name):
                    problems.append(f"'payload.{name}' is missing or blank")
            if payload.get("severity") not in ("critical", "error", "warning", "info"):
                problems.append("'payload.severity' is invalid")
        elif not body.get("dedup_key"):
            problems.append("'dedup_key' is required for acknowledge and resolve")
        if problems:
            return web.json_response({"status": "invalid event", "message": "Event object is invalid",
                                      "errors": problems}, status=400)
        key = body.get("dedup_key") or "generated-key"
        state = {"trigger": "triggered", "acknowledge": "acknowledged", "resolve": "resolved"}[action]
        if action == "trigger" and key in self.incidents:
            state = self.incidents[key]  # a repeated trigger changes nothing
        self.incidents[key] = state
        return web.json_response({"status": "success", "message": "Event processed", "dedup_key": key},
                                 status=202)

    async def oncalls(self, request: web.Request) -> web.Response:
        self.oncall_queries.append({"authorization": request.headers.get("Authorization"),
                                    "accept": request.headers.get("Accept"),
                                    "query": list(request.query.items())})
        if request.headers.get("Authorization") != f"Token token={API_TOKEN}":
            return web.json_response({"error": {"message": "Unauthorized", "code": 2006}}, status=401)
        return web.json_response({"oncalls": self.oncall, "limit": 25, "offset": 0, "more": False, "total": None})

    async def list_incidents(self, request: web.Request) -> web.Response:
        """``GET /incidents?incident_key=`` as the REST API answers it (status per dedup key)."""
        self.incident_queries.append(list(request.query.items()))
        if request.headers.get("Authorization") != f"Token token={API_TOKEN}":
            return web.json_response({"error": {"message": "Unauthorized", "code": 2006}}, status=401)
        key = request.query.get("incident_key")
        found = [{"id": f"P{n}", "incident_key": k, "status": state}
                 for n, (k, state) in enumerate(self.incidents.items()) if key in (None, k)]
        return web.json_response({"incidents": found, "limit": 25, "offset": 0, "more": False, "total": None})

    def actions(self) -> list[tuple[str, str | None]]:
        return [(e.get("event_action"), e.get("dedup_key")) for e in self.events]


@pytest.fixture
async def pagerduty(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakePagerDuty]:
    """A running fake PagerDuty, with the PAGERDUTY_* settings pointing at it."""
    fake = FakePagerDuty()
    app = web.Application()
    app.router.add_post("/v2/enqueue", fake.enqueue)
    app.router.add_get("/oncalls", fake.oncalls)
    app.router.add_get("/incidents", fake.list_incidents)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}"
    for name, value in {"PAGERDUTY_EVENTS_URL": fake.url, "PAGERDUTY_API_URL": fake.url,
                        "PAGERDUTY_ROUTING_KEY": ROUTING_KEY, "PAGERDUTY_API_TOKEN": API_TOKEN,
                        "PAGERDUTY_ESCALATION_POLICY": POLICY}.items():
        monkeypatch.setenv(name, value)
    yield fake
    await runner.cleanup()


@pytest.fixture
def no_integrations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither Slack nor PagerDuty configured on the worker (the terminal case)."""
    for name in ("SLACK_BOT_TOKEN", "SLACK_API_URL", "PAGERDUTY_ROUTING_KEY", "PAGERDUTY_API_TOKEN",
                 "PAGERDUTY_ESCALATION_POLICY", "SHEPHERD_INCIDENT_ONCALL_GROUP", "SHEPHERD_INCIDENT_EXEC_CHANNEL",
                 "GITHUB_TOKEN", "SHEPHERD_INCIDENT_GITHUB_REPO"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def worker_slack(server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:  # noqa: F811
    """The worker's Slack client (incident channel, updates) pointed at the sandbox; fast cadence."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", server.bot_token)
    monkeypatch.setenv("SLACK_API_URL", server.api_url)
    monkeypatch.setenv("SHEPHERD_INCIDENT_CADENCE_SECONDS", "0.3")
    for name in ("SHEPHERD_INCIDENT_ONCALL_GROUP", "SHEPHERD_INCIDENT_EXEC_CHANNEL"):
        monkeypatch.delenv(name, raising=False)
    return server


GITHUB_TOKEN = "ghp_testtoken0000000000000000000000000"
GITHUB_REPO = "acme/reliability"


@dataclass
class FakeGitHub:
    """``POST`` and ``GET /repos/{owner}/{repo}/issues`` as GitHub answers them, recording each request.

    The listing filters and orders as GitHub documents (``state``, ``labels``: all of them,
    ``sort=created``, ``direction``, ``per_page``, ``page``), over the issues filed here."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)

    def _refused(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {GITHUB_TOKEN}":
            return web.json_response({"message": "Bad credentials"}, status=401)
        if request.match_info["owner"] + "/" + request.match_info["repo"] != GITHUB_REPO:
            return web.json_response({"message": "Not Found"}, status=404)
        return None

    def created(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == "POST"]

    async def create_issue(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({"method": "POST", "path": request.path,
                              "authorization": request.headers.get("Authorization"),
                              "accept": request.headers.get("Accept"), "body": body})
        if refused := self._refused(request):
            return refused
        if not body.get("title"):
            return web.json_response({"message": "Validation Failed"}, status=422)
        number = len(self.issues) + 1
        issue = {"number": number, "title": body["title"], "body": body.get("body"), "state": "open",
                 "labels": [{"name": n} for n in body.get("labels") or []],
                 "html_url": f"https://github.com/{GITHUB_REPO}/issues/{number}"}
        self.issues.append(issue)
        return web.json_response(issue, status=201)

    async def list_issues(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.requests.append({"method": "GET", "path": request.path, "query": query})
        if refused := self._refused(request):
            return refused
        state = query.get("state", "open")
        wanted = {n for n in query.get("labels", "").split(",") if n}
        found = [i for i in self.issues if state == "all" or i["state"] == state]
        found = [i for i in found if wanted <= {label["name"] for label in i["labels"]}]
        found.sort(key=lambda i: i["number"], reverse=query.get("direction", "desc") == "desc")
        per_page, page = min(int(query.get("per_page", 30)), 100), int(query.get("page", 1))
        return web.json_response(found[(page - 1) * per_page:page * per_page])


@pytest.fixture
async def github(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeGitHub]:
    fake = FakeGitHub()
    app = web.Application()
    app.router.add_post("/repos/{owner}/{repo}/issues", fake.create_issue)
    app.router.add_get("/repos/{owner}/{repo}/issues", fake.list_issues)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    monkeypatch.setenv("GITHUB_TOKEN", GITHUB_TOKEN)
    monkeypatch.setenv("SHEPHERD_INCIDENT_GITHUB_REPO", GITHUB_REPO)
    yield fake
    await runner.cleanup()


def _text(message: dict[str, Any]) -> str:
    return message.get("text", "") + json.dumps(message.get("blocks") or [])


class People:
    """Acting in Slack as the sandbox's people: answering questions and deciding gates of one run."""

    def __init__(self, slack: Slack, control: Control, client: ShepherdClient) -> None:  # noqa: F811
        self.slack, self.control, self.client = slack, control, client
        self.card_ts = ""

    async def declare(self, user: str, text: str) -> str:
        """``/run <text>`` in #ops; returns the run id once its card is up."""
        await self.slack.command(user, text)
        card = await self.slack.wait_card("Incident")
        self.card_ts = card["ts"]
        runs = await self.client.list_runs()
        return runs[0]["id"]

    async def open_message(self, needle: str, action: str) -> dict[str, Any]:
        """The thread message that mentions ``needle`` and still offers ``action`` (a button)."""
        found: dict[str, Any] = {}

        async def check() -> bool:
            for message in await self.slack.thread(self.card_ts):
                if needle in _text(message) and action in json.dumps(message.get("blocks") or []):
                    found["m"] = message
                    return True
            return False

        try:
            await eventually(check, WAIT)
        except AssertionError:
            thread = [m.get("text", "") for m in await self.slack.thread(self.card_ts)]
            raise AssertionError(f"no open {action} for {needle!r} in the thread: {thread}") from None
        return found["m"]

    async def _modal(self, user: str, ts: str, action: str, previous: str | None = None) -> dict[str, Any]:
        await self.control.post("/actions", {"user": user, "channel": self.slack.channel, "ts": ts,
                                             "action_id": action})

        async def opened() -> bool:
            top = (await self.control.get(f"/users/{user}/views"))["top"]
            return top is not None and top["id"] != previous

        await eventually(opened, WAIT)
        return (await self.control.get(f"/users/{user}/views"))["top"]

    async def answer(self, user: str, needle: str, values: dict[str, Any]) -> dict[str, Any]:
        """Fill in the question's modal: ``values`` by field name (a list ticks a checkbox)."""
        message = await self.open_message(needle, "shepherd_fill_in")
        view = await self._modal(user, message["ts"], "shepherd_fill_in")
        state = {f"field:{name}": {"value": value} for name, value in values.items()}
        reply = await self.control.post("/views/submit", {"user": user, "view_id": view["id"], "values": state})
        assert reply["ack"].get("response_action") == "clear", reply["ack"]
        return view

    async def approve(self, user: str, needle: str) -> None:
        message = await self.open_message(needle, "shepherd_approve")
        result = await self.control.post("/actions", {"user": user, "channel": self.slack.channel,
                                                      "ts": message["ts"], "action_id": "shepherd_approve"})
        assert result["acked"], result

    async def reject(self, user: str, needle: str, reason: str) -> None:
        message = await self.open_message(needle, "shepherd_reject")
        view = await self._modal(user, message["ts"], "shepherd_reject")
        assert view["callback_id"] == "shepherd_reject_reason"
        await self.control.post("/views/submit", {"user": user, "view_id": view["id"],
                                                  "values": {"shepherd_reason": {"reason": reason}}})


async def open_gate(client: ShepherdClient, run_id: str, title: str) -> str:
    """The step key of the run's open gate or question whose title contains ``title``."""
    for _ in range(500):
        run = await client.view(run_id)
        for gate in run.open_gates:
            if title in gate["title"]:
                return str(gate["key"])
        await asyncio.sleep(0.02)
    raise AssertionError(f"no open gate or question {title!r}: {run}")
