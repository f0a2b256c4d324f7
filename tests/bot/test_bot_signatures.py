"""HTTP mode trusts nothing it cannot verify: a ``/run`` whose signature is wrong, stale or
missing is refused with 401 before any listener runs (no run, no message), a signed one starts
exactly one run, and Slack's retry of the same command (``X-Slack-Retry-Num``) starts no second
(``bot.redelivery`` drops it; ``ShepherdClient.start(dedup=trigger_id)`` would also refuse it).

Requests are POSTed straight to the bot's ``/slack/events``, signed with the sandbox's own
signing code, so the headers are exactly what the test says and nothing else.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from engine.client import ShepherdClient
from sandbox import SandboxServer
from sandbox.http_delivery import encode_body
from sandbox.signing import signed_headers
from tests.bot.conftest import Harness, Slack
from tests.sandbox.control_client import eventually

QUIET = 0.3
"""Seconds to let a refused request do anything it might (it must not)."""


@pytest.fixture
async def bot_url(server: SandboxServer, redis: Redis, worker: Any) -> AsyncIterator[str]:
    h = Harness(server, redis, "http")
    bot = await h.start()
    yield f"http://127.0.0.1:{bot.port}/slack/events"
    await h.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(trust_env=False) as session:
        yield session


def command_body(server: SandboxServer, text: str, trigger_id: str) -> bytes:
    """A ``/run`` from alice in #ops, form-encoded as Slack sends it."""
    cfg = server.config
    payload = {"token": cfg.verification_token, "team_id": cfg.team_id, "team_domain": cfg.team_domain,
               "channel_id": "C0OPS", "channel_name": "ops", "user_id": "U0ALICE", "user_name": "alice",
               "command": "/run", "text": text, "api_app_id": cfg.app_id, "is_enterprise_install": "false",
               "response_url": f"{server.url}/hooks/unused", "trigger_id": trigger_id}
    return encode_body("slash_commands", payload)[0]


async def post(http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]) -> int:
    headers = {"Content-Type": "application/x-www-form-urlencoded", **headers}
    async with http.post(url, data=body, headers=headers) as resp:
        await resp.read()
        return resp.status


async def assert_nothing_happened(client: ShepherdClient, slack: Slack) -> None:
    await asyncio.sleep(QUIET)
    assert await client.list_runs() == []
    assert await slack.top() == []
    assert await slack.ephemerals("U0ALICE") == []


@pytest.mark.parametrize("mode", ["bad_signature", "stale_timestamp", "unsigned"])
async def test_unverified_command_is_refused(mode: str, server: SandboxServer, bot_url: str,
                                             http: aiohttp.ClientSession, client: ShepherdClient,
                                             slack: Slack) -> None:
    body = command_body(server, "gate-demo refused", "trig-refused")
    headers = signed_headers(server.signing_secret, body, mode)
    if mode == "unsigned":
        assert headers == {}
    assert await post(http, bot_url, body, headers) == 401
    await assert_nothing_happened(client, slack)
    # The same body, honestly signed, does start a run: the refusal above was the signature's doing.
    assert await post(http, bot_url, body, signed_headers(server.signing_secret, body)) == 200
    await slack.wait_ephemeral("U0ALICE", "Started *Gate demo*")
    runs = await client.list_runs()
    assert len(runs) == 1 and runs[0]["process"] == "gate-demo"


async def test_signature_over_another_body_is_refused(server: SandboxServer, bot_url: str,
                                                      http: aiohttp.ClientSession, client: ShepherdClient,
                                                      slack: Slack) -> None:
    """A valid signature copied onto a changed body (text swapped in transit) does not verify."""
    signed = command_body(server, "gate-demo original", "trig-swap")
    swapped = command_body(server, "gate-demo tampered", "trig-swap")
    assert await post(http, bot_url, swapped, signed_headers(server.signing_secret, signed)) == 401
    await assert_nothing_happened(client, slack)


async def test_retry_of_a_command_starts_one_run(server: SandboxServer, bot_url: str,
                                                 http: aiohttp.ClientSession, client: ShepherdClient,
                                                 slack: Slack) -> None:
    body = command_body(server, "gate-demo once", "trig-retried")
    assert await post(http, bot_url, body, signed_headers(server.signing_secret, body)) == 200
    await slack.wait_ephemeral("U0ALICE", "Started *Gate demo*")
    run_id = (await client.list_runs())[0]["id"]
    retry = {**signed_headers(server.signing_secret, body), "X-Slack-Retry-Num": "1",
             "X-Slack-Retry-Reason": "http_timeout"}
    assert await post(http, bot_url, body, retry) == 200
    await asyncio.sleep(QUIET)
    assert [r["id"] for r in await client.list_runs()] == [run_id]
    started = [t for t in await slack.ephemerals("U0ALICE") if "Started" in t]
    assert started and all(run_id in t for t in started), started
    await slack.wait_card("Gate demo")
    assert len([m for m in await slack.top() if (m.get("metadata") or {}).get("event_type") == "shepherd_card"]) == 1
    # A different command (new trigger_id) with the same text is a new run, not a retry.
    other = command_body(server, "gate-demo once", "trig-second")
    assert await post(http, bot_url, other, signed_headers(server.signing_secret, other)) == 200
    await eventually(lambda: _count_runs(client, 2), 10)
    await asyncio.sleep(QUIET)
    assert len(await client.list_runs()) == 2, "the retry was processed late and started a run"


async def _count_runs(client: ShepherdClient, n: int) -> bool:
    return len(await client.list_runs()) == n
