"""The rename demo's process after the move: the same steps, over the moved task and form."""

from __future__ import annotations

from pydantic import BaseModel

from engine import Approvers, Context, process
from tests.rename_examples.moved.forms import Roles
from tests.rename_examples.moved.tasks import record


class Inputs(BaseModel):
    who: str = "alice"


@process("rename-demo", title="Rename demo", inputs=Inputs)
async def rename_demo(inputs: Inputs, ctx: Context) -> dict[str, str]:
    recorded, roles = await ctx.parallel(
        ctx.task(record, "hello"), ctx.ask("Who commands?", Roles, assignees=Approvers(users=[inputs.who])))
    after = await ctx.task(record, "after")
    return {"recorded": recorded, "commander": roles.commander, "after": after}
