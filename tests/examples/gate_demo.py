"""The smallest process with a gate: one task, one breakpoint, one task."""

from __future__ import annotations

from pydantic import BaseModel

from engine import Context, process, task


class GateInputs(BaseModel):
    name: str = "demo"


@task
def step(label: str) -> str:
    return f"{label} done"


@process("gate-demo", title="Gate demo", inputs=GateInputs, positional=["name"])
async def gate_demo(inputs: GateInputs, ctx: Context) -> dict:
    """Do one step, wait for approval, do another."""
    first = await ctx.task(step, "prepare")
    decision = await ctx.breakpoint(f"Continue {inputs.name}?")
    if not decision:
        return {"approved": False, "first": first}
    second = await ctx.task(step, "finish")
    return {"approved": True, "by": decision.by, "steps": [first, second]}
