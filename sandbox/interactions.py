"""What a person does in Slack, replayed against the app; here, slash commands, and the record
every such interaction leaves (clicks, modals and typed messages live in sibling modules).

Each action builds Slack's payload from the workspace (the stored message's blocks, the open
view), hands out a trigger_id and a response_url, delivers it and applies the app's
acknowledgement the way Slack's client would. The resulting record (payload, delivery
attempts, effects, later response_url posts) is what the control API returns and keeps.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sandbox import payloads
from sandbox.errors import ControlError, SlackError
from sandbox.escaping import escape_command_text
from sandbox.records import Delivery
from sandbox.response_url import Hook, apply_response

if TYPE_CHECKING:
    from sandbox.runtime import Sandbox


@dataclass
class Interaction:
    """One thing a person did and everything that followed: payload, delivery, effects, responses."""

    id: str
    kind: str
    user: str
    channel: str | None = None
    trigger_id: str | None = None
    response_url: str | None = None
    payload: dict[str, Any] | None = None
    delivery: Delivery | None = None
    effects: list[dict[str, Any]] = field(default_factory=list)
    client_errors: dict[str, str] | None = None
    hook: Hook | None = None
    at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "user": self.user, "channel": self.channel,
            "trigger_id": self.trigger_id, "response_url": self.response_url, "payload": self.payload,
            "delivery": self.delivery.to_json() if self.delivery else None,
            "acked": bool(self.delivery and self.delivery.acked),
            "ack": self.delivery.ack if self.delivery else None,
            "effects": self.effects, "client_errors": self.client_errors,
            "responses": list(self.hook.posts) if self.hook else [], "at": self.at,
        }


def _failure_code(delivery: Delivery) -> str:
    """The error Slack shows a person whose command got no answer."""
    timed_out = any(a.outcome == "timeout" for a in delivery.attempts)
    return "operation_timeout" if timed_out else "dispatch_failed"


class Interactions:
    """Creates, delivers and keeps interaction records; slash commands are handled here."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox
        self.records: dict[str, Interaction] = {}
        self.message_state: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
        """(user, channel, ts) -> what that person has picked in a message's selects so far."""
        self._ids = itertools.count(1)

    def new(self, kind: str, user: str, channel: str | None = None) -> Interaction:
        record = Interaction(f"I{next(self._ids):05d}", kind, user, channel)
        self.records[record.id] = record
        return record

    def get(self, interaction_id: str) -> Interaction:
        if interaction_id not in self.records:
            raise ControlError(404, "interaction_not_found")
        return self.records[interaction_id]

    async def deliver(self, record: Interaction, kind: str, *, accepts_response_payload: bool,
                      signing: str) -> Delivery:
        assert record.payload is not None
        record.delivery = await self.sb.deliverer.deliver(kind, record.payload, signing=signing,
                                                          accepts_response_payload=accepts_response_payload)
        self.sb.bus.publish("interaction", interaction=record.to_json())
        return record.delivery

    # ---- slash commands --------------------------------------------------------------------

    async def slash_command(self, user_id: str, channel_ref: str, command: str, text: str = "",
                            signing: str = "valid") -> Interaction:
        ws = self.sb.workspace
        user, channel = ws.user(user_id), ws.channel(channel_ref, names=True, users=True)
        if user.id not in channel.members:
            raise ControlError(400, "user_not_in_channel")
        if not command.startswith("/"):
            raise ControlError(400, "invalid_command", detail="commands start with /")
        record = self.new("slash_command", user.id, channel.id)
        record.trigger_id = self.sb.triggers.issue(user.id, interaction=record.id)
        record.hook = self.sb.hooks.create(self.sb.base_url, "commands", user=user.id, channel=channel.id,
                                           interaction_id=record.id)
        record.response_url = record.hook.url
        text = escape_command_text(
            text, users={u.name: u.id for u in ws.users.values() if not u.deleted},
            channels={c.name: c.id for c in ws.channels.values() if not c.is_im},
            groups={g.handle: g.id for g in ws.usergroups.values()}, should_escape=self.sb.config.should_escape)
        record.payload = payloads.slash_command(self.sb.config, user, channel, command, text,
                                                trigger_id=record.trigger_id, response_url=record.response_url)
        delivery = await self.deliver(record, "slash_commands", accepts_response_payload=True, signing=signing)
        if not delivery.acked:
            failure = f'{command} failed with the error "{_failure_code(delivery)}"'
            ws.post_ephemeral(channel, user.id, text=failure, source="slackbot", author="USLACKBOT")
            record.effects.append({"effect": "ephemeral", "source": "slackbot", "text": failure})
        elif delivery.ack and (delivery.ack.get("text") or delivery.ack.get("blocks")):
            try:
                record.effects.append(apply_response(ws, record.hook, delivery.ack, source="ack"))
            except SlackError as exc:
                record.effects.append({"effect": "rejected", "error": exc.error})
        return record
