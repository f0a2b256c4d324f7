"""A bot restarted while a run waits at its gate carries on: nothing is posted twice."""

from __future__ import annotations

import json
from collections import Counter

from engine.client import ShepherdClient
from tests.bot.conftest import Harness, Slack
from tests.helpers import wait_for
from tests.sandbox.control_client import Control, eventually


async def test_restart_posts_nothing_twice(harness: Harness, slack: Slack, control: Control,
                                           client: ShepherdClient) -> None:
    await slack.command("U0ALICE", "gate-demo")
    card = await slack.wait_card("waiting for")
    gate = await slack.wait_gate(card["ts"])
    run_id = (await client.list_runs())[0]["id"]
    before = await slack.all_replies()
    await harness.stop()
    await harness.start()
    assert await slack.all_replies() == before  # catching up after a restart posts nothing
    await control.post("/actions", {"user": "U0BOB", "channel": "C0OPS", "ts": gate["ts"],
                                    "action_id": "shepherd_approve"})
    await wait_for(client, run_id)
    await slack.wait_card("completed")

    async def finished() -> bool:
        return "Run completed" in json.dumps(await slack.thread(card["ts"]))

    await eventually(finished, 10)
    top = await slack.top()
    assert [m["ts"] for m in top] == [card["ts"], gate["ts"]]  # the card and the broadcast gate
    thread = await slack.thread(card["ts"])
    marks = Counter(json.dumps(m.get("metadata", {}).get("event_payload"), sort_keys=True) for m in thread)
    assert all(n == 1 for n in marks.values()), marks
    texts = "\n".join(m["text"] for m in thread)
    assert texts.count("approved by <@U0BOB>") == 1 and texts.count("Run completed") == 1
