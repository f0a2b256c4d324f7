"""Staying inside Slack's rate limits (issue 10, item 8): message edits are paced per channel like
posts, and App Home refreshes neither hold up the notifier nor repeat within their interval."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from engine.client import ShepherdClient
from tests.bot.conftest import Harness, Slack
from tests.helpers import wait_for, wait_for_gate
from tests.sandbox.control_client import Control, eventually


async def _calls(control: Control, method: str) -> list[dict[str, Any]]:
    return [c for c in (await control.get("/calls", method=method))["calls"] if c["status"] == 200]


async def test_card_and_gate_edits_are_paced_per_channel(harness: Harness, slack: Slack, control: Control,
                                                         client: ShepherdClient) -> None:
    await harness.stop()
    await harness.start(update_interval=0.4)
    await slack.command("U0ALICE", "gate-demo")
    card = await slack.wait_card("Gate demo")
    gate = await slack.wait_gate(card["ts"])
    await control.post("/actions", {"user": "U0BOB", "channel": "C0OPS", "ts": gate["ts"],
                                    "action_id": "shepherd_approve"})
    await wait_for(client, (await client.list_runs())[0]["id"])
    await slack.wait_card("completed")
    edits = [c for c in await _calls(control, "chat.update") if c["args"].get("channel") == "C0OPS"]
    assert {c["args"]["ts"] for c in edits} == {card["ts"], gate["ts"]}  # the card and the gate were edited
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(edits)]
    assert len(edits) >= 3 and min(gaps) >= 0.35, gaps  # never two edits in #ops within the interval


async def _open_home(control: Control, user: str) -> None:
    await control.post("/app_home_opened", {"user": user})

    async def published() -> bool:
        return (await control.get(f"/users/{user}/home"))["view"] is not None

    await eventually(published, 10)


async def test_a_throttled_home_does_not_hold_up_cards(harness: Harness, slack: Slack, control: Control,
                                                       client: ShepherdClient) -> None:
    """views.publish answers 429 with Slack's usual Retry-After: 30 while a run goes from start to
    end; its card and gate are not kept waiting for the homes."""
    await _open_home(control, "U0BOB")
    await control.post("/ratelimit", {"method": "views.publish", "count": 3, "retry_after": 30})
    await slack.command("U0ALICE", "gate-demo")
    card = await slack.wait_card("Gate demo")
    gate = await slack.wait_gate(card["ts"])
    await control.post("/actions", {"user": "U0BOB", "channel": "C0OPS", "ts": gate["ts"],
                                    "action_id": "shepherd_approve"})
    await wait_for(client, (await client.list_runs())[0]["id"])
    await slack.wait_card("completed")

    async def refused() -> bool:  # a refresh met the 429 and is waiting out its 30 s, not the cards
        return any(c["status"] == 429 for c in (await control.get("/calls", method="views.publish"))["calls"])

    await eventually(refused, 10)


async def test_home_refreshes_are_coalesced_per_person(harness: Harness, control: Control,
                                                       client: ShepherdClient) -> None:
    """Four runs opening gates Bob may decide within moments give Bob a few publishes, at most one
    per interval, and the last one shows every gate."""
    await harness.stop()
    await harness.start(home_interval=2.0)
    await _open_home(control, "U0BOB")
    started = asyncio.get_running_loop().time()
    runs = [await client.start("gate-demo", {"name": f"batch-{n}"}, requester="U0ALICE", channel="C0OPS")
            for n in range(4)]
    for run_id in runs:
        await wait_for_gate(client, run_id)

    async def all_gates_shown() -> bool:
        view = (await control.get("/users/U0BOB/home"))["view"]
        text = json.dumps(view["blocks"]) if view else ""
        return all(f"Continue batch-{n}?" in text for n in range(4))

    await eventually(all_gates_shown, 15)
    elapsed = asyncio.get_running_loop().time() - started
    to_bob = [c for c in await _calls(control, "views.publish") if c["args"].get("user_id") == "U0BOB"]
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(to_bob)]
    assert len(to_bob) >= 2 and min(gaps) >= 1.9, gaps  # the opening, then refreshes 2 s apart
    assert len(to_bob) <= 2 + elapsed / 2.0, (len(to_bob), elapsed)
