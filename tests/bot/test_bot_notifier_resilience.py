"""The notifier on an unlucky day (issue 10, items 5 and 14): a sync that outlives its lock, and a
channel so busy that its pacer has a minute's backlog, must not stop any other card."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from bot.ledger import lock_key
from engine.client import ShepherdClient
from tests.bot.conftest import Harness, Slack
from tests.helpers import wait_for
from tests.sandbox.control_client import Control, eventually

SPEEDUP = 20
"""Slack's Retry-After is honoured in full, on a clock SPEEDUP times faster than the wall's."""


def fast_sleeps(harness: Harness) -> list[float]:
    """Make the bot's 429 waits SPEEDUP times shorter; returns the waits it asked for, in seconds."""
    assert harness.bot is not None
    asked: list[float] = []

    async def sleep(seconds: float) -> None:
        asked.append(seconds)
        await asyncio.sleep(seconds / SPEEDUP)

    harness.bot.retry.sleep = sleep
    return asked


async def test_a_sync_longer_than_its_lock_leaves_the_notifier_working(
        harness: Harness, slack: Slack, control: Control, client: ShepherdClient) -> None:
    """Two 429s with Retry-After 31, as seen in the field, make one sync outlive its 1 s lock: the
    lock is renewed, nothing dies, and every later change still reaches Slack."""
    await harness.stop()
    bot = await harness.start(lock_ttl=1.0)
    asked = fast_sleeps(harness)
    await control.post("/ratelimit", {"method": "chat.postMessage", "count": 2, "retry_after": 31})
    started = asyncio.get_running_loop().time()
    await slack.command("U0ALICE", "gate-demo")

    async def refused_twice() -> bool:
        calls = (await control.get("/calls", method="chat.postMessage"))["calls"]
        return [c["status"] for c in calls] == [429, 429]

    await eventually(refused_twice, 10)
    run_id = (await client.list_runs())[0]["id"]
    assert asyncio.get_running_loop().time() - started > 1.0 * 1.5  # past the lock's first life
    assert await client.redis.pttl(lock_key(run_id)) > 0  # still held: renewed while the sync waits
    card = await slack.wait_card("Gate demo")
    assert [int(s) for s in asked] == [31, 31]  # Slack's Retry-After honoured in full
    assert asyncio.get_running_loop().time() - started > 3 * 1.0  # the sync outlived its 1 s lock thrice

    gate = await slack.wait_gate(card["ts"])  # the notifier lived through it
    await control.post("/actions", {"user": "U0BOB", "channel": "C0OPS", "ts": gate["ts"],
                                    "action_id": "shepherd_approve"})
    run = await wait_for(client, (await client.list_runs())[0]["id"])
    assert run.status == "completed"
    await slack.wait_card("completed")
    health = bot.supervisor.tasks["notifier"]
    assert health.crashes == 0 and health.healthy, health
    texts = [json.dumps(m.get("blocks") or m.get("text")) for m in await slack.top()]
    assert sum("Gate demo" in t for t in texts) == 1, texts


async def _gate_posted(slack: Slack) -> bool:
    card = await slack.card()
    return card is not None and any((m.get("metadata") or {}).get("event_type") == "shepherd_gate"
                                    for m in await slack.thread(card["ts"]))


async def test_a_busy_channel_does_not_delay_another_channels_posts(
        harness: Harness, control: Control, client: ShepherdClient) -> None:
    """Fifteen runs in #deploys are a 45-post backlog at Slack's 1 post/s, and their syncs wait
    behind it far longer than their 2 s locks live; a run in #ops started meanwhile still gets its
    card and gate in a few seconds, while #deploys is still catching up."""
    await harness.stop()
    await harness.start(post_interval=1.0, update_interval=1.0, lock_ttl=2.0)
    busy = Slack(control, "C0DEPLOYS")
    for n in range(15):
        await client.start("gate-demo", {"name": f"deploy-{n}"}, requester="U0ALICE", channel="C0DEPLOYS")

    async def busy_started() -> bool:  # the backlog is being worked through
        return sum((m.get("metadata") or {}).get("event_type") == "shepherd_card" for m in await busy.top()) >= 3

    await eventually(busy_started, 15)
    ops = Slack(control, "C0OPS")
    await ops.command("U0ALICE", "gate-demo urgent")
    started = asyncio.get_running_loop().time()
    await eventually(lambda: _gate_posted(ops), 8)
    took = asyncio.get_running_loop().time() - started
    cards = [m for m in await busy.top() if (m.get("metadata") or {}).get("event_type") == "shepherd_card"]
    gates = [m for m in await busy.all_replies() if (m.get("metadata") or {}).get("event_type") == "shepherd_gate"]
    assert len(gates) < 15, f"#deploys was not busy any more ({len(cards)} cards, {len(gates)} gates)"
    assert took < 8, took


async def test_two_runs_in_one_channel_share_its_pace(harness: Harness, control: Control,
                                                      client: ShepherdClient) -> None:
    """Syncing runs side by side must not break the per-channel pace: posts to #ops stay a post
    interval apart, however many runs post there at once."""
    await harness.stop()
    await harness.start(post_interval=0.3)
    ops = Slack(control, "C0OPS")
    for n in range(3):
        await client.start("gate-demo", {"name": f"pace-{n}"}, requester="U0ALICE", channel="C0OPS")

    async def all_gates() -> bool:
        replies = await ops.all_replies()
        return sum((m.get("metadata") or {}).get("event_type") == "shepherd_gate" for m in replies) == 3

    await eventually(all_gates, 20)
    posts: list[dict[str, Any]] = [c for c in (await control.get("/calls", method="chat.postMessage"))["calls"]
                                   if c["args"].get("channel") == "C0OPS" and c["status"] == 200]
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(posts)]
    assert len(posts) >= 9 and min(gaps) >= 0.25, gaps
