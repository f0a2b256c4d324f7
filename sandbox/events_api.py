"""People talking: messages typed by a user, and users opening the App Home.

These reach the app as Events API callbacks (``events_api`` envelopes in Socket Mode, JSON
POSTs in HTTP mode), and only the event types the app subscribed to, in conversations the bot
is in, as with Slack. Mentions of the bot produce ``app_mention``.
"""

from __future__ import annotations

import uuid
from typing import Any

from sandbox import payloads
from sandbox.errors import ControlError
from sandbox.interactions import Interaction, Interactions


def _channel_type(is_im: bool, is_private: bool) -> str:
    return "im" if is_im else "group" if is_private else "channel"


async def _send(flows: Interactions, record: Interaction, event: dict[str, Any], signing: str) -> None:
    record.payload = payloads.event_callback(flows.sb.config, event)
    await flows.deliver(record, "events_api", accepts_response_payload=False, signing=signing)


async def user_message(flows: Interactions, user_id: str, channel_ref: str, text: str,
                       thread_ts: str | None = None, signing: str = "valid") -> dict[str, Any]:
    """Post as a person; returns the stored message and the event deliveries it caused."""
    sb = flows.sb
    ws = sb.workspace
    user, channel = ws.user(user_id), ws.channel(channel_ref, names=True, users=True)
    if user.id not in channel.members:
        raise ControlError(400, "not_in_channel")
    message = ws.post(channel, user.id, text=text, thread_ts=thread_ts, client_msg_id=str(uuid.uuid4()))
    subscriptions = sb.config.event_subscriptions
    base: dict[str, Any] = {"user": user.id, "text": text, "ts": message.ts, "team": sb.config.team_id,
                            "client_msg_id": message.client_msg_id, "event_ts": message.ts}
    if message.thread_ts:
        base["thread_ts"] = message.thread_ts
    wanted = {"im": "message.im", "group": "message.groups", "channel": "message.channels"}
    kind = _channel_type(channel.is_im, channel.is_private)
    deliveries: list[dict[str, Any]] = []
    if ws.bot in channel.members and wanted[kind] in subscriptions:
        record = flows.new("event:message", user.id, channel.id)
        await _send(flows, record, {"type": "message", "channel": channel.id, "channel_type": kind, **base}, signing)
        deliveries.append(record.to_json())
    if f"<@{ws.bot}>" in text and not channel.is_im and ws.bot in channel.members and "app_mention" in subscriptions:
        record = flows.new("event:app_mention", user.id, channel.id)
        await _send(flows, record, {"type": "app_mention", "channel": channel.id, **base}, signing)
        deliveries.append(record.to_json())
    return {"message": ws.render(message), "deliveries": deliveries}


async def app_home_opened(flows: Interactions, user_id: str, signing: str = "valid") -> Interaction | None:
    """The person opens the app's Home tab (delivered only if the app subscribed)."""
    sb = flows.sb
    user = sb.workspace.user(user_id)
    if "app_home_opened" not in sb.config.event_subscriptions:
        return None
    dm = sb.workspace.open_dm(user.id)
    event: dict[str, Any] = {"type": "app_home_opened", "user": user.id, "channel": dm.id, "tab": "home",
                             "event_ts": sb.workspace.clock.next()}
    home = sb.views.home(user.id)
    if home is not None:
        event["view"] = sb.views.render(home)
    record = flows.new("event:app_home_opened", user.id, dm.id)
    await _send(flows, record, event, signing)
    return record
