"""Rejecting through the modal, double clicks and races, and people who may not decide."""

from __future__ import annotations

import asyncio
import json

from engine.client import ShepherdClient
from tests.bot.conftest import Harness, Slack
from tests.helpers import wait_for, wait_for_gate
from tests.sandbox.control_client import Control, eventually

APPROVE, REJECT = "shepherd_approve", "shepherd_reject"


async def _gate(slack: Slack, client: ShepherdClient, text: str, user: str = "U0ALICE") -> tuple[str, str, str]:
    """Start a run from #ops; return (run id, card ts, gate message ts) once its gate is posted."""
    await slack.command(user, text)
    await slack.wait_ephemeral(user, "Started")
    card = await slack.wait_card()
    gate = await slack.wait_gate(card["ts"])
    return (await client.list_runs())[0]["id"], card["ts"], gate["ts"]


def click(user: str, ts: str, action: str = APPROVE) -> dict[str, str]:
    return {"user": user, "channel": "C0OPS", "ts": ts, "action_id": action}


async def test_reject_with_reason(harness: Harness, slack: Slack, control: Control, client: ShepherdClient) -> None:
    run_id, _, gate_ts = await _gate(slack, client, "gate-demo")
    await control.post("/actions", click("U0BOB", gate_ts, REJECT))

    async def opened() -> bool:
        return (await control.get("/users/U0BOB/views"))["top"] is not None

    await eventually(opened, 10)
    view = (await control.get("/users/U0BOB/views"))["top"]
    assert view["callback_id"] == "shepherd_reject_reason"
    await control.post("/views/submit", {"user": "U0BOB", "view_id": view["id"],
                                         "values": {"shepherd_reason": {"reason": "not during the freeze"}}})
    run = await wait_for(client, run_id)
    assert run.status == "completed" and json.loads(run.meta["result"])["approved"] is False
    await slack.wait_card("completed")

    async def edited() -> bool:
        text = json.dumps((await slack.message(gate_ts))["blocks"])
        return "Rejected by <@U0BOB> at" in text and "not during the freeze" in text and '"actions"' not in text

    await eventually(edited, 10)


async def _freeze_notifier(harness: Harness) -> None:
    """Stop posting so the gate keeps its buttons: both clicks then really race in the engine."""
    assert harness.bot is not None
    harness.bot.notifier.stop()
    await harness.bot._notifier_task


async def test_double_click_gives_one_decision(harness: Harness, slack: Slack, control: Control,
                                               client: ShepherdClient) -> None:
    run_id, _, gate_ts = await _gate(slack, client, "gate-demo")
    await _freeze_notifier(harness)
    results = await asyncio.gather(*(control.post("/actions", click("U0BOB", gate_ts)) for _ in range(2)))
    await slack.wait_ephemeral("U0BOB", "already approved by <@U0BOB>")
    run = await wait_for(client, run_id)
    assert json.loads(run.meta["result"])["by"] == "U0BOB"
    assert all(r["acked"] and len(r["delivery"]["attempts"]) == 1 for r in results)  # no redelivery
    assert len([t for t in await slack.ephemerals("U0BOB") if "already" in t]) == 1


async def test_racing_approvers(harness: Harness, slack: Slack, control: Control, client: ShepherdClient) -> None:
    run_id, _, gate_ts = await _gate(slack, client, "gate-demo")
    await _freeze_notifier(harness)
    await asyncio.gather(control.post("/actions", click("U0BOB", gate_ts)),
                         control.post("/actions", click("U0CAROL", gate_ts)))
    run = await wait_for(client, run_id)
    winner = json.loads(run.meta["result"])["by"]
    loser = "U0CAROL" if winner == "U0BOB" else "U0BOB"
    await slack.wait_ephemeral(loser, f"already approved by <@{winner}>")
    assert not [t for t in await slack.ephemerals(winner) if "already" in t]


async def test_outsider_and_requester_refused(harness: Harness, slack: Slack, control: Control,
                                              client: ShepherdClient) -> None:
    run_id, _, gate_ts = await _gate(slack, client, "approval-demo api approvers=@bob")
    await control.post("/actions", click("U0MALLORY", gate_ts))
    await slack.wait_ephemeral("U0MALLORY", "You are not one of the approvers of this gate (<@U0BOB>)")
    await control.post("/actions", click("U0ALICE", gate_ts))
    await slack.wait_ephemeral("U0ALICE", "You are not one of the approvers")
    gate = await wait_for_gate(client, run_id)
    assert gate["status"] == "open" and (await client.view(run_id)).status == "waiting"
    assert '"actions"' in json.dumps((await slack.message(gate_ts))["blocks"])


async def test_four_eyes_refuses_requester(harness: Harness, slack: Slack, control: Control,
                                           client: ShepherdClient) -> None:
    run_id, _, gate_ts = await _gate(slack, client, "approval-demo api")
    await control.post("/actions", click("U0ALICE", gate_ts))
    await slack.wait_ephemeral("U0ALICE", "Four-eyes")
    assert (await wait_for_gate(client, run_id))["status"] == "open"
