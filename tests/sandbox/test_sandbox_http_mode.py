"""HTTP delivery: a real slack-bolt AsyncApp web server, Slack's signing, encodings and retries."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SandboxServer
from tests.sandbox.control_client import Control, eventually

BUTTON: list[dict[str, Any]] = [{"type": "actions", "block_id": "decide", "elements": [
    {"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "Approve"}, "value": "r1"}]}]
MODAL = {"type": "modal", "callback_id": "why", "title": {"type": "plain_text", "text": "Reason"},
         "submit": {"type": "plain_text", "text": "Send"},
         "blocks": [{"type": "input", "block_id": "reason", "label": {"type": "plain_text", "text": "Reason"},
                     "element": {"type": "plain_text_input", "action_id": "text"}}]}


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.fixture
async def bolt_http(server: SandboxServer) -> AsyncIterator[dict[str, Any]]:
    calls: dict[str, Any] = {"commands": [], "actions": []}
    app = AsyncApp(client=AsyncWebClient(token=server.bot_token, base_url=server.api_url),
                   signing_secret=server.signing_secret)

    @app.command("/run")
    async def run(ack: Any, body: dict[str, Any], respond: Any) -> None:
        calls["commands"].append(body)
        await ack("Got it: " + body["text"])
        await respond(text="Run started", response_type="in_channel")

    @app.command("/why")
    async def why(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    @app.view("why")
    async def why_submitted(ack: Any) -> None:
        await ack(response_action="errors", errors={"reason": "Say a bit more"})

    @app.action("approve")
    async def approve(ack: Any, body: dict[str, Any], respond: Any) -> None:
        calls["actions"].append(body)
        await ack()
        await respond(replace_original=True, text="Approved")

    runner, url = await serve(app.web_app(path="/slack/events"))
    server.config.request_url = f"{url}/slack/events"
    yield calls
    await runner.cleanup()


async def test_signed_slash_command_to_bolt(bolt_http: dict[str, Any], control: Control) -> None:
    result = await control.post("/commands", {"user": "U0ALICE", "channel": "C0OPS", "command": "/run",
                                              "text": "incident-response SEV-2"})
    assert result["acked"] and result["ack"] == {"text": "Got it: incident-response SEV-2"}
    attempt = result["delivery"]["attempts"][0]
    assert attempt["transport"] == "http" and attempt["http_status"] == 200 and attempt["latency_ms"] > 0
    assert attempt["headers"]["X-Slack-Signature"].startswith("v0=")
    assert bolt_http["commands"][0]["user_id"] == "U0ALICE"

    async def responded() -> bool:
        messages = (await control.get("/channels/C0OPS/messages"))["messages"]
        return [m["text"] for m in messages] == ["Run started"]

    await eventually(responded)
    ephemerals = (await control.get("/users/U0ALICE/ephemerals"))["ephemerals"]
    assert [e["text"] for e in ephemerals] == ["Got it: incident-response SEV-2"]


@pytest.mark.parametrize("signing", ["bad_signature", "stale_timestamp", "unsigned"])
async def test_bolt_rejects_bad_signing(bolt_http: dict[str, Any], control: Control, signing: str) -> None:
    result = await control.post("/commands", {"user": "U0ALICE", "channel": "C0OPS", "command": "/run",
                                              "text": "x", "signing": signing})
    assert not result["acked"]
    # One attempt: Slack does not retry a slash command (only Events API deliveries).
    assert [(a["http_status"], a["outcome"]) for a in result["delivery"]["attempts"]] == [(401, "http_error")]
    assert bolt_http["commands"] == []
    ephemerals = (await control.get("/users/U0ALICE/ephemerals"))["ephemerals"]
    assert ephemerals[0]["text"] == '/run failed with the error "dispatch_failed"'


async def test_button_and_modal_over_http(bolt_http: dict[str, Any], control: Control,
                                          web: AsyncWebClient) -> None:
    posted = await web.chat_postMessage(channel="C0OPS", text="gate", blocks=BUTTON)
    clicked = await control.post("/actions", {"user": "U0BOB", "channel": "C0OPS", "ts": posted["ts"],
                                              "action_id": "approve"})
    assert clicked["acked"]

    async def replaced() -> bool:
        return (await control.get("/channels/C0OPS/messages"))["messages"][-1]["text"] == "Approved"

    await eventually(replaced)
    await control.post("/commands", {"user": "U0BOB", "channel": "C0OPS", "command": "/why"})

    async def opened() -> bool:
        return (await control.get("/users/U0BOB/views"))["top"] is not None

    await eventually(opened)
    view_id = (await control.get("/users/U0BOB/views"))["top"]["id"]
    submitted = await control.post("/views/submit", {"user": "U0BOB", "view_id": view_id,
                                                     "values": {"reason": {"text": "because"}}})
    assert submitted["ack"] == {"response_action": "errors", "errors": {"reason": "Say a bit more"}}
    assert (await control.get(f"/views/{view_id}"))["view"]["errors"] == {"reason": "Say a bit more"}


Handler = Callable[[web.Request], Awaitable[web.Response]]


@pytest.fixture
async def raw_app(server: SandboxServer) -> AsyncIterator[list[tuple[dict[str, str], bytes]]]:
    """An endpoint that records what arrives and is too slow the first time."""
    seen: list[tuple[dict[str, str], bytes]] = []

    async def endpoint(request: web.Request) -> web.Response:
        seen.append((dict(request.headers), await request.read()))
        if len(seen) == 1:
            await asyncio.sleep(server.config.ack_timeout + 0.3)
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/slack/events", endpoint)
    runner, url = await serve(app)
    server.config.request_url = f"{url}/slack/events"
    yield seen
    await runner.cleanup()


async def test_slow_command_is_not_retried_and_encodings(raw_app: list[tuple[dict[str, str], bytes]],
                                                         control: Control, server: SandboxServer,
                                                         web: AsyncWebClient) -> None:
    """Slack never sends a slash command or a click twice: a late answer shows the person
    ``operation_timeout`` (https://api.slack.com/interactivity/slash-commands#responding_basic_receipt)."""
    result = await control.post("/commands", {"user": "U0ALICE", "channel": "C0OPS", "command": "/run",
                                              "text": "a&b=c"})
    assert [a["outcome"] for a in result["delivery"]["attempts"]] == ["timeout"]
    assert not result["acked"] and result["delivery"]["error"] == "not_acknowledged"
    # The delivery record is complete once every attempt is over: a retry would be in raw_app already.
    assert len(raw_app) == 1, "the command was sent again"
    ((first_headers, first_body),) = raw_app
    assert "X-Slack-Retry-Num" not in first_headers
    assert first_headers["Content-Type"] == "application/x-www-form-urlencoded"
    verifier = SignatureVerifier(server.signing_secret)
    assert verifier.is_valid_request(first_body, first_headers)
    form = {k: v[0] for k, v in parse_qs(first_body.decode(), keep_blank_values=True).items()}
    # Slack HTML-escapes a typed & (https://api.slack.com/reference/surfaces/formatting#escaping)
    assert form["text"] == "a&amp;b=c" and form["command"] == "/run" and form["is_enterprise_install"] == "false"
    ephemerals = (await control.get("/users/U0ALICE/ephemerals"))["ephemerals"]
    assert [e["text"] for e in ephemerals] == ['/run failed with the error "operation_timeout"']

    posted = await web.chat_postMessage(channel="C0OPS", text="gate", blocks=BUTTON)
    await control.post("/actions", {"user": "U0BOB", "channel": "C0OPS", "ts": posted["ts"], "value": "r1"})
    headers, body = raw_app[-1]
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    assert payload["type"] == "block_actions" and payload["actions"][0]["action_id"] == "approve"
    assert verifier.is_valid_request(body, headers)

    await control.post("/messages", {"user": "U0ALICE", "channel": "C0OPS", "text": "<@U0SHEPHERD> hi"})
    headers, body = raw_app[-1]
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["event"]["type"] == "app_mention"


async def test_slow_event_is_retried_with_retry_headers(raw_app: list[tuple[dict[str, str], bytes]],
                                                        control: Control) -> None:
    """Events API deliveries are the ones Slack retries (https://api.slack.com/apis/connections/events-api#retries)."""
    opened = await control.post("/app_home_opened", {"user": "U0ALICE"})
    interaction = opened["interaction"]
    assert [a["outcome"] for a in interaction["delivery"]["attempts"]] == ["timeout", "acked"]
    assert interaction["acked"]
    (first_headers, first_body), (retry_headers, retry_body) = raw_app[:2]
    assert "X-Slack-Retry-Num" not in first_headers and retry_body == first_body
    assert retry_headers["X-Slack-Retry-Num"] == "1" and retry_headers["X-Slack-Retry-Reason"] == "http_timeout"
    assert first_headers["Content-Type"] == "application/json"
    assert json.loads(first_body)["event"]["type"] == "app_home_opened"
