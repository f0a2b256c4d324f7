"""A process with a task and a form, as first written: all three in this one module.

tests/test_names.py parks a run of it, then swaps this module for ``moved/`` (the same
stable names, declared in other modules) to show the run does not notice.
"""

from __future__ import annotations

from pydantic import BaseModel

from engine import Approvers, Context, form, process, task


class Inputs(BaseModel):
    who: str = "alice"


@form("rename.roles")
class Roles(BaseModel):
    commander: str


@task(name="rename.record")
def record(text: str) -> str:
    return f"before recorded {text}"


@process("rename-demo", title="Rename demo", inputs=Inputs)
async def rename_demo(inputs: Inputs, ctx: Context) -> dict[str, str]:
    recorded, roles = await ctx.parallel(
        ctx.task(record, "hello"), ctx.ask("Who commands?", Roles, assignees=Approvers(users=[inputs.who])))
    after = await ctx.task(record, "after")
    return {"recorded": recorded, "commander": roles.commander, "after": after}
