"""A change feed: every mutation of the workspace is published here.

The live console (and tests that want to wait for "the bot posted something") follow it
over server-sent events; a bounded history lets a reconnecting reader resume from the last
id it saw instead of missing what happened while it was away.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

_CLOSED = object()


@dataclass(frozen=True)
class Event:
    """One change: a type such as ``message_posted`` and its JSON data."""

    id: int
    type: str
    data: dict[str, Any]
    at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "at": self.at, "data": self.data}


class EventBus:
    """Fan-out of events to any number of subscribers, each with its own queue.

    Publishing never blocks: a subscriber that falls more than ``queue_size`` events behind
    is cut off (its stream ends) rather than slowing the sandbox down.
    """

    def __init__(self, history: int = 1000, queue_size: int = 10_000) -> None:
        self._ids = itertools.count(1)
        self._history: deque[Event] = deque(maxlen=history)
        self._subscribers: set[asyncio.Queue[object]] = set()
        self._queue_size = queue_size
        self._closed = False

    def publish(self, type_: str, **data: Any) -> Event:
        event = Event(next(self._ids), type_, data)
        self._history.append(event)
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:  # too slow: drop it; it may resume from history
                self._subscribers.discard(queue)
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(_CLOSED)
        return event

    def history(self, since: int = 0) -> list[Event]:
        return [e for e in self._history if e.id > since]

    async def subscribe(self, since: int | None = None,
                        heartbeat: float | None = None) -> AsyncGenerator[Event | None, None]:
        """Yield events (replaying history after ``since``), or ``None`` every ``heartbeat`` idle seconds."""
        queue: asyncio.Queue[object] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        last = since or 0
        try:
            if since is not None:
                for event in self.history(since):
                    last = event.id
                    yield event
            while not self._closed:
                try:
                    item = await asyncio.wait_for(queue.get(), heartbeat)
                except TimeoutError:
                    yield None
                    continue
                if item is _CLOSED:
                    return
                assert isinstance(item, Event)
                if item.id <= last:
                    continue  # already replayed from history
                last = item.id
                yield item
        finally:
            self._subscribers.discard(queue)

    def close(self) -> None:
        """End every subscription, so server shutdown is not held up by open streams."""
        self._closed = True
        for queue in list(self._subscribers):
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(_CLOSED)
        self._subscribers.clear()
