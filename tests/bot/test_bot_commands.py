"""Slash commands: help, bad input (nothing started), /runs, cancel by the requester only;
settings errors."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.membership import NOT_A_MEMBER
from bot.settings import SettingsProblem, load_bot_settings
from engine.client import ShepherdClient
from shepherd.cli import main
from tests.bot.conftest import Harness, Slack
from tests.sandbox.control_client import Control, eventually


async def test_help_lists_processes(harness: Harness, slack: Slack) -> None:
    await slack.command("U0ALICE", "")
    await slack.wait_ephemeral("U0ALICE", "`/run gate-demo &lt;name&gt;`")  # mrkdwn: shows <name>
    await slack.command("U0ALICE", "help approval-demo")
    await slack.wait_ephemeral("U0ALICE", "`service`")
    await slack.command("U0ALICE", "help echo-inputs")  # a description with <@U...> in it mentions nobody
    await slack.wait_ephemeral("U0ALICE", "a person (&lt;@U...&gt; arrives as the user id)")


async def test_bad_input_starts_nothing(harness: Harness, slack: Slack, client: ShepherdClient) -> None:
    await slack.command("U0ALICE", "nope")
    await slack.wait_ephemeral("U0ALICE", "Unknown process 'nope' (known: ")
    await slack.command("U0ALICE", "approval-demo pause=soon extra=1")
    seen = await slack.wait_ephemeral("U0ALICE", "unknown input 'extra'")
    problem = next(t for t in seen if "extra" in t)
    assert "• input 'pause'" in problem and "• input 'service': required" in problem
    assert await client.list_runs() == []
    assert await slack.top() == []


async def test_runs_and_cancel(harness: Harness, slack: Slack, client: ShepherdClient) -> None:
    await slack.command("U0ALICE", "gate-demo")
    await slack.wait_ephemeral("U0ALICE", "Started")
    run_id = (await client.list_runs())[0]["id"]
    await slack.command("U0ALICE", "mine", command="/runs")
    await slack.wait_ephemeral("U0ALICE", f"`{run_id}` gate-demo")
    await slack.command("U0MALLORY", f"cancel {run_id}")
    await slack.wait_ephemeral("U0MALLORY", "Only the requester")
    await slack.command("U0ALICE", f"cancel {run_id}")
    await slack.wait_ephemeral("U0ALICE", f"Cancelled run {run_id}")
    await slack.wait_card("cancelled")


async def test_run_where_the_bot_is_not_invited_answers_through_response_url_and_starts_nothing(
        harness: Harness, control: Control, client: ShepherdClient) -> None:
    """#exec (public) and #leadership (private) never had the bot: its card and its ephemerals
    would be refused there, so the command's response_url says so, and no run starts."""
    for channel in ("C0EXEC", "C0LEADERSHIP"):
        here = Slack(control, channel)
        for text, command in (("gate-demo release-1", "/run"), ("mine", "/runs")):
            before = (await here.ephemerals("U0ALICE")).count(NOT_A_MEMBER)
            result = await here.command("U0ALICE", text, command=command)
            assert not (result["ack"] or {}).get("text"), result["ack"]  # acked at once, the answer follows

            async def answered(here: Slack = here, before: int = before) -> bool:
                return (await here.ephemerals("U0ALICE")).count(NOT_A_MEMBER) == before + 1

            await eventually(answered, 10)  # the handler has returned: whatever it started is there
        assert await client.list_runs() == []
        assert await here.top() == []

    web = AsyncWebClient(token=harness.server.bot_token, base_url=harness.server.api_url)
    await web.conversations_join(channel="C0EXEC")  # invited: the same command now starts the run
    exec_channel = Slack(control, "C0EXEC")
    await exec_channel.command("U0ALICE", "gate-demo release-1")
    await exec_channel.wait_ephemeral("U0ALICE", "Started")
    await exec_channel.wait_card("release-1")


def test_missing_settings_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SettingsProblem, match="SLACK_BOT_TOKEN is required"):
        load_bot_settings()
    with pytest.raises(SettingsProblem, match=r"set SLACK_APP_TOKEN .* or SLACK_SIGNING_SECRET"):
        load_bot_settings(bot_token="xoxb-1")
    assert main(["serve", "--no-worker"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: SLACK_BOT_TOKEN is required") and "\n" not in err
