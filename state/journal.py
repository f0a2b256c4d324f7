"""The journal's wire format: what an event is and how it is written to and read from Redis.

It lives in ``state/`` because the store encodes and decodes events itself, and state imports
nothing of ours; ``engine.journal`` re-exports these names and adds the replay index on top.
The event types and their fields are described in ``engine.journal``.
"""

from __future__ import annotations

import json
from typing import Any

Event = dict[str, Any]

RESOLUTIONS = frozenset({"effect_resolved", "effect_cancelled", "gate_escalated"})
TERMINAL = frozenset({"run_completed", "run_failed", "run_cancelled"})
KEYED = frozenset({"effect_requested", "recorded", "note", "artifact"})
HUMAN_KINDS = frozenset({"breakpoint", "ask"})
#: Written by others than the orchestrator (workers, timers, people, senders): a warm coroutine
#: absorbs them without a replay from the top, since they answer requests rather than make them.
EXTERNAL = RESOLUTIONS | {"signal_received"}


def encode(event: Event) -> str:
    """Compact JSON, non-ASCII kept as is: the bytes in Redis are the ones runs in flight have."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def decode(raw: str | bytes) -> Event:
    event: Event = json.loads(raw)
    return event
