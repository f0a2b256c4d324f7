"""reactions.add / reactions.remove: emoji on messages (Shepherd marks progress with them)."""

from __future__ import annotations

import re
from typing import Any

from sandbox.errors import SlackError
from sandbox.methods.registry import Call, method
from sandbox.model import Channel

_NAME = re.compile(r"^[a-z0-9_+'\-]+(::skin-tone-[2-6])?$")


def _target(call: Call) -> tuple[Channel, str, str]:
    channel = call.ws.channel(call.args.req("channel", error="channel_not_found"))
    ts = call.args.req("timestamp", error="message_not_found")
    name = (call.args.opt("name") or "").strip(":")
    if not _NAME.match(name):
        raise SlackError("invalid_name")
    return channel, ts, name


@method("reactions.add")
async def add(call: Call) -> dict[str, Any]:
    channel, ts, name = _target(call)
    call.ws.react(channel, ts, name, call.ws.bot)
    return {}


@method("reactions.remove")
async def remove(call: Call) -> dict[str, Any]:
    channel, ts, name = _target(call)
    message = call.ws.message(channel.id, ts)
    users = message.reactions.get(name, [])
    if call.ws.bot not in users:
        raise SlackError("no_reaction")
    users.remove(call.ws.bot)
    if not users:
        del message.reactions[name]
    call.ws.bus.publish("reaction_removed", channel=channel.id, ts=ts, name=name, user=call.ws.bot)
    call.ws.bus.publish("message_updated", channel=channel.id, message=call.ws.render(message), reason="reaction")
    return {}
