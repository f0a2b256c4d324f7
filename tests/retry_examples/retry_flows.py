"""Processes that fail part-way, for ``shepherd retry``: each task counts its executions in Redis
(``test:ran:<run>:<name>``) so the tests can tell what ran again and what kept its result."""

from __future__ import annotations

from pydantic import BaseModel

from engine import Context, TaskContext, process, task

#: Flipped by the tests to stand for "the process code was fixed and redeployed".
BROKEN = {"code": True}


class Nothing(BaseModel):
    pass


async def _count(tc: TaskContext, name: str) -> int:
    return int(await tc.redis.incr(f"test:ran:{tc.run_id}:{name}"))


@task
async def prepare(_: None, tc: TaskContext) -> str:
    await _count(tc, "prepare")
    return "prepared"


@task
async def fragile(name: str, tc: TaskContext) -> str:
    """Fails until ``test:fixed:<run>:<name>`` is set (an outage the person fixes before retrying)."""
    await _count(tc, name)
    if not await tc.redis.exists(f"test:fixed:{tc.run_id}:{name}"):
        raise ConnectionError(f"{name}: upstream unavailable")
    return f"{name} ok"


@task
async def finish(_: None, tc: TaskContext) -> str:
    await _count(tc, "finish")
    return "finished"


@process("retry-linear", title="Retry linear", inputs=Nothing)
async def retry_linear(inputs: Nothing, ctx: Context) -> list[str]:
    """prepare, then a fragile step, then finish."""
    first = await ctx.task(prepare, None)
    middle = await ctx.task(fragile, "deploy")
    last = await ctx.task(finish, None)
    return [first, middle, last]


@process("retry-parallel", title="Retry parallel", inputs=Nothing)
async def retry_parallel(inputs: Nothing, ctx: Context) -> list[str]:
    """Three branches; two are fragile. The run fails with a ParallelError naming both."""
    results = await ctx.parallel(ctx.task(fragile, "east"), ctx.task(prepare, None), ctx.task(fragile, "west"))
    return [*results, await ctx.task(finish, None)]


@process("retry-handled", title="Retry handled", inputs=Nothing)
async def retry_handled(inputs: Nothing, ctx: Context) -> str:
    """A failure the process handles stays handled; the one it re-raises as its own is retried."""
    try:
        await ctx.task(fragile, "optional")
    except Exception:
        ctx.note("optional step failed; carrying on")
    try:
        return await ctx.task(fragile, "required")
    except Exception as exc:
        raise RuntimeError("the required step failed") from exc


@process("retry-code-bug", title="Retry code bug", inputs=Nothing)
async def retry_code_bug(inputs: Nothing, ctx: Context) -> str:
    """prepare, then a bug in the process itself (until BROKEN is cleared), then finish."""
    await ctx.task(prepare, None)
    if BROKEN["code"]:
        raise ValueError("bug in the process")
    return await ctx.task(finish, None)

