"""Work a worker cannot do because it lacks the definition: left to a worker that has it.

Why: workers of one fleet may load different plug-ins (a team's processes on its own hosts,
a rolling deploy that adds a process). A worker that reads a wake for a run whose process it
has not loaded, or a task it has not loaded, must not fail that run or burn the task's
attempts: it puts the work back on the queue, where every worker reads, and says once in its
log what it lacks. Each time the same work comes round again it waits a little longer
before giving it back, so workers that all lack it pass it slowly instead of spinning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from engine.errors import MissingDefinition
from state.queue import Entry, WorkQueue, handoffs

log = logging.getLogger(__name__)

Retrying = Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]


class HandOff:
    def __init__(self, worker: str, queue: WorkQueue, stopping: asyncio.Event, visibility_timeout: float,
                 retrying: Retrying) -> None:
        self.worker, self.queue, self.stopping = worker, queue, stopping
        self.max_pause = min(2.0, visibility_timeout / 2)  # well before anyone would reclaim the entry
        self.retrying = retrying
        self.lacking: set[tuple[str, str]] = set()
        """(kind, name) of the definitions this worker has said it lacks: each said once."""

    def say_lacking(self, kind: str, name: str) -> None:
        if (kind, name) not in self.lacking:
            self.lacking.add((kind, name))
            log.warning("worker %s has no %s '%s' loaded: leaving its work to workers that have it "
                        "(check SHEPHERD_PROCESSES_PATH and the plug-ins installed here)", self.worker, kind, name)

    async def pause(self, handed_off: int) -> None:
        if handed_off:
            delay = min(0.05 * 2 ** min(handed_off, 10), self.max_pause)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)

    async def leave_run(self, run_id: str, missing: MissingDefinition, handed_off: int) -> None:
        """Not this worker's run to advance (or fail): wake it again on the queue."""
        self.say_lacking(missing.kind, missing.name)
        await self.pause(handed_off)
        await self.retrying(lambda: self.queue.enqueue_wake(run_id, handoffs=handed_off + 1))

    async def leave_task(self, entry: Entry, name: str) -> None:
        """Give a task entry back untouched (no attempt used, no lease taken)."""
        self.say_lacking("task", name)
        await self.pause(handoffs(entry))
        await self.retrying(lambda: self.queue.hand_off(entry))
