"""End to end through the sandbox: /run → card, thread, gate → click → outcome."""

from __future__ import annotations

import json

from engine.client import ShepherdClient
from tests.bot.conftest import Harness, Slack
from tests.helpers import wait_for
from tests.sandbox.control_client import Control, eventually


async def _started(slack: Slack, client: ShepherdClient) -> str:
    runs = await client.list_runs()
    assert len(runs) == 1, runs
    return runs[0]["id"]


async def test_full_run_approved(harness: Harness, slack: Slack, control: Control, client: ShepherdClient) -> None:
    await slack.command("U0ALICE", "gate-demo")
    await slack.wait_ephemeral("U0ALICE", "Started *Gate demo*")
    card = await slack.wait_card("Gate demo", "<@U0ALICE>")
    gate = await slack.wait_gate(card["ts"])
    assert gate["subtype"] == "thread_broadcast" and gate["thread_ts"] == card["ts"]
    assert "Continue demo?" in json.dumps(gate["blocks"])
    buttons = gate["blocks"][-1]["elements"]
    assert [(b["text"]["text"], b["style"]) for b in buttons] == [("Approve", "primary"), ("Reject", "danger")]
    await slack.wait_card("waiting for anyone")
    thread = await slack.thread(card["ts"])
    assert "prepare" in json.dumps(thread) or "step" in json.dumps(thread)

    result = await control.post("/actions", {"user": "U0BOB", "channel": "C0OPS", "ts": gate["ts"],
                                             "action_id": "shepherd_approve"})
    assert result["acked"]
    run = await wait_for(client, await _started(slack, client))
    assert run.status == "completed"
    await slack.wait_card("completed")

    async def edited() -> bool:
        message = await slack.message(gate["ts"])
        text = json.dumps(message["blocks"])
        return "Approved by <@U0BOB> at" in text and '"actions"' not in text

    await eventually(edited, 10)

    async def finished() -> bool:
        return "Run completed" in json.dumps(await slack.thread(card["ts"]))

    await eventually(finished, 10)
