"""Gate buttons and the reject modal.

Permission is decided by the engine on every click (approvers, groups, four-eyes) in one
compare-and-set, so a double click or two racing approvers give exactly one decision; the
loser's refusal (``GateClosed``, ``NotAllowed``, ``RunClosed``) is raised and reaches the person
as an ephemeral through ``bot.errors``. The gate message is left to the notifier.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.acks import answer_at_ack
from bot.errors import reported, tell
from bot.ids import REASON_INPUT, ActionId, BlockId, CallbackId, GateRef, RejectContext
from engine.client import ShepherdClient


async def member_groups(web: AsyncWebClient, engine: ShepherdClient, ref: GateRef, user: str) -> list[str]:
    """The gate's user groups that ``user`` belongs to, asked of Slack at click time."""
    gate = (await engine.gates(ref.run)).get(ref.gate) or {}
    groups = []
    for group in gate.get("groups", []):
        reply = await web.usergroups_users_list(usergroup=group)
        if user in reply.get("users", []):
            groups.append(group)
    return groups


async def from_home(engine: ShepherdClient, body: dict[str, Any], run_id: str) -> None:
    """A click on the App Home carries no channel or message: answer in the run's channel.

    Sets ``body["channel"]`` in place, so that ``bot.errors`` (which reads the same body)
    can tell the person about a refusal too. A run started from the terminal has no channel:
    its decisions still work, but a refusal can only be logged.
    """
    if not body.get("channel"):
        channel = (await engine.meta(run_id)).get("channel")
        if channel:
            body["channel"] = {"id": channel}


def reject_modal(ctx: RejectContext) -> dict[str, Any]:
    return {
        "type": "modal", "callback_id": CallbackId.REJECT_REASON, "private_metadata": ctx.model_dump_json(),
        "title": {"type": "plain_text", "text": "Reject"}, "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [{"type": "input", "block_id": BlockId.REASON, "optional": True,
                    "label": {"type": "plain_text", "text": "Reason (optional)"},
                    "element": {"type": "plain_text_input", "action_id": REASON_INPUT, "multiline": True,
                                "max_length": 1000}}],
    }


def register_actions(app: AsyncApp, engine: ShepherdClient) -> None:
    @app.action(ActionId.APPROVE)
    @answer_at_ack
    @reported
    async def on_approve(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ref = GateRef.model_validate_json(body["actions"][0]["value"])
        await from_home(engine, body, ref.run)
        user = body["user"]["id"]
        groups = await member_groups(client, engine, ref, user)
        result = await engine.decide(ref.run, ref.gate, user=user, approve=True, groups=groups)
        if not result.applied:  # a vote towards a quorum: say how many are still needed
            await tell(client, body, result.message[:1].upper() + result.message[1:])

    @app.action(ActionId.REJECT)
    @answer_at_ack
    @reported
    async def on_reject(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ref = GateRef.model_validate_json(body["actions"][0]["value"])
        await from_home(engine, body, ref.run)
        message = body.get("message") or {}
        ctx = RejectContext(run=ref.run, gate=ref.gate, channel=(body.get("channel") or {}).get("id", ""),
                            thread_ts=message.get("thread_ts"))
        await client.views_open(trigger_id=body["trigger_id"], view=reject_modal(ctx))

    @app.view(CallbackId.REJECT_REASON)
    @answer_at_ack
    @reported
    async def on_reason(ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ctx = RejectContext.model_validate_json(view["private_metadata"])
        field = view["state"]["values"].get(BlockId.REASON, {}).get(REASON_INPUT, {})
        user = body["user"]["id"]
        groups = await member_groups(client, engine, ctx, user)
        await engine.decide(ctx.run, ctx.gate, user=user, approve=False, comment=field.get("value") or "",
                            groups=groups)
