"""A process only some workers load (tests/test_handoff.py): two tasks, so work crosses the queue twice."""

from __future__ import annotations

from pydantic import BaseModel

from engine import Context, process, task


class Inputs(BaseModel):
    pass


@task(name="handoff.step")
def step(text: str) -> str:
    return f"did {text}"


@process("handoff-demo", title="Hand-off demo", inputs=Inputs)
async def handoff_demo(inputs: Inputs, ctx: Context) -> list[str]:
    return [await ctx.task(step, "one"), await ctx.task(step, "two")]
