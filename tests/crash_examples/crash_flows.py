"""Processes for the crash-recovery and Redis-outage tests.

Every task appends one JSON line to a *ledger* file each time its body runs
(idempotency key, attempt, worker pid), so a test can count executions per
step however many worker processes came and went, and whatever happened to
Redis meanwhile. The ledger is a plain file written with one ``os.write`` on an
``O_APPEND`` descriptor: the line is in the page cache before the task returns,
so a ``kill -9`` of the worker right after cannot lose it.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

from pydantic import BaseModel

from engine import Context, TaskContext, process, task


class StepArgs(BaseModel):
    ledger: str
    label: str
    marker_dir: str = ""
    """If set, the body writes ``<marker_dir>/<run>-<step>.running`` once it has recorded itself."""
    block_seconds: float = 0.0
    """How long the body then sleeps (only tasks asked to block)."""


def append_line(path: str, record: dict[str, object]) -> None:
    data = (json.dumps(record, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


@task
async def record(args: StepArgs, tc: TaskContext) -> str:
    """Record this execution, optionally announce it and block, and return a label."""
    append_line(args.ledger, {"run": tc.run_id, "step": tc.step, "key": tc.idempotency_key,
                              "attempt": tc.attempt, "pid": os.getpid(), "label": args.label, "t": time.time()})
    if args.marker_dir:
        Path(args.marker_dir, f"{tc.run_id}-{tc.step}.running").write_text(str(os.getpid()))
    if args.block_seconds:
        await asyncio.sleep(args.block_seconds)
    return f"{args.label}@{tc.step}"


class FlowInputs(BaseModel):
    ledger: str
    fan: int = 3
    marker_dir: str = ""
    block_seconds: float = 0.0
    """Seconds the second step blocks (with ``marker_dir``: the step to kill a worker in)."""


@process("crash-flow", title="Crash flow", inputs=FlowInputs)
async def crash_flow(inputs: FlowInputs, ctx: Context) -> dict:
    """Two sequential tasks, a small parallel fan-out, one more task."""
    first = await ctx.task(record, StepArgs(ledger=inputs.ledger, label="first"), key="first")
    second = await ctx.task(record, StepArgs(ledger=inputs.ledger, label="second", marker_dir=inputs.marker_dir,
                                             block_seconds=inputs.block_seconds), key="second")
    fanned = await ctx.parallel(ctx.task(record, StepArgs(ledger=inputs.ledger, label=f"fan-{i}"), key=f"fan-{i}")
                                for i in range(inputs.fan))
    last = await ctx.task(record, StepArgs(ledger=inputs.ledger, label="last"), key="last")
    return {"steps": [first, second, *fanned, last]}


def flow_steps(fan: int = 3) -> list[str]:
    """The task keys of one ``crash-flow`` run, in order."""
    return ["first", "second", *(f"fan-{i}" for i in range(fan)), "last"]


class SleepInputs(BaseModel):
    ledger: str
    seconds: float = 2.0


@process("crash-sleep", title="Crash sleep", inputs=SleepInputs)
async def crash_sleep(inputs: SleepInputs, ctx: Context) -> dict:
    """A task, a durable sleep, a task."""
    before = await ctx.task(record, StepArgs(ledger=inputs.ledger, label="before"), key="before")
    await ctx.sleep(inputs.seconds, key="nap")
    after = await ctx.task(record, StepArgs(ledger=inputs.ledger, label="after"), key="after")
    return {"steps": [before, after]}


class OneInputs(BaseModel):
    ledger: str
    block_seconds: float = 0.0


@process("crash-one", title="Crash one task", inputs=OneInputs)
async def crash_one(inputs: OneInputs, ctx: Context) -> str:
    """A single task: the smallest run a worker can die in."""
    return await ctx.task(record, StepArgs(ledger=inputs.ledger, label="only", block_seconds=inputs.block_seconds),
                          key="only")
