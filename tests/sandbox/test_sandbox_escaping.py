"""The sandbox escapes slash command text as Slack does, and marks messages that would notify.

Slack: https://api.slack.com/interactivity/slash-commands (``should_escape``) and
https://api.slack.com/reference/surfaces/formatting#escaping. Without these the sandbox hands an
app kinder text than Slack does, and a ping an app posts by mistake goes unseen.
"""

from __future__ import annotations

import yaml
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.config import SandboxConfig
from sandbox.escaping import escape_command_text, notifies
from tests.helpers import ROOT
from tests.sandbox.control_client import Control

TYPED = "@bob in #ops: @here @channel @everyone @sre a&b <x> https://x.test/a?b=1&c=2 @nobody a@bob.test #nowhere"
SENT = ("<@U0BOB|bob> in <#C0OPS|ops>: <!here> <!channel> <!everyone> <!subteam^S0SRE|@sre> a&amp;b &lt;x&gt; "
        "<https://x.test/a?b=1&amp;c=2> @nobody <mailto:a@bob.test|a@bob.test> #nowhere")


async def test_slash_command_text_arrives_escaped_as_slack_sends_it(control: Control) -> None:
    result = await control.post("/commands", {"user": "U0ALICE", "channel": "C0OPS", "command": "/run",
                                              "text": TYPED}, expect=503)  # no app connected: kept anyway
    assert result["payload"]["text"] == SENT


def test_without_should_escape_only_control_characters_are_escaped() -> None:
    text = escape_command_text("@bob <b> & #ops", users={"bob": "U0BOB"}, channels={"ops": "C0OPS"}, groups={},
                               should_escape=False)
    assert text == "@bob &lt;b&gt; &amp; #ops"


def test_notifies_reads_text_and_mrkdwn_but_not_plain_text() -> None:
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": "<!here>"}},
              {"type": "section", "text": {"type": "mrkdwn", "text": "for <@U0BOB> and <!subteam^S0SRE|@sre>"}},
              {"type": "actions", "elements": [{"type": "button", "value": "<!everyone>",
                                                "text": {"type": "plain_text", "text": "Go"}}]}]
    assert notifies("<!channel> db down", blocks) == ["channel", "U0BOB", "subteam^S0SRE"]
    assert notifies("&lt;!channel&gt; @channel db down &lt;https://evil.example|Approve&gt;") == []


async def test_stored_messages_say_whom_they_notify(web: AsyncWebClient, control: Control) -> None:
    await web.chat_postMessage(channel="C0OPS", text="<!channel> db down")
    await web.chat_postMessage(channel="C0OPS", text="&lt;!channel&gt; db down",
                               blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "<@U0BOB> look"}}])
    await web.chat_postMessage(channel="C0OPS", text="@channel, as plain words")
    messages = (await control.get("/channels/C0OPS/messages"))["messages"]
    assert [m["notifies"] for m in messages] == [["channel"], ["U0BOB"], []]


def test_the_sandbox_escapes_as_the_manifest_asks() -> None:
    """The sandbox's default is the app's own setting: every command in manifest.yml has should_escape."""
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    settings = {c["command"]: c.get("should_escape", False) for c in manifest["features"]["slash_commands"]}
    assert settings and set(settings.values()) == {SandboxConfig().should_escape}, settings
