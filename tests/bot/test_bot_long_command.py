"""A 1 MB command cannot freeze the bot for everyone else (issue 10, item 17).

The text is refused, in one line, before it is split, and splitting is linear anyway; the bot
acks first. Someone else's ordinary command, sent once the long one is acknowledged (so while
its work runs), is acknowledged inside Slack's window too (the sandbox enforces Slack's 3 s, in
both transports); the long one gets its refusal and the ordinary one starts its run. Before the
fix, the tokenizer ran for 20 s or more on the event loop and the other command went unanswered.
"""

from __future__ import annotations

from engine.client import ShepherdClient
from engine.command_text import MAX_COMMAND_TEXT
from tests.bot.conftest import Harness, Slack
from tests.sandbox.control_client import Control

LONG = "echo-inputs " + "x" * 1_000_000


async def test_a_huge_command_is_refused_and_does_not_hold_up_another(harness: Harness, slack: Slack,
                                                                      control: Control,
                                                                      client: ShepherdClient) -> None:
    async def send(user: str, text: str) -> dict:
        return await control.post("/commands", {"user": user, "channel": "C0OPS", "command": "/run", "text": text})

    long_result = await send("U0ALICE", LONG)  # acknowledged: its work (the split) starts now
    assert [a["outcome"] for a in long_result["delivery"]["attempts"]] == ["acked"]
    normal_result = await send("U0BOB", "echo-inputs deploy")  # arrives while that work is under way
    # answered at the first attempt, inside Slack's window: no timeout, no redelivery
    assert [a["outcome"] for a in normal_result["delivery"]["attempts"]] == ["acked"]

    await slack.wait_ephemeral("U0BOB", "Started *Echo inputs*")
    [refusal] = await slack.wait_ephemeral("U0ALICE", "too long")
    assert refusal == f"• the command text is too long: {len(LONG):,} characters (at most {MAX_COMMAND_TEXT:,})"
    assert [r["requester"] for r in await client.list_runs()] == ["U0BOB"]
    await slack.wait_card("deploy")  # the ordinary run's card is up


async def test_a_huge_runs_filter_gets_one_short_line(harness: Harness, slack: Slack) -> None:
    await slack.command("U0ALICE", "x" * 100_000, command="/runs")
    [reply] = await slack.wait_ephemeral("U0ALICE", "expected one of mine, waiting, all")
    assert reply == f"• expected one of mine, waiting, all, got '{'x' * 57}…'"
