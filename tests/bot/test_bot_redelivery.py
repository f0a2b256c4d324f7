"""Slack's redeliveries (an ack that came too late) never start a second run, apply a second
decision or show the person a second reply — in both transports."""

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
    bot would be), so the sandbox redelivers while the first is still being handled."""
    assert harness.bot is not None

    @harness.bot.app.middleware
    async def stall(request: Any, next: Callable[[], Awaitable[Any]]) -> Any:
        if int((request.headers.get("x-slack-retry-num") or ["0"])[0]) == 0:  # Socket Mode sends "0"
            await asyncio.sleep(seconds)
        return await next()


def attempts(result: dict[str, Any]) -> list[tuple[int, str]]:
    return [(a["number"], a["outcome"]) for a in result["delivery"]["attempts"]]


async def test_redelivered_command_and_click_act_once(harness: Harness, slack: Slack, control: Control,
                                                     client: ShepherdClient) -> None:
    harness.server.config.ack_timeout = 0.3
    slow_first_delivery(harness, 0.8)

    started = await slack.command("U0ALICE", "gate-demo")
    assert len(attempts(started)) == 2, started["delivery"]  # it really was delivered twice
    card = await slack.wait_card()
    gate = await slack.wait_gate(card["ts"])
    runs = await client.list_runs()
    assert len(runs) == 1
    await asyncio.sleep(0.5)  # room for a second reply to turn up, if there were one
    assert [t for t in await slack.ephemerals("U0ALICE") if t.startswith("Started")] == [
        f"Started *Gate demo*: run `{runs[0]['id']}`. Its status card is in this channel."]

    clicked = await control.post("/actions", click("U0BOB", gate["ts"]))
    assert len(clicked["delivery"]["attempts"]) == 2, clicked["delivery"]
    run = await wait_for(client, runs[0]["id"])
    assert run.status == "completed" and json.loads(run.meta["result"])["by"] == "U0BOB"

    async def edited() -> bool:
        return "Approved by <@U0BOB>" in json.dumps((await slack.message(gate["ts"]))["blocks"])

    await eventually(edited, 10)
    assert not [t for t in await slack.ephemerals("U0BOB") if "already" in t]
