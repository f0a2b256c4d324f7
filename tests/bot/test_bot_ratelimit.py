"""Slack answers 429: the bot waits out Retry-After and carries on, posting nothing twice."""

from __future__ import annotations

import json
import time

from engine.client import ShepherdClient
from tests.bot.conftest import Harness, Slack
from tests.helpers import wait_for
from tests.sandbox.control_client import Control


async def test_a_rate_limited_card_is_posted_once_after_retry_after(
        harness: Harness, slack: Slack, control: Control, client: ShepherdClient) -> None:
    await control.post("/ratelimit", {"method": "chat.postMessage", "count": 2, "retry_after": 1})
    started = time.monotonic()
    await slack.command("U0ALICE", "gate-demo")
    card = await slack.wait_card("Gate demo")  # Slack.card() also asserts there is at most one
    assert time.monotonic() - started >= 1.0  # it waited at least one Retry-After
    calls = (await control.get("/calls", method="chat.postMessage"))["calls"]
    assert [c["status"] for c in calls][:3] == [429, 429, 200], calls

    # The run goes on normally: gate, approval, completion, one card throughout.
    gate = await slack.wait_gate(card["ts"])
    await control.post("/actions", {"user": "U0BOB", "channel": "C0OPS", "ts": gate["ts"],
                                    "action_id": "shepherd_approve"})
    run = await wait_for(client, (await client.list_runs())[0]["id"])
    assert run.status == "completed"
    await slack.wait_card("completed")
    texts = [json.dumps(m.get("blocks") or m.get("text")) for m in await slack.top()]
    assert sum("Gate demo" in t for t in texts) == 1, texts
