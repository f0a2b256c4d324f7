"""HTTP mode trusts nothing it cannot verify: a ``/run`` whose signature is wrong, stale or
missing is refused with 401 before any listener runs (no run, no message), a signed one starts
exactly one run, and Slack's retry of the same command (``X-Slack-Retry-Num``) starts no second
(``bot.redelivery`` drops it; ``ShepherdClient.start(dedup=trigger_id)`` would also refuse it).

Whatever a refused request contains, it gets a 401 and causes no Slack call: a timestamp that is
not a number, a body that is not UTF-8. A signed but malformed one (an interaction that is not an
object, ``actions: []``, a view without ``type``) gets a 400 and logs no traceback (``bot.inbound``),
and two properties (hypothesis) send signed interactions and events that are mostly what Slack
sends: every one is answered 200, 400 or 404, never 5xx, and nothing logs a traceback.

Requests are POSTed straight to the bot's ``/slack/events``, signed with the sandbox's own
signing code, so the headers are exactly what the test says and nothing else.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, event, given, settings
from redis.asyncio import Redis

from bot import acks
from engine.client import ShepherdClient
from sandbox import SandboxServer
from sandbox.http_delivery import encode_body
from sandbox.signing import signature, signed_headers
from tests.bot.conftest import Harness, Slack
from tests.bot.fuzz_payloads import EVENTS, INTERACTIONS
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


async def post(http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str],
               content_type: str = "application/x-www-form-urlencoded") -> int:
    headers = {"Content-Type": content_type, **headers}
    async with http.post(url, data=body, headers=headers) as resp:
        await resp.read()
        return resp.status


async def assert_nothing_happened(client: ShepherdClient, slack: Slack) -> None:
    await asyncio.sleep(QUIET)
    assert await client.list_runs() == []
    assert await slack.top() == []
    assert await slack.ephemerals("U0ALICE") == []
    calls = [c["method"] for c in (await slack.control.get("/calls"))["calls"]]
    assert not [m for m in calls if m != "auth.test"], calls  # no Slack call (but the auth.test of the bot's start)


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


@pytest.mark.parametrize("timestamp", ["abc", "", "1e9", " 1700000000", "\u0661\u0667\u0660\u0660", "-5"])
@pytest.mark.parametrize("signed_with", ["nothing", "a signature over that timestamp"])
async def test_malformed_timestamp_is_refused_and_nobody_is_told(
        timestamp: str, signed_with: str, server: SandboxServer, bot_url: str, http: aiohttp.ClientSession,
        client: ShepherdClient, slack: Slack) -> None:
    """A forged ``/run`` naming alice in #ops: before, a timestamp like ``abc`` raised inside
    Bolt's check, answered 500, and Bolt's error handler posted "Sorry, something went wrong"
    to alice in #ops."""
    body = command_body(server, "gate-demo forged", "trig-forged")
    headers = {"X-Slack-Request-Timestamp": timestamp}
    if signed_with != "nothing":
        headers["X-Slack-Signature"] = signature(server.signing_secret, timestamp, body)
    assert await post(http, bot_url, body, headers) == 401
    await assert_nothing_happened(client, slack)


@pytest.mark.parametrize("signing", ["valid", "bad_signature", "unsigned"])
async def test_a_body_that_is_not_utf8(signing: str, server: SandboxServer, bot_url: str,
                                       http: aiohttp.ClientSession, client: ShepherdClient, slack: Slack) -> None:
    """Refused as unverified (401) unless honestly signed, and then as malformed (400): never a 500."""
    body = command_body(server, "gate-demo", "trig-latin1") + b"&note=caf\xe9"
    expected = 400 if signing == "valid" else 401
    assert await post(http, bot_url, body, signed_headers(server.signing_secret, body, signing)) == expected
    encoded = command_body(server, "gate-demo", "trig-pct") + b"&x=%FF%FE"  # ASCII, but not UTF-8 once decoded
    assert await post(http, bot_url, encoded, signed_headers(server.signing_secret, encoded, signing)) == expected
    await assert_nothing_happened(client, slack)


def interaction_body(payload: object) -> bytes:
    return encode_body("interactive", payload)[0] if isinstance(payload, dict) else \
        b"payload=" + json.dumps(payload).encode()


def _user() -> dict[str, str]:
    return {"id": "U0ALICE", "username": "alice", "team_id": "T0SANDBOX"}


