"""Redis is killed (-9) and restarted under a running bot (issue 10, item 13): the syncs that
failed meanwhile are retried from the notifier's pending entries, so every card and gate message
ends up right with no bot restart.

A real redis-server with an AOF (``tests.test_redis_outage.RedisServer``) dies mid-sync: a 429
holds the post of a gate message in Slack's Retry-After while Redis is killed, so the post
reaches Slack but its ledger write meets a dead Redis.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from engine.client import ShepherdClient
from engine.settings import Settings
from engine.worker import Worker
from sandbox import SandboxServer
from state.connection import connect
from tests.bot.conftest import Harness, Slack
from tests.helpers import EXAMPLES, wait_for, wait_for_gate
from tests.sandbox.control_client import Control, eventually
from tests.test_redis_outage import RedisServer, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@dataclass
class Stack:
    redis_server: RedisServer
    redis: Redis
    client: ShepherdClient
    harness: Harness


@pytest.fixture(params=["socket", "http"])
async def stack(request: pytest.FixtureRequest, server: SandboxServer, tmp_path: Path) -> AsyncIterator[Stack]:
    redis_server = RedisServer(tmp_path, free_port())
    redis_server.start()
    redis = await connect(redis_server.url)
    settings = Settings(redis_url=redis_server.url, data_dir=tmp_path / "data", visibility_timeout=1.0,
                        timer_poll=0.05, lock_ttl=5.0, processes_path=str(EXAMPLES), max_deliveries=3,
                        shutdown_grace=5.0, concurrency=8)
    worker = Worker(redis, settings)
    worker_task = asyncio.create_task(worker.run())
    harness = Harness(server, redis, request.param)
    await harness.start()
    try:
        yield Stack(redis_server, redis, ShepherdClient(redis), harness)
    finally:
        await harness.stop()
        worker.stop()
        await asyncio.wait_for(worker_task, 30)
        await redis.aclose()
        redis_server.kill()


def _blocks(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks") or message.get("text"), ensure_ascii=False)


async def _calls(control: Control, status: int) -> list[dict[str, Any]]:
    """Posts of a gate message (the only ones broadcast to the channel) Slack answered with ``status``."""
    return [c for c in (await control.get("/calls", method="chat.postMessage"))["calls"]
            if c["status"] == status and str(c["args"].get("reply_broadcast")).lower() == "true"]


async def test_a_redis_restart_mid_sync_leaves_no_card_or_gate_behind(stack: Stack, slack: Slack,
                                                                      control: Control) -> None:
    client = stack.client
    # The gate's post is answered 429; while the notifier waits out the Retry-After, Redis dies.
    # The post then reaches Slack, and the ledger write after it meets a dead Redis. The run waits
    # at its gate: no later change will come to trigger another sync.
    await control.post("/ratelimit", {"method": "chat.postMessage", "count": 1, "retry_after": 2,
                                      "match": {"reply_broadcast": True}})
    await slack.command("U0ALICE", "gate-demo")
    card = await slack.wait_card("Gate demo")
    await eventually(lambda: _calls(control, 429), 10)
    run_id = (await client.list_runs())[0]["id"]
    await wait_for_gate(client, run_id)  # the run is at its gate, every change of it already written
    stack.redis_server.kill()
    await eventually(lambda: _calls(control, 200), 10)
    stack.redis_server.start()  # same port and AOF: everything acknowledged before the kill comes back

    # No bot restart: the notifier retries the failed sync; the gate is found, not posted again.
    waiting = await slack.wait_card("waiting for anyone")
    assert waiting["ts"] == card["ts"]
    gate = await slack.wait_gate(card["ts"])
    gates = [m for m in await slack.thread(card["ts"])
             if (m.get("metadata") or {}).get("event_type") == "shepherd_gate"]
    assert len(gates) == 1, gates

    await control.post("/actions", {"user": "U0BOB", "channel": "C0OPS", "ts": gate["ts"],
                                    "action_id": "shepherd_approve"})
    assert (await wait_for(client, run_id)).status == "completed"
    await slack.wait_card("completed")

    async def decided() -> bool:
        return "shepherd_approve" not in _blocks(await slack.message(gate["ts"]))

    await eventually(decided, 10)  # the gate's buttons are gone

    # And it keeps working: a run started after the restart gets its card and gate.
    await slack.command("U0CAROL", "gate-demo after")

    async def second_gate() -> bool:
        cards = [m for m in await slack.top() if "after" in _blocks(m)
                 and (m.get("metadata") or {}).get("event_type") == "shepherd_card"]
        return bool(cards) and any((m.get("metadata") or {}).get("event_type") == "shepherd_gate"
                                   for m in await slack.thread(cards[0]["ts"]))

    await eventually(second_gate, 15)
    cards = [m for m in await slack.top() if (m.get("metadata") or {}).get("event_type") == "shepherd_card"]
    assert len(cards) == 2, [_blocks(c) for c in cards]  # nothing posted twice
