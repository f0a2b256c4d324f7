"""The journal: a run's typed events, and the index replay reads them through.

Events are plain JSON objects with a ``type``:

- ``run_created``     process, inputs, requester, channel, code_hash, at
- ``effect_requested`` key, kind (task|shell|breakpoint|ask|sleep), name, args, at
- ``effect_resolved``  key, ok, value | error, at
- ``effect_cancelled`` key, at
- ``recorded``         key, kind (now|uuid), value   -- nondeterministic values, fixed once
- ``note`` / ``artifact``  key, ...                   -- thread lines and files, once each
- ``gate_escalated``   key, users, groups, at
- ``run_completed`` / ``run_failed`` / ``run_cancelled``
- ``run_retried``      by, reset, at   -- a failed run reopened: the ``reset`` steps' failed results
                                          and the run_failed before it no longer count
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

Event = dict[str, Any]

RESOLUTIONS = frozenset({"effect_resolved", "effect_cancelled", "gate_escalated"})
TERMINAL = frozenset({"run_completed", "run_failed", "run_cancelled"})
KEYED = frozenset({"effect_requested", "recorded", "note", "artifact"})
HUMAN_KINDS = frozenset({"breakpoint", "ask"})


def now_iso() -> str:
    """UTC, to the millisecond, with the short 'Z' suffix (every journal entry carries one)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def compact(fields: dict[str, Any], **defaults: Any) -> dict[str, Any]:
    """Leave out empty values and defaults: parked runs are kept in memory, byte for byte.

    Readers use ``.get(name, default)``, so nothing is lost.
    """
    return {k: v for k, v in fields.items()
            if v is not None and v != [] and v != {} and v is not False and not (k in defaults and defaults[k] == v)}


def encode(event: Event) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def decode(raw: str) -> Event:
    return json.loads(raw)


class JournalView:
    """An index over the events, kept up to date as events are added."""

    def __init__(self, events: Iterable[Event] = ()) -> None:
        self.events: list[Event] = []
        self.created: Event | None = None
        self.terminal: Event | None = None
        self.keyed: dict[str, Event] = {}
        self.resolutions: dict[str, Event] = {}
        self.pending: dict[str, Event] = {}
        self.extend(events)

    @property
    def seq(self) -> int:
        return len(self.events)

    def extend(self, events: Iterable[Event]) -> None:
        for event in events:
            self.add(event)

    def add(self, event: Event) -> None:
        self.events.append(event)
        kind = event["type"]
        if kind in KEYED:
            self.keyed[event["key"]] = event
            if kind == "effect_requested" and event["key"] not in self.resolutions:
                self.pending[event["key"]] = event
        elif kind in ("effect_resolved", "effect_cancelled"):
            self.resolutions[event["key"]] = event
            self.pending.pop(event["key"], None)
        elif kind in TERMINAL:
            self.terminal = event
        elif kind == "run_created":
            self.created = event
        elif kind == "run_retried":
            self.terminal = None
            for key in event.get("reset", []):
                self.resolutions.pop(key, None)
                if (request := self.request(key)) is not None:
                    self.pending[key] = request

    def request(self, key: str) -> Event | None:
        event = self.keyed.get(key)
        return event if event and event["type"] == "effect_requested" else None

    def waiting_on_people(self) -> list[Event]:
        return [e for e in self.pending.values() if e["kind"] in HUMAN_KINDS]
