"""A click or submission whose button value or modal metadata is not what the bot wrote is
refused before any listener, in Socket Mode too (over HTTP: tests/bot/test_bot_signatures.py).

Slack only echoes what the bot set, so the sandbox cannot send such a payload: it is handed to
the Socket Mode bot's Bolt app as its Socket Mode adapter would hand it. Before, the listener
acked, raised on the value, logged a traceback and told the person "Sorry, something went wrong".
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from redis.asyncio import Redis
from slack_bolt.request.async_request import AsyncBoltRequest

from bot import acks
from sandbox import SandboxServer
from tests.bot.conftest import Harness, Slack

USER = {"id": "U0ALICE", "username": "alice", "team_id": "T0SANDBOX"}
PAYLOADS = {
    "button value": {"type": "block_actions", "user": USER, "channel": {"id": "C0OPS"}, "trigger_id": "t1",
                     "team": {"id": "T0SANDBOX"},
                     "actions": [{"action_id": "shepherd_approve", "block_id": "b", "type": "button", "value": "x"}]},
    "modal metadata": {"type": "view_submission", "user": USER, "trigger_id": "t1", "team": {"id": "T0SANDBOX"},
                       "view": {"id": "V1", "type": "modal", "callback_id": "shepherd_answer_form",
                                "private_metadata": '{"channel": "C0OPS"}', "state": {"values": {}}}},
}


@pytest.mark.parametrize("case", list(PAYLOADS))
async def test_unreadable_echo_is_refused_over_socket_mode(case: str, server: SandboxServer, redis: Redis,
                                                           worker: Any, slack: Slack,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    harness = Harness(server, redis, "socket")
    bot = await harness.start()
    try:
        with caplog.at_level(logging.INFO):
            response = await bot.app.async_dispatch(AsyncBoltRequest(mode="socket_mode", body=PAYLOADS[case]))
            await acks.drain()
        assert response.status == 400, response.body
        tracebacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
        assert not tracebacks, [r.getMessage() for r in tracebacks]
        assert await slack.ephemerals("U0ALICE") == []
        calls = [c["method"] for c in (await slack.control.get("/calls"))["calls"]]
        assert calls == ["auth.test", "apps.connections.open"], calls  # the start; nothing for the refusal
    finally:
        await harness.stop()