MALFORMED: dict[str, bytes] = {
    "payload is a list": interaction_body([1, 2, 3]),
    "payload is not JSON": b"payload=%7Bnot-json",
    "payload has no type": interaction_body({"user": _user(), "actions": []}),
    "no actions": interaction_body({"type": "block_actions", "user": _user(), "actions": [],
                                    "channel": {"id": "C0OPS"}, "trigger_id": "t1"}),
    "an action is not an object": interaction_body({"type": "block_actions", "user": _user(), "actions": [1],
                                                    "trigger_id": "t1"}),
    "user is a list": interaction_body({"type": "block_actions", "user": ["U0ALICE"], "trigger_id": "t1",
                                        "actions": [{"action_id": "shepherd_approve", "value": "{}"}]}),
    "view without type": interaction_body({"type": "view_submission", "user": _user(), "trigger_id": "t1", "view": {
        "id": "V1", "callback_id": "shepherd_start_form", "private_metadata": "{}", "state": {"values": {}}}}),
    "view is a string": interaction_body({"type": "view_submission", "user": _user(), "view": "V1"}),
    "neither command nor payload": b"token=x&user_id=U0ALICE",
    "a button value that is not ours": interaction_body({
        "type": "block_actions", "user": _user(), "channel": {"id": "C0OPS"}, "trigger_id": "t1",
        "actions": [{"action_id": "shepherd_approve", "block_id": "b", "type": "button", "value": "x"}]}),
    "a button without its value": interaction_body({
        "type": "block_actions", "user": _user(), "channel": {"id": "C0OPS"}, "trigger_id": "t1",
        "actions": [{"action_id": "shepherd_fill_in", "block_id": "b", "type": "button"}]}),
    "modal metadata that is not ours": interaction_body({
        "type": "view_submission", "user": _user(), "trigger_id": "t1", "view": {
            "id": "V1", "type": "modal", "callback_id": "shepherd_start_form", "private_metadata": "{}",
            "state": {"values": {}}}}),
    "modal state that is not blocks": interaction_body({
        "type": "view_submission", "user": _user(), "trigger_id": "t1", "view": {
            "id": "V1", "type": "modal", "callback_id": "shepherd_reject_reason",
            "private_metadata": '{"run": "r", "gate": "g", "channel": "C0OPS"}', "state": {"values": {"b": 1}}}}),
}


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_malformed_signed_payload_is_a_400_without_traceback(
        case: str, server: SandboxServer, bot_url: str, http: aiohttp.ClientSession, client: ShepherdClient,
        slack: Slack, caplog: pytest.LogCaptureFixture) -> None:
    body = MALFORMED[case]
    with caplog.at_level(logging.INFO):
        assert await post(http, bot_url, body, signed_headers(server.signing_secret, body)) == 400
    tracebacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not tracebacks, [r.getMessage() for r in tracebacks]
    await assert_nothing_happened(client, slack)


@pytest.mark.parametrize("body", [b'[{"type": "event_callback"}]', b'{"type": "event_callback", "event": "x"}',
                                  b'{"type": "event_callback", "event": {"type": "app_home_opened", "user": 7}}'])
async def test_malformed_signed_event_is_a_400(body: bytes, server: SandboxServer, bot_url: str,
                                               http: aiohttp.ClientSession) -> None:
    headers = signed_headers(server.signing_secret, body)
    assert await post(http, bot_url, body, headers, content_type="application/json") == 400


async def test_a_command_saying_payload_works_over_http(harness: Harness, slack: Slack,
                                                        client: ShepherdClient) -> None:
    """Bolt took any form containing the text ``payload`` for an interaction: this was a 404 in HTTP mode."""
    await slack.command("U0ALICE", "echo-inputs payload-api note=payload")
    await slack.wait_ephemeral("U0ALICE", "Started *Echo inputs*")
    runs = await client.list_runs()
    created = (await client.store.read_journal(runs[0]["id"]))[0]
    assert (created["inputs"]["target"], created["inputs"]["note"]) == ("payload-api", "payload")


async def test_ssl_check_is_answered(server: SandboxServer, bot_url: str, http: aiohttp.ClientSession) -> None:
    """Slack's certificate check (a signed form with ``ssl_check=1``) still gets its 200."""
    body = f"ssl_check=1&token={server.config.verification_token}".encode()
    assert await post(http, bot_url, body, signed_headers(server.signing_secret, body)) == 200


async def test_other_content_types_are_refused(server: SandboxServer, bot_url: str,
                                               http: aiohttp.ClientSession) -> None:
    body = b"command=/run&user_id=U0ALICE&channel_id=C0OPS&text=gate-demo"
    assert await post(http, bot_url, body, signed_headers(server.signing_secret, body),
                      content_type="text/plain") == 415


async def _answered_without_traceback(http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str],
                                      caplog: pytest.LogCaptureFixture, **post_args: Any) -> None:
    caplog.clear()
    with caplog.at_level(logging.INFO):
        status = await post(http, url, body, headers, **post_args)
        await acks.drain()  # work a listener does after its ack has ended (and logged) by now
    event(f"status {status}")
    assert status in (200, 400, 404), (status, body)
    tracebacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not tracebacks, [r.getMessage() for r in tracebacks]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # one bot for every example
@given(payload=EVENTS)
async def test_any_signed_event_gets_an_answer_not_an_error(
        payload: dict[str, Any], server: SandboxServer, bot_url: str, http: aiohttp.ClientSession,
        caplog: pytest.LogCaptureFixture) -> None:
    """Property: the same for Events API bodies (JSON)."""
    body = json.dumps(payload).encode()
    await _answered_without_traceback(http, bot_url, body, signed_headers(server.signing_secret, body), caplog,
                                      content_type="application/json")


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # one bot for every example
@given(payload=INTERACTIONS)
async def test_any_signed_interaction_gets_an_answer_not_an_error(
        payload: dict[str, Any], server: SandboxServer, bot_url: str, http: aiohttp.ClientSession,
        caplog: pytest.LogCaptureFixture) -> None:
    """Property: whatever a signed interaction holds, the door answers it (200, 400 or Bolt's 404 for
    what no listener handles), never 5xx, and nothing logs a traceback."""
    body = interaction_body(payload)
    await _answered_without_traceback(http, bot_url, body, signed_headers(server.signing_secret, body), caplog)
