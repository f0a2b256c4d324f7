"""What a process undoes when its run is cancelled: one cleanup task, run after the run ended.

Cancelling stops a run where it stands: pending steps are cancelled and gates closed. But the
world outside may still hold what the run opened: a PagerDuty incident that keeps paging
on-call after a mistaken declaration is cancelled. A process names a task for that with
``@process(..., on_cancel=task)``.

The cancel script journals that task as one more step, ``@on_cancel``, after ``run_cancelled``
and in the same atomic write, so a cancel and its cleanup cannot be separated. A worker runs it
at least once, with retries, like any task (its idempotency key is ``<run>:@on_cancel``); it is
the only step allowed to start and resolve after the run has ended. Its input is a
``CancelledRun``; ``finished_steps`` tells it what the run had done by then, read from the
journal, which no longer changes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from redis.asyncio import Redis

from engine.journal import Event
from engine.registry import ProcessDef, TaskDef
from state.store import RunStore

CLEANUP_KEY = "@on_cancel"
"""Step keys written by processes cannot hold '@', so this one never collides with theirs."""


class CancelledRun(BaseModel):
    """The input of an ``on_cancel`` task: which run, who cancelled it and why, what it was given."""

    run_id: str
    process: str
    by: str
    reason: str = ""
    requester: str = ""
    channel: str | None = None
    inputs: dict[str, Any] = {}


class FinishedStep(BaseModel):
    """A task step that succeeded before the run was cancelled, with its journaled result."""

    key: str
    name: str
    value: Any = None


def cleanup_request(definition: ProcessDef, run_id: str, created: Event, by: str, reason: str,
                    at: str) -> Event | None:
    """The ``effect_requested`` event for the process's on_cancel task, or None if it has none."""
    fn = definition.on_cancel
    if fn is None:
        return None
    run = CancelledRun(run_id=run_id, process=definition.id, by=by, reason=reason,
                       requester=str(created.get("requester") or ""), channel=created.get("channel"),
                       inputs=dict(created.get("inputs") or {}))
    return {"type": "effect_requested", "key": CLEANUP_KEY, "kind": "task", "name": fn.name,
            "args": fn.request_args(run.model_dump(mode="json")), "at": at}


async def finished_steps(redis: Redis, run_id: str) -> list[FinishedStep]:
    """The run's successful task steps, in the order they were requested."""
    events = await RunStore(redis).read_journal(run_id)
    resolved = {e["key"]: e for e in events if e["type"] == "effect_resolved" and e.get("ok")}
    return [FinishedStep(key=e["key"], name=e["name"], value=resolved[e["key"]].get("value"))
            for e in events if e["type"] == "effect_requested" and e["kind"] == "task" and e["key"] in resolved
            and e["key"] != CLEANUP_KEY]


def result_of(steps: list[FinishedStep], fn: TaskDef) -> Any:
    """The last result of task ``fn`` among ``steps``, decoded to its return type (None if it never ran)."""
    for step in reversed(steps):
        if step.name == fn.name:
            return fn.decode(step.value)
    return None
