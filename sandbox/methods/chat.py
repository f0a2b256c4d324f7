"""chat.*: posting, editing and deleting the bot's messages, and ephemeral messages."""

from __future__ import annotations

from typing import Any

from sandbox.errors import SlackError
from sandbox.methods.content import Metadata, read_content, read_metadata, read_thread_ts
from sandbox.methods.registry import Call, method


@method("chat.postMessage")
async def post_message(call: Call) -> dict[str, Any]:
    ws, args = call.ws, call.args
    channel = ws.channel(args.req("channel", error="channel_not_found"), names=True, users=True)
    ws.require_bot_can_post(channel)
    content = read_content(args)
    thread_ts = read_thread_ts(args)
    metadata = read_metadata(args)
    message = ws.post(channel, ws.bot, text=content.text or "", blocks=content.blocks,
                      attachments=content.attachments, thread_ts=thread_ts,
                      broadcast=args.flag("reply_broadcast"), metadata=metadata.value)
    return {"channel": channel.id, "ts": message.ts, "message": ws.render(message), **_warning(metadata)}


@method("chat.update")
async def update(call: Call) -> dict[str, Any]:
    ws, args = call.ws, call.args
    channel = ws.channel(args.req("channel", error="channel_not_found"))
    ts = args.req("ts", error="message_not_found")
    ws.message(channel.id, ts)
    content = read_content(args, require=False)
    if content.text is None and content.blocks is None and content.attachments is None:
        raise SlackError("no_text")
    metadata = read_metadata(args)
    message = ws.update(channel, ts, ws.bot, text=content.text, blocks=content.blocks,
                        attachments=content.attachments, metadata=metadata.value)
    return {"channel": channel.id, "ts": ts, "text": message.text, "message": ws.render(message),
            **_warning(metadata)}


def _warning(metadata: Metadata) -> dict[str, Any]:
    """Slack's non-fatal ``warning`` field (and its response_metadata form) for ignored metadata."""
    if metadata.warning is None:
        return {}
    return {"warning": metadata.warning, "response_metadata": {"warnings": [metadata.warning]}}


@method("chat.postEphemeral")
async def post_ephemeral(call: Call) -> dict[str, Any]:
    ws, args = call.ws, call.args
    channel = ws.channel(args.req("channel", error="channel_not_found"), names=True)
    user = ws.user(args.req("user", error="user_not_found"))
    ws.require_member(channel, ws.bot)
    ws.require_member(channel, user.id, error="user_not_in_channel")
    content = read_content(args)
    item = ws.post_ephemeral(channel, user.id, text=content.text or "", blocks=content.blocks,
                             attachments=content.attachments, thread_ts=read_thread_ts(args))
    return {"message_ts": item.ts}


@method("chat.delete")
async def delete(call: Call) -> dict[str, Any]:
    ws, args = call.ws, call.args
    channel = ws.channel(args.req("channel", error="channel_not_found"))
    ts = args.req("ts", error="message_not_found")
    ws.delete(channel, ts, ws.bot)
    return {"channel": channel.id, "ts": ts}


@method("chat.getPermalink")
async def get_permalink(call: Call) -> dict[str, Any]:
    ws, args = call.ws, call.args
    channel = ws.channel(args.req("channel", error="channel_not_found"))
    message = ws.message(channel.id, args.req("message_ts", error="message_not_found"))
    link = f"{call.sb.base_url}/archives/{channel.id}/p{message.ts.replace('.', '')}"
    if message.is_reply:
        link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}
