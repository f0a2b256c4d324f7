"""legacy_unnamed.py after the upgrade to stable names: the same module, with names given.

tests/test_names.py loads this file *as* ``tests.rename_examples.legacy_unnamed`` (a deploy
that edits the module in place), so the old ``module.qualname`` spellings still point here.
"""

from __future__ import annotations

from pydantic import BaseModel

from engine import Approvers, Context, form, process, task


class Inputs(BaseModel):
    who: str = "alice"


@form("legacy.roles")
class Roles(BaseModel):
    commander: str


@task(name="legacy.record")
def record(text: str) -> str:
    return f"named recorded {text}"


@process("legacy-demo", title="Legacy demo", inputs=Inputs)
async def legacy_demo(inputs: Inputs, ctx: Context) -> dict[str, str]:
    recorded, roles = await ctx.parallel(
        ctx.task(record, "hello"), ctx.ask("Who commands?", Roles, assignees=Approvers(users=[inputs.who])))
    after = await ctx.task(record, "after")
    return {"recorded": recorded, "commander": roles.commander, "after": after}
