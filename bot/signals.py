"""``/run signal <run> <name> key=value ...``: send a signal to a running run from Slack.

The engine checks the sender and validates the payload (``ShepherdClient.signal``); what is
Slack's here is the sender's user groups, asked of Slack (``usergroups.users.list``,
https://api.slack.com/methods/usergroups.users.list) for the groups the channel names, and the
deduplication id: the command's ``trigger_id``, unique to one invocation, so the same request
delivered twice (replayed, or resent by a client) delivers the signal once. The reply is an
ephemeral to the sender; refusals are raised, for ``bot.errors`` to tell.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from engine.arguments import ArgumentError
from engine.client import ShepherdClient

VERB = "signal"


async def sender_groups(web: AsyncWebClient | None, engine: ShepherdClient, run_id: str, name: str,
                        user: str) -> list[str]:
    """The channel's user groups that ``user`` belongs to, asked of Slack now."""
    channel = (await engine.signal_channels(run_id)).get(name) or {}
    groups = []
    for group in channel.get("groups", []) if web is not None else []:
        reply = await web.usergroups_users_list(usergroup=group)  # type: ignore[union-attr]
        if user in reply.get("users", []):
            groups.append(group)
    return groups


async def signal_command(engine: ShepherdClient, command: str, tokens: list[str], body: dict[str, Any],
                         web: AsyncWebClient | None) -> str:
    if len(tokens) < 3:
        raise ArgumentError(f"usage: {command} {VERB} <run id> <signal> [key=value ...]")
    run_id, name, values, user = tokens[1], tokens[2], tokens[3:], body["user_id"]
    groups = await sender_groups(web, engine, run_id, name, user)
    trigger = body.get("trigger_id")
    result = await engine.signal(run_id, name, values, sender=user, groups=groups,
                                 signal_id=f"slack-{trigger}" if trigger else None)
    return result.message[:1].upper() + result.message[1:]
