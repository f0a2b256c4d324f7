"""A person using a button, select, checkbox or date picker: Slack's ``block_actions``.

The element is looked up in what the person is looking at (a channel message, one of their
ephemeral messages, a modal or their Home tab), so the payload carries the element's real
``action_id``/``block_id``/``value``, the generated ids Slack added, and the surface's current
``state.values`` (earlier picks in the same message or view included, as Slack sends them).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from sandbox import payloads
from sandbox.blocks import STATELESS, iter_elements
from sandbox.errors import ControlError
from sandbox.interactions import Interaction, Interactions
from sandbox.model import Channel, User
from sandbox.state_values import ValueProblem, selection
from sandbox.views import View


@dataclass
class Target:
    """The surface a click happens on."""

    blocks: list[dict[str, Any]]
    container: dict[str, Any]
    state: dict[str, dict[str, Any]]
    channel: Channel | None = None
    message: dict[str, Any] | None = None
    view: View | None = None


def _on_view(flows: Interactions, user: User, view_id: str) -> Target:
    view = flows.sb.views.views.get(view_id)
    if view is None or view.user != user.id or (view.type == "modal" and not view.is_open):
        raise ControlError(404, "view_not_found")
    return Target(view.definition.get("blocks") or [], {"type": "view", "view_id": view.id}, view.state_values,
                  view=view)


def _on_message(flows: Interactions, user: User, record: Interaction, channel_ref: str, ts: str) -> Target:
    sb, ws = flows.sb, flows.sb.workspace
    channel = ws.channel(channel_ref, names=True, users=True)
    message = ws.messages.get(channel.id, {}).get(ts)
    ephemeral = None if message else ws.ephemeral(channel.id, ts, user.id)
    if message is None and ephemeral is None:
        raise ControlError(404, "message_not_found")
    source = message or ephemeral
    assert source is not None
    container: dict[str, Any] = {"type": "message", "message_ts": ts, "channel_id": channel.id,
                                 "is_ephemeral": ephemeral is not None}
    if source.thread_ts:
        container["thread_ts"] = source.thread_ts
    record.channel = channel.id
    record.hook = sb.hooks.create(sb.base_url, "actions", user=user.id, channel=channel.id, source_ts=ts,
                                  source_ephemeral=ephemeral is not None, thread_ts=source.thread_ts,
                                  interaction_id=record.id)
    record.response_url = record.hook.url
    state = flows.message_state.setdefault((user.id, channel.id, ts), {})
    return Target(source.blocks or [], container, state, channel=channel,
                  message=ws.render(message) if message else None)


def find_element(blocks: list[dict[str, Any]], action_id: str | None, block_id: str | None,
                 value: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """By action_id (within block_id if given), else by block_id and/or a button's value."""
    candidates = list(iter_elements(blocks))
    for block, element in candidates:
        if block_id is not None and block.get("block_id") != block_id:
            continue
        if action_id is not None and element.get("action_id") != action_id:
            continue
        if action_id is None and value is not None and element.get("type") == "button" \
                and element.get("value") != value:
            continue
        return block, element
    available = [{"block_id": b.get("block_id"), "action_id": e.get("action_id"), "type": e.get("type"),
                  "value": e.get("value")} for b, e in candidates]
    raise ControlError(404, "action_not_found", available=available)


async def click(flows: Interactions, user_id: str, *, channel: str | None = None, ts: str | None = None,
                view_id: str | None = None, action_id: str | None = None, block_id: str | None = None,
                value: Any = None, selected: Any = None, signing: str = "valid") -> Interaction:
    """Deliver the ``block_actions`` for one use of one element; ``selected`` is what a select etc. chose."""
    sb = flows.sb
    user = sb.workspace.user(user_id)
    record = flows.new("block_actions", user.id)
    if view_id is not None:
        target = _on_view(flows, user, view_id)
    elif channel is not None and ts is not None:
        target = _on_message(flows, user, record, channel, ts)
    else:
        raise ControlError(400, "missing_target", detail="give channel and ts, or view_id")
    block, element = find_element(target.blocks, action_id, block_id, value)
    kind = element.get("type")
    try:
        fields = {} if kind == "button" else selection(element, selected if selected is not None else value)
    except ValueProblem as exc:
        raise ControlError(400, "invalid_selection", detail=str(exc)) from exc
    if kind not in STATELESS:
        target.state.setdefault(block["block_id"], {})[element["action_id"]] = {"type": kind, **fields}
    record.trigger_id = sb.triggers.issue(user.id, interaction=record.id)
    record.payload = payloads.block_actions(
        sb.config, user, [payloads.action(element, block["block_id"], fields)], trigger_id=record.trigger_id,
        container=target.container, channel=target.channel, message=target.message,
        view=sb.views.render(target.view) if target.view else None, response_url=record.response_url,
        state=copy.deepcopy(target.state))
    await flows.deliver(record, "interactive", accepts_response_payload=False, signing=signing)
    return record
