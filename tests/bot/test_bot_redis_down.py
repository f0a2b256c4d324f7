"""Redis goes away under a running bot: a command gets a plain answer, not an error id."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import STORE_DOWN
from sandbox import SandboxServer
from state.connection import connect
from tests.bot.conftest import Harness, Slack
from tests.sandbox.control_client import Control
from tests.test_redis_outage import RedisServer, free_port


@pytest.mark.parametrize("transport", ["socket", "http"])
async def test_a_command_while_redis_is_down_says_so(transport: str, server: SandboxServer, control: Control,
                                                     tmp_path: Path) -> None:
    redis_server = RedisServer(tmp_path, free_port())
    redis_server.start()
    redis = await connect(redis_server.url)
    harness = Harness(server, redis, transport)
    await harness.start()
    slack = Slack(control)
    try:
        redis_server.kill()
        await slack.command("U0ALICE", "gate-demo")
        told = await slack.wait_ephemeral("U0ALICE", "cannot reach its state store (Redis)")
        assert told[-1] == STORE_DOWN and "error id" not in told[-1]
        assert await slack.card() is None  # nothing half-started
    finally:
        await harness.stop()
        await redis.aclose()
        redis_server.kill()
