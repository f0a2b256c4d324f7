"""conversations.*: channels, membership, topics, history and threads."""

from __future__ import annotations

from typing import Any

from sandbox.errors import SlackError
from sandbox.methods.paging import metadata, page
from sandbox.methods.registry import Call, method
from sandbox.model import Channel


def _visible(call: Call, channel: Channel) -> Channel:
    """Private channels the bot is not in do not exist as far as the bot can tell."""
    if (channel.is_private or channel.is_im) and call.ws.bot not in channel.members:
        raise SlackError("channel_not_found")
    return channel


def _channel(call: Call) -> Channel:
    return _visible(call, call.ws.channel(call.args.req("channel", error="channel_not_found")))


def _out(call: Call, channel: Channel) -> dict[str, Any]:
    return channel.to_slack(call.sb.config.team_id, call.ws.bot)


def _in_window(ts: str, args: Any) -> bool:
    oldest, latest = args.opt("oldest"), args.opt("latest")
    inclusive = args.flag("inclusive")
    value = float(ts)
    if oldest is not None and (value < float(oldest) or (value == float(oldest) and not inclusive)):
        return False
    return not (latest is not None and (value > float(latest) or (value == float(latest) and not inclusive)))


@method("conversations.create")
async def create(call: Call) -> dict[str, Any]:
    channel = call.ws.create_channel(call.args.raw("name"), call.ws.bot, is_private=call.args.flag("is_private"))
    return {"channel": _out(call, channel)}


@method("conversations.invite")
async def invite(call: Call) -> dict[str, Any]:
    channel = _channel(call)
    call.ws.require_member(channel, call.ws.bot)
    call.ws.invite(channel, call.args.csv("users"), call.ws.bot)
    return {"channel": _out(call, channel)}


@method("conversations.join")
async def join(call: Call) -> dict[str, Any]:
    channel = _channel(call)
    if call.ws.bot in channel.members:
        return {"channel": _out(call, channel), "warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]}}
    channel.members.append(call.ws.bot)
    call.ws.bus.publish("member_joined", channel=channel.id, user=call.ws.bot, inviter=None)
    return {"channel": _out(call, channel)}


@method("conversations.setTopic")
async def set_topic(call: Call) -> dict[str, Any]:
    channel = _channel(call)
    call.ws.require_member(channel, call.ws.bot)
    topic = call.args.opt("topic") or ""
    if len(topic) > 250:
        raise SlackError("too_long")
    call.ws.set_topic(channel, topic, call.ws.bot)
    return {"channel": _out(call, channel)}


@method("conversations.info")
async def info(call: Call) -> dict[str, Any]:
    return {"channel": _out(call, _channel(call))}


@method("conversations.members")
async def members(call: Call) -> dict[str, Any]:
    chunk, cursor = page(list(_channel(call).members), call.args)
    return {"members": chunk, **metadata(cursor)}


@method("conversations.list")
async def list_(call: Call) -> dict[str, Any]:
    types = set(call.args.csv("types") or ["public_channel"])
    wanted = []
    for channel in call.ws.channels.values():
        kind = "im" if channel.is_im else "private_channel" if channel.is_private else "public_channel"
        visible = kind == "public_channel" or call.ws.bot in channel.members
        hidden = channel.is_archived and call.args.flag("exclude_archived")
        if kind in types and visible and not hidden:
            wanted.append(_out(call, channel))
    chunk, cursor = page(wanted, call.args)
    return {"channels": chunk, **metadata(cursor)}


@method("conversations.open")
async def open_(call: Call) -> dict[str, Any]:
    users = call.args.csv("users")
    if len(users) != 1:
        raise SlackError("not_enough_users" if not users else "too_many_users")
    channel = call.ws.open_dm(users[0])
    body = _out(call, channel) if call.args.flag("return_im") else {"id": channel.id}
    return {"no_op": True, "already_open": True, "channel": body}


@method("conversations.history")
async def history(call: Call) -> dict[str, Any]:
    channel = _channel(call)
    call.ws.require_member(channel, call.ws.bot)
    messages = [m for m in reversed(call.ws.history(channel.id)) if _in_window(m.ts, call.args)]
    chunk, cursor = page(messages, call.args)
    return {"messages": [call.ws.render(m) for m in chunk], "has_more": bool(cursor), "pin_count": 0,
            "channel_actions_ts": None, "channel_actions_count": 0, **metadata(cursor)}


@method("conversations.replies")
async def replies(call: Call) -> dict[str, Any]:
    channel = _channel(call)
    call.ws.require_member(channel, call.ws.bot)
    ts = call.args.req("ts", error="thread_not_found")
    thread = call.ws.thread(channel.id, ts)
    parent, rest = thread[0], [m for m in thread[1:] if _in_window(m.ts, call.args)]
    chunk, cursor = page([parent, *rest], call.args)
    return {"messages": [call.ws.render(m) for m in chunk], "has_more": bool(cursor), **metadata(cursor)}
