"""``/run signal <run> <name> key=value``: a signal sent from Slack, in both transports.

The engine decides (sender, payload, duplicates); these tests show what the person sees: an
ephemeral that says it was sent, or one line per problem, and a refusal for a sender the channel
does not allow, with group membership asked of Slack."""

from __future__ import annotations

from typing import Any

import aiohttp
from redis.asyncio import Redis

from engine.client import ShepherdClient
from sandbox import SandboxServer
from sandbox.signing import signed_headers
from tests.bot.conftest import Harness, Slack
from tests.bot.test_bot_signatures import command_body, post
from tests.helpers import wait_for
from tests.test_signals import waiting_for_signal  # also loads tests/signal_examples


async def test_the_requester_signals_a_run_and_others_are_refused(harness: Harness, slack: Slack,
                                                                   client: ShepherdClient) -> None:
    run_id = await client.start("signal-inbox", {"count": 1, "hold": False}, requester="U0ALICE", channel="C0OPS")
    await waiting_for_signal(client, run_id, "update-0")

    await slack.command("U0MALLORY", f"signal {run_id} update text=hijack")
    await slack.wait_ephemeral("U0MALLORY", f"Signal update of run {run_id} may be sent by the run's requester")
    await slack.command("U0ALICE", f"signal {run_id} update text=hello level=high")
    await slack.wait_ephemeral("U0ALICE", "input 'level'")
    await slack.command("U0ALICE", f"signal {run_id} updat text=hello")
    await slack.wait_ephemeral("U0ALICE", f"Run {run_id} takes no signal 'updat' (it takes: update)")
    await slack.command("U0ALICE", "signal")
    await slack.wait_ephemeral("U0ALICE", "• usage: /run signal &lt;run id&gt; &lt;signal&gt; [key=value ...]")

    await slack.command("U0ALICE", f'signal {run_id} update text="rolled back" level=2')
    await slack.wait_ephemeral("U0ALICE", f"Sent update to run {run_id}")
    run = await wait_for(client, run_id)
    assert run.status == "completed"
    assert (await client.store.read_journal(run_id))[-1]["result"] == {"received": ["rolled back/2"]}


async def test_a_group_member_may_send_what_the_channel_allows_its_group(harness: Harness, slack: Slack,
                                                                        client: ShepherdClient) -> None:
    run_id = await client.start("signal-senders", {}, requester="U0ALICE", channel="C0OPS")
    await waiting_for_signal(client, run_id, "1")
    await slack.command("U0MALLORY", f"signal {run_id} severity severity=SEV-1")
    await slack.wait_ephemeral("U0MALLORY", "may be sent by bob, group:S0SRE")
    await slack.command("U0CAROL", f"signal {run_id} severity severity=SEV-1")  # S0SRE, asked of Slack
    await slack.wait_ephemeral("U0CAROL", f"Sent severity to run {run_id}")
    await waiting_for_signal(client, run_id, "2")
    events = await client.store.read_journal(run_id)
    assert [(e["by"], e["payload"]) for e in events if e["type"] == "signal_received"] == [
        ("U0CAROL", {"severity": "SEV-1", "reason": ""})]


async def test_a_replayed_signal_command_is_delivered_once(server: SandboxServer, redis: Redis, worker: Any,
                                                           client: ShepherdClient, slack: Slack) -> None:
    """The same signed request twice (a replay, or a client that sent it again): one signal."""
    h = Harness(server, redis, "http")
    bot = await h.start()
    try:
        run_id = await client.start("signal-inbox", {"count": 2, "hold": False}, requester="U0ALICE",
                                    channel="C0OPS")
        await waiting_for_signal(client, run_id, "update-0")
        url = f"http://127.0.0.1:{bot.port}/slack/events"
        body = command_body(server, f"signal {run_id} update text=once", "trig-signal")
        async with aiohttp.ClientSession(trust_env=False) as http:
            assert await post(http, url, body, signed_headers(server.signing_secret, body)) == 200
            await slack.wait_ephemeral("U0ALICE", f"Sent update to run {run_id}")
            assert await post(http, url, body, signed_headers(server.signing_secret, body)) == 200
            await slack.wait_ephemeral("U0ALICE", "was already delivered (by U0ALICE at ")
        await waiting_for_signal(client, run_id, "update-1")
        events = await client.store.read_journal(run_id)
        assert [e["id"] for e in events if e["type"] == "signal_received"] == ["slack-trig-signal"]
    finally:
        await h.stop()
