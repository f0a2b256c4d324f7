"""The crash window: a post made whose ts was never saved is found by its metadata, not repeated."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.ledger import LedgerStore
from bot.pacer import ChannelPacer
from bot.sync import RunSync
from engine.client import ShepherdClient
from sandbox import SandboxServer
from tests.bot.conftest import Slack
from tests.helpers import wait_for_gate


class Crash(Exception):
    pass


class CrashAfterPost(AsyncWebClient):
    """Posts for real, then 'dies' before the notifier can record the post."""

    async def chat_postMessage(self, **kwargs: Any) -> Any:
        await super().chat_postMessage(**kwargs)
        raise Crash


async def test_post_then_crash_is_not_repeated(server: SandboxServer, slack: Slack, client: ShepherdClient,
                                               worker: Any) -> None:
    run_id = await client.start("gate-demo", {}, requester="U0ALICE", channel="C0OPS")
    await wait_for_gate(client, run_id)
    ledgers = LedgerStore(client.redis)
    good = AsyncWebClient(token=server.bot_token, base_url=server.api_url)
    crashing = CrashAfterPost(token=server.bot_token, base_url=server.api_url)
    for web in (crashing, crashing, crashing, good):  # crash after the card, the steps, the gate
        try:
            await RunSync(web, client, ledgers, ChannelPacer(0)).sync(run_id)
        except Crash:
            assert (await ledgers.load(run_id)).intent is not None
    ledger = await ledgers.load(run_id)
    assert ledger.intent is None and ledger.card and ledger.gates
    top = await slack.top()
    assert len([m for m in top if m["metadata"]["event_type"] == "shepherd_card"]) == 1
    thread = await slack.thread(ledger.card)
    assert [m["metadata"]["event_type"] for m in thread] == ["shepherd_step", "shepherd_gate"]
