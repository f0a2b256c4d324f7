"""Socket Mode with slack_sdk's own aiohttp SocketModeClient: hello, envelopes, acks, retries, refresh."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import WSMessage
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SandboxServer
from tests.sandbox.control_client import Control

Listener = Callable[[AsyncBaseSocketModeClient, SocketModeRequest], Awaitable[None]]

SLASH_FIELDS = {"token", "team_id", "team_domain", "channel_id", "channel_name", "user_id", "user_name", "command",
                "text", "api_app_id", "is_enterprise_install", "response_url", "trigger_id"}


@pytest.fixture
async def connect(server: SandboxServer) -> AsyncIterator[Callable[..., Awaitable[SocketModeClient]]]:
    clients: list[SocketModeClient] = []

    async def start(listener: Listener | None = None, messages: list[dict[str, Any]] | None = None) \
            -> SocketModeClient:
        client = SocketModeClient(app_token=server.app_token, web_client=AsyncWebClient(base_url=server.api_url),
                                  ping_interval=1)
        if listener is not None:
            client.socket_mode_request_listeners.append(listener)
        if messages is not None:  # raw frames: slack_sdk handles "disconnect" before its message listeners

            async def record(frame: WSMessage) -> None:
                messages.append(json.loads(frame.data))

            client.on_message_listeners.append(record)
        await client.connect()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


async def wait_for(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_hello_then_slash_command_ack_with_text(connect: Any, control: Control) -> None:
    messages: list[dict[str, Any]] = []
    received: list[SocketModeRequest] = []

    async def listener(client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        received.append(req)
        await client.send_socket_mode_response(SocketModeResponse(req.envelope_id, {"text": "Starting deploy..."}))

    await connect(listener, messages)
    await wait_for(lambda: bool(messages))
    hello = messages[0]
    assert hello["type"] == "hello" and hello["num_connections"] == 1
    assert hello["connection_info"] == {"app_id": "A0SHEPHERD"} and "debug_info" in hello

    result = await control.post("/commands", {"user": "U0ALICE", "channel": "C0DEPLOYS", "command": "/run",
                                              "text": "deploy api v1.2"})
    assert result["acked"] and result["ack"] == {"text": "Starting deploy..."}
    assert result["trigger_id"].count(".") == 2 and "/hooks/commands/T0SANDBOX/" in result["response_url"]
    req = received[0]
    assert req.type == "slash_commands" and req.accepts_response_payload is True and req.retry_attempt == 0
    assert set(req.payload) == SLASH_FIELDS
    assert req.payload["command"] == "/run" and req.payload["text"] == "deploy api v1.2"
    assert req.payload["channel_name"] == "deploys" and req.payload["user_name"] == "alice"
    assert req.payload["is_enterprise_install"] == "false"
    assert result["effects"] == [{"effect": "ephemeral", "ts": result["effects"][0]["ts"]}]
    ephemerals = (await control.get("/users/U0ALICE/ephemerals"))["ephemerals"]
    assert [(e["text"], e["source"]) for e in ephemerals] == [("Starting deploy...", "ack")]
    attempt = result["delivery"]["attempts"][0]
    assert attempt["outcome"] == "acked" and attempt["latency_ms"] >= 0


async def test_unacked_event_is_redelivered_once(connect: Any, control: Control) -> None:
    """Events API envelopes are the ones Slack sends again (https://api.slack.com/apis/connections/events-api#retries)."""
    seen: list[tuple[int | None, str | None, str]] = []

    async def slow_first_time(client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        seen.append((req.retry_attempt, req.retry_reason, req.envelope_id))
        if req.retry_attempt:
            await client.send_socket_mode_response(SocketModeResponse(req.envelope_id))

    await connect(slow_first_time)
    opened = (await control.post("/app_home_opened", {"user": "U0BOB"}))["interaction"]
    assert [(a, r) for a, r, _ in seen] == [(0, ""), (1, "timeout")]
    assert seen[0][2] != seen[1][2]
    outcomes = [(a["number"], a["outcome"], a["retry_reason"]) for a in opened["delivery"]["attempts"]]
    assert outcomes == [(0, "timeout", None), (1, "acked", "timeout")]
    assert opened["acked"] and opened["delivery"]["acked_attempt"] == 1


async def test_unacked_command_is_not_sent_again(connect: Any, control: Control) -> None:
    """A slash command is sent once; a late ack shows the person an error instead
    (https://api.slack.com/interactivity/slash-commands#responding_basic_receipt)."""
    seen: list[int | None] = []

    async def never(client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        seen.append(req.retry_attempt)

    await connect(never)
    result = await control.post("/commands", {"user": "U0BOB", "channel": "C0OPS", "command": "/run", "text": "x"})
    assert [(a["number"], a["outcome"]) for a in result["delivery"]["attempts"]] == [(0, "timeout")]
    assert seen == [0] and not result["acked"]


async def test_never_acked_shows_operation_timeout(connect: Any, control: Control) -> None:
    async def ignore(client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        return None

    await connect(ignore)
    result = await control.post("/commands", {"user": "U0BOB", "channel": "C0OPS", "command": "/run", "text": "x"})
    assert not result["acked"] and result["delivery"]["error"] == "not_acknowledged"
    assert [a["outcome"] for a in result["delivery"]["attempts"]] == ["timeout"]
    ephemerals = (await control.get("/users/U0BOB/ephemerals"))["ephemerals"]
    assert ephemerals[0]["text"] == '/run failed with the error "operation_timeout"'
    assert ephemerals[0]["user"] == "USLACKBOT"


async def test_no_app_connected(server: SandboxServer, control: Control) -> None:
    server.config.connect_wait = 0.1
    result = await control.post("/commands", {"user": "U0BOB", "channel": "C0OPS", "command": "/run"}, expect=503)
    assert result["error"] == "no_app_connected"
    assert result["delivery"]["attempts"][0]["outcome"] == "no_connection"


async def test_disconnect_refresh_requested_reconnects(connect: Any, control: Control) -> None:
    messages: list[dict[str, Any]] = []

    async def ack(client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        await client.send_socket_mode_response(SocketModeResponse(req.envelope_id))

    await connect(ack, messages)
    await wait_for(lambda: len(messages) == 1)
    sent = await control.post("/socket/disconnect")
    assert sent["connections"] == 1
    await wait_for(lambda: any(m.get("type") == "disconnect" for m in messages))
    assert {"type": "disconnect", "reason": "refresh_requested"}.items() <= messages[1].items()

    async def reconnected() -> bool:
        info = await control.get("/socket")
        return info["total_connections"] == 2 and len(info["connections"]) == 1

    for _ in range(150):
        if await reconnected():
            break
        await asyncio.sleep(0.02)
    assert await reconnected()
    assert sum(1 for m in messages if m.get("type") == "hello") == 2
    result = await control.post("/commands", {"user": "U0ALICE", "channel": "C0OPS", "command": "/run"})
    assert result["acked"]


async def test_events_api_for_mentions_and_subscribed_messages(connect: Any, control: Control,
                                                               server: SandboxServer) -> None:
    received: list[SocketModeRequest] = []

    async def ack(client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        received.append(req)
        await client.send_socket_mode_response(SocketModeResponse(req.envelope_id))

    await connect(ack)
    out = await control.post("/messages", {"user": "U0CAROL", "channel": "C0OPS", "text": "hey <@U0SHEPHERD> status?"})
    assert [d["kind"] for d in out["deliveries"]] == ["event:app_mention"]  # message.channels not subscribed
    req = received[0]
    assert req.type == "events_api" and req.payload["type"] == "event_callback"
    event = req.payload["event"]
    assert event["type"] == "app_mention" and event["user"] == "U0CAROL" and event["channel"] == "C0OPS"
    assert event["ts"] == out["message"]["ts"]
    assert req.payload["authorizations"][0]["user_id"] == "U0SHEPHERD"

    await control.post("/settings", {"event_subscriptions": ["app_mention", "message.channels", "app_home_opened"]})
    out = await control.post("/messages", {"user": "U0CAROL", "channel": "C0OPS", "text": "plain words"})
    assert [d["kind"] for d in out["deliveries"]] == ["event:message"]
    assert received[-1].payload["event"]["channel_type"] == "channel"
    opened = await control.post("/app_home_opened", {"user": "U0ALICE"})
    assert opened["delivered"] and received[-1].payload["event"]["type"] == "app_home_opened"
