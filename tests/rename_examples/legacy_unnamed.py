"""A process as every shipped one was written before stable names: ``@task`` and a plain form.

Its journals name the task ``tests.rename_examples.legacy_unnamed.record`` and the form
``tests.rename_examples.legacy_unnamed:Roles``, exactly as the engine before names wrote them.
tests/test_names.py then loads legacy_named.py in its place (the same module, names added).
"""

from __future__ import annotations

from pydantic import BaseModel

from engine import Approvers, Context, process, task


class Inputs(BaseModel):
    who: str = "alice"


class Roles(BaseModel):
    commander: str


@task
def record(text: str) -> str:
    return f"unnamed recorded {text}"


@process("legacy-demo", title="Legacy demo", inputs=Inputs)
async def legacy_demo(inputs: Inputs, ctx: Context) -> dict[str, str]:
    recorded, roles = await ctx.parallel(
        ctx.task(record, "hello"), ctx.ask("Who commands?", Roles, assignees=Approvers(users=[inputs.who])))
    after = await ctx.task(record, "after")
    return {"recorded": recorded, "commander": roles.commander, "after": after}
