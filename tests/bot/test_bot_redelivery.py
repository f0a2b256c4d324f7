"""Slack's redeliveries (an ack that came too late) never act twice — in both transports.

Slack redelivers only Events API deliveries (https://api.slack.com/apis/connections/events-api#retries),
and so does the sandbox: a late ack to a command or a click is shown to the person as an error,
never sent again, and the bot (which acts after its ack anyway) still acts exactly once. A
redelivered event is dropped by ``bot.redelivery``. (A retried command, as a hand-made HTTP
request, is in test_bot_signatures.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from engine.client import ShepherdClient
from tests.bot.conftest import Harness, Slack
from tests.bot.test_bot_decisions import click
from tests.helpers import wait_for
from tests.sandbox.control_client import Control, eventually


def slow_first_delivery(harness: Harness, seconds: float) -> None:
    """Make the bot slower than Slack's ack timeout on first deliveries only (as an overloaded
    bot would be), so the sandbox redelivers an event while the first is still being handled
    (and a command or click is answered late, and not sent again)."""
    assert harness.bot is not None

    @harness.bot.app.middleware
    async def stall(request: Any, next: Callable[[], Awaitable[Any]]) -> Any:
        if int((request.headers.get("x-slack-retry-num") or ["0"])[0]) == 0:  # Socket Mode sends "0"
            await asyncio.sleep(seconds)
        return await next()


def attempts(result: dict[str, Any]) -> list[tuple[int, str]]:
    return [(a["number"], a["outcome"]) for a in result["delivery"]["attempts"]]


async def test_slow_command_and_click_are_sent_once_and_act_once(harness: Harness, slack: Slack, control: Control,
                                                                 client: ShepherdClient) -> None:
    harness.server.config.ack_timeout = 0.3
    slow_first_delivery(harness, 0.8)

    started = await control.post("/commands", {"user": "U0ALICE", "channel": "C0OPS", "command": "/run",
                                                "text": "gate-demo"})
    assert attempts(started) == [(0, "timeout")], started["delivery"]  # late, and not sent again
    card = await slack.wait_card()
    gate = await slack.wait_gate(card["ts"])
    runs = await client.list_runs()
    assert len(runs) == 1
    await slack.wait_ephemeral("U0ALICE", "Started *Gate demo*")
    assert '/run failed with the error "operation_timeout"' in await slack.ephemerals("U0ALICE")

    clicked = await control.post("/actions", click("U0BOB", gate["ts"]))
    assert attempts(clicked) == [(0, "timeout")], clicked["delivery"]
    run = await wait_for(client, runs[0]["id"])
    assert run.status == "completed" and json.loads(run.meta["result"])["by"] == "U0BOB"

    async def edited() -> bool:
        return "Approved by <@U0BOB>" in json.dumps((await slack.message(gate["ts"]))["blocks"])

    await eventually(edited, 10)
    assert len(await client.list_runs()) == 1


async def test_redelivered_event_acts_once(harness: Harness, control: Control) -> None:
    harness.server.config.ack_timeout = 0.3
    slow_first_delivery(harness, 0.8)
    opened = (await control.post("/app_home_opened", {"user": "U0ALICE"}))["interaction"]
    assert attempts(opened) == [(0, "timeout"), (1, "acked")], opened["delivery"]  # it really was sent twice

    async def publishes() -> list[dict[str, Any]]:
        return [c for c in (await control.get("/calls", method="views.publish"))["calls"]
                if c["args"].get("user_id") == "U0ALICE"]

    await eventually(lambda: _nonempty(publishes()), 10)
    await asyncio.sleep(0.5)  # room for a second publish to turn up, if the redelivery were handled
    assert len(await publishes()) == 1


async def _nonempty(calls: Awaitable[list[dict[str, Any]]]) -> bool:
    return bool(await calls)
