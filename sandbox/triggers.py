"""trigger_ids: the one-shot, three-second permission to open a modal.

Slack hands a trigger_id with every slash command and interaction; views.open/push accept it
once and only briefly. Bots that do slow work before opening a modal fail in production with
``expired_trigger_id``; enforcing the same rule here makes that failure show up in tests.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sandbox.config import SandboxConfig
from sandbox.errors import SlackError
from sandbox.ids import new_trigger_id


@dataclass
class Trigger:
    """One issued trigger_id, for the person whose action produced it."""

    id: str
    user: str
    issued_at: float = field(default_factory=time.monotonic)
    used: bool = False
    context: dict[str, Any] = field(default_factory=dict)


class TriggerRegistry:
    """Issues trigger_ids and enforces single use and the lifetime in the config."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._triggers: dict[str, Trigger] = {}

    def issue(self, user: str, **context: Any) -> str:
        horizon = time.monotonic() - max(60.0, self.config.trigger_ttl * 10)
        self._triggers = {k: t for k, t in self._triggers.items() if t.issued_at > horizon}  # keep it small
        trigger = Trigger(new_trigger_id(), user, context=context)
        self._triggers[trigger.id] = trigger
        return trigger.id

    def consume(self, trigger_id: Any) -> Trigger:
        """Use a trigger: unknown -> ``invalid_trigger_id``, reused -> ``exchanged_trigger_id``, late -> expired."""
        trigger = self._triggers.get(trigger_id) if isinstance(trigger_id, str) else None
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if time.monotonic() - trigger.issued_at > self.config.trigger_ttl:
            raise SlackError("expired_trigger_id")
        trigger.used = True
        return trigger

    def clear(self) -> None:
        self._triggers.clear()
