"""Timestamps taken inside benchmark tasks, shared in-process with the benchmark code.

The workers run in the benchmark's own process (on its event loop), so a task
can hand ``time.perf_counter()`` to the measuring code through a module-level
dict: no Redis round trip is added to what is being measured.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

#: run id -> perf_counter() at the start of each task of that run, in order.
marks: defaultdict[str, list[float]] = defaultdict(list)

#: run id -> event set (on the loop) when a task calls ``mark_and_notify`` for that run.
waiters: dict[str, asyncio.Event] = {}


def mark(run_id: str) -> None:
    """Record that a task of ``run_id`` started now (safe from a task's worker thread)."""
    marks[run_id].append(time.perf_counter())


def mark_and_notify(run_id: str) -> None:
    """``mark``, then wake whoever waits for this run. Only from async tasks (the loop's thread)."""
    mark(run_id)
    event = waiters.get(run_id)
    if event is not None:
        event.set()


def reset() -> None:
    marks.clear()
    waiters.clear()
