"""The journal: a run's typed events, and the index replay reads them through.

Events are plain JSON objects with a ``type``:

- ``run_created``     process, inputs, requester, channel, code_hash, at
- ``effect_requested`` key, kind (task|shell|breakpoint|ask|sleep|signal), name, args, at
- ``effect_resolved``  key, ok, value | error, at   -- a signal wait's also names the ``signal`` it took
- ``effect_cancelled`` key, at                      -- ``by: first`` and the ``winner`` for a race's loser
- ``recorded``         key, kind (now|uuid), value   -- nondeterministic values, fixed once; also
                                          ``first`` (the winner of ``ctx.first``) and ``patch``
                                          (a ``ctx.patched`` marker, at ``~patch/<id>``)
- ``note`` / ``artifact``  key, ...                   -- thread lines and files, once each
- ``gate_escalated``   key, users, groups, at
- ``signal_declared``  name, model, users, groups, anyone, policy   -- a channel ``ctx.signal`` opened
- ``signal_received``  name, id, by, payload, at  -- sent from outside (``engine.signals``); a wait
                                          consumes it with an ``effect_resolved`` naming its ``signal`` id
- ``run_completed`` / ``run_failed`` / ``run_cancelled``
- ``run_retried``      by, reset, at   -- a failed run reopened: the ``reset`` steps' failed results
                                          and the run_failed before it no longer count
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

# The codec and the event-type sets live in state/ (the store reads and writes events); re-exported.
from state.journal import EXTERNAL, HUMAN_KINDS, KEYED, RESOLUTIONS, TERMINAL, Event, decode, encode

__all__ = ["EXTERNAL", "HUMAN_KINDS", "KEYED", "RESOLUTIONS", "TERMINAL", "Event", "JournalView", "compact",
           "decode", "encode", "now_iso"]


def now_iso() -> str:
    """UTC, to the millisecond, with the short 'Z' suffix (every journal entry carries one)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def compact(fields: dict[str, Any], **defaults: Any) -> dict[str, Any]:
    """Leave out empty values and defaults: parked runs are kept in memory, byte for byte.

    Readers use ``.get(name, default)``, so nothing is lost.
    """
    return {k: v for k, v in fields.items()
            if v is not None and v != [] and v != {} and v is not False and not (k in defaults and defaults[k] == v)}


class JournalView:
    """An index over the events, kept up to date as events are added."""

    def __init__(self, events: Iterable[Event] = ()) -> None:
        self.events: list[Event] = []
        self.created: Event | None = None
        self.terminal: Event | None = None
        self.keyed: dict[str, Event] = {}
        self.resolutions: dict[str, Event] = {}
        self.pending: dict[str, Event] = {}
        self.channels: dict[str, Event] = {}
        self.inbox: dict[str, list[tuple[int, Event]]] = {}
        """Per signal name, the signals no wait has consumed yet, in journal order (with positions)."""
        self.signal_at: dict[str, int] = {}
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
            if (consumed := event.get("signal")) is not None:
                self.consume(consumed)
        elif kind == "signal_received":
            self.signal_at[event["id"]] = len(self.events) - 1
            self.inbox.setdefault(event["name"], []).append((len(self.events) - 1, event))
        elif kind == "signal_declared":
            self.channels.setdefault(event["name"], event)
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

    def consume(self, signal_id: str) -> None:
        for queue in self.inbox.values():
            for i, (_, signal) in enumerate(queue):
                if signal["id"] == signal_id:
                    del queue[i]
                    return

    def position(self, event: Event) -> int:
        """Where ``event`` (this very object) is in the journal; ``ctx.first`` picks the earliest
        outcome. A scan rather than an index: parked runs keep their views in memory."""
        for i in range(len(self.events) - 1, -1, -1):
            if self.events[i] is event:
                return i
        return len(self.events)  # not journaled yet: decided by this replay, after everything else

    def request(self, key: str) -> Event | None:
        event = self.keyed.get(key)
        return event if event and event["type"] == "effect_requested" else None

    def waiting_on_people(self) -> list[Event]:
        return [e for e in self.pending.values() if e["kind"] in HUMAN_KINDS]
