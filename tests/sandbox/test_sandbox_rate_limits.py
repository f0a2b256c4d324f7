"""Injected 429s: Slack's Retry-After answer, and slack_sdk's retry handler coping with it."""

from __future__ import annotations

import time

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SandboxServer
from tests.sandbox.control_client import Control


async def test_next_call_is_throttled_and_retried(server: SandboxServer, control: Control) -> None:
    client = AsyncWebClient(token=server.bot_token, base_url=server.api_url,
                            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)])
    await control.post("/ratelimit", {"method": "chat.update", "count": 1, "retry_after": 1})
    posted = await client.chat_postMessage(channel="C0OPS", text="card v1")  # another method: not throttled
    started = time.monotonic()
    updated = await client.chat_update(channel="C0OPS", ts=posted["ts"], text="card v2")
    assert updated["ok"] and time.monotonic() - started >= 1.0
    calls = (await control.get("/calls", method="chat.update"))["calls"]
    assert [(c["status"], c["error"]) for c in calls] == [(429, "ratelimited"), (200, None)]


async def test_without_a_handler_the_429_surfaces(server: SandboxServer, web: AsyncWebClient,
                                                  control: Control) -> None:
    await control.post("/ratelimit", {"seconds": 30})
    with pytest.raises(SlackApiError) as info:
        await web.chat_postMessage(channel="C0OPS", text="x")
    assert info.value.response.status_code == 429
    assert info.value.response["error"] == "ratelimited"
    assert 1 <= int(info.value.response.headers["Retry-After"]) <= 30
    async with aiohttp.ClientSession(trust_env=False) as session, session.post(
            f"{server.api_url}auth.test", headers={"Authorization": f"Bearer {server.bot_token}"}) as resp:
        assert resp.status == 429 and resp.headers["Retry-After"]
    assert len((await control.get("/ratelimit"))["rules"]) == 1
    async with control.session.delete(f"{control.base}/ratelimit") as resp:
        assert resp.status == 200
    assert (await web.chat_postMessage(channel="C0OPS", text="x"))["ok"]


async def test_a_rule_can_match_arguments(server: SandboxServer, web: AsyncWebClient, control: Control) -> None:
    rule = (await control.post("/ratelimit", {"method": "chat.postMessage", "match": {"reply_broadcast": True}}))
    assert rule["rule"]["retry_after"] is None and rule["rule"]["match"] == {"reply_broadcast": True}
    card = await web.chat_postMessage(channel="C0OPS", text="card")  # no reply_broadcast: not throttled
    with pytest.raises(SlackApiError) as info:
        await web.chat_postMessage(channel="C0OPS", text="gate", thread_ts=card["ts"], reply_broadcast=True)
    assert info.value.response.headers["Retry-After"] == "30"  # Slack's usual answer unless a test says less
    assert (await web.chat_postMessage(channel="C0OPS", text="gate", thread_ts=card["ts"], reply_broadcast=True))["ok"]
