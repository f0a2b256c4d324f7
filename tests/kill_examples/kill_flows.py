"""The process of the kill matrix (``tests/test_kill_matrix.py``): a task, a gate, a task, and a
clean-up task when cancelled. Every task body appends one line to the ledger file, so a test can
count executions per step whoever ran them and however many processes died meanwhile."""

from __future__ import annotations

import os

from pydantic import BaseModel

from engine import Context, TaskContext, process, task
from engine.cancellation import CancelledRun
from tests.crash_examples.crash_flows import append_line


class GatedInputs(BaseModel):
    ledger: str


class StepArgs(BaseModel):
    ledger: str
    label: str


def log_execution(ledger: str, label: str, tc: TaskContext) -> None:
    append_line(ledger, {"run": tc.run_id, "step": tc.step, "key": tc.idempotency_key, "attempt": tc.attempt,
                         "pid": os.getpid(), "label": label})


@task(name="kill.record")
async def record(args: StepArgs, tc: TaskContext) -> str:
    log_execution(args.ledger, args.label, tc)
    return f"{args.label}@{tc.step}"


@task(name="kill.clean_up")
async def clean_up(run: CancelledRun, tc: TaskContext) -> str:
    log_execution(run.inputs["ledger"], "clean-up", tc)
    return "cleaned"


@process("kill-gated", title="Kill gated", inputs=GatedInputs, on_cancel=clean_up)
async def kill_gated(inputs: GatedInputs, ctx: Context) -> dict:
    """Prepare, wait for approval, finish."""
    first = await ctx.task(record, StepArgs(ledger=inputs.ledger, label="prepare"), key="prepare")
    decision = await ctx.breakpoint("Go on?", key="go")
    if not decision:
        return {"approved": False}
    last = await ctx.task(record, StepArgs(ledger=inputs.ledger, label="finish"), key="finish")
    return {"approved": True, "by": decision.by, "steps": [first, last]}
