"""Small processes that pin down one engine behaviour each."""

from __future__ import annotations

import asyncio
import json
import os

from pydantic import BaseModel
from redis.asyncio import Redis

from engine import (
    Approvers,
    CancelledRun,
    Context,
    OnTimeout,
    ParallelError,
    TaskContext,
    TaskFailed,
    finished_steps,
    process,
    result_of,
    task,
)

#: Set by in-process tests: the Redis the tasks below use for counters and barriers
#: (worker subprocesses use their REDIS_URL).
REDIS_URL: dict[str, str] = {}


def _redis() -> Redis:
    return Redis.from_url(REDIS_URL.get("url") or os.environ["REDIS_URL"], decode_responses=True)


class Nothing(BaseModel):
    pass


class Count(BaseModel):
    n: int = 20
    fail: int = -1


class BarrierArgs(BaseModel):
    run: str
    index: int
    size: int
    fail: bool = False


@task
async def barrier_member(args: BarrierArgs) -> int:
    """Returns only once all ``size`` members are running at the same time."""
    redis = _redis()
    try:
        counter = f"test:barrier:{args.run}"
        await redis.incr(counter)
        for _ in range(500):
            if int(await redis.get(counter) or 0) >= args.size:
                break
            await asyncio.sleep(0.01)
        else:
            raise TimeoutError(f"only {await redis.get(counter)} of {args.size} tasks ran at once")
        if args.fail:
            raise ValueError(f"branch {args.index} failed on purpose")
        return args.index
    finally:
        await redis.aclose()


@process("parallel-barrier", title="Parallel barrier", inputs=Count)
async def parallel_barrier(inputs: Count, ctx: Context) -> dict:
    """n tasks that can only finish if all of them run concurrently."""
    branches = [ctx.task(barrier_member, BarrierArgs(run=ctx.run_id, index=i, size=inputs.n, fail=i == inputs.fail))
                for i in range(inputs.n)]
    try:
        results = await ctx.parallel(*branches)
    except ParallelError as err:
        return {"failed": sorted(err.errors), "succeeded": sorted(err.results)}
    return {"results": results}


@task
async def flaky(times: int, tc: TaskContext) -> int:
    """Fails on its first ``times`` attempts."""
    if tc.attempt <= times:
        raise ConnectionError(f"attempt {tc.attempt} failed")
    return tc.attempt


@task(retries=2, backoff=0.05)
async def flaky_with_retries(times: int, tc: TaskContext) -> int:
    return await flaky.fn(times, tc)


@process("retries", title="Retries", inputs=Count)
async def retries(inputs: Count, ctx: Context) -> dict:
    """A task with retries=2 that fails n times."""
    attempts = await ctx.task(flaky_with_retries, inputs.n)
    return {"attempts": attempts}


@process("uncaught-failure", title="Uncaught failure", inputs=Nothing)
async def uncaught_failure(inputs: Nothing, ctx: Context) -> None:
    """A task failure the process does not handle fails the run."""
    await ctx.task(flaky, 5, key="fragile-step")


@process("caught-failure", title="Caught failure", inputs=Nothing)
async def caught_failure(inputs: Nothing, ctx: Context) -> dict:
    """A task failure raised inside the process can be handled."""
    try:
        await ctx.task(flaky, 5)
    except TaskFailed as exc:
        return {"caught": exc.error_type, "step": exc.step}
    return {"caught": None}


class GateOptions(BaseModel):
    timeout: float | None = None
    on_timeout: OnTimeout | None = None
    quorum: int = 1
    approvers: list[str] = []
    groups: list[str] = []
    four_eyes: bool = False
    escalate_to: list[str] = []


@process("configurable-gate", title="Configurable gate", inputs=GateOptions)
async def configurable_gate(inputs: GateOptions, ctx: Context) -> dict:
    """One breakpoint with whatever options the test asks for."""
    decision = await ctx.breakpoint(
        "Proceed?", approvers=Approvers(users=inputs.approvers, groups=inputs.groups),
        four_eyes=inputs.four_eyes, quorum=inputs.quorum, timeout=inputs.timeout, on_timeout=inputs.on_timeout,
        escalate_to=Approvers(users=inputs.escalate_to) if inputs.escalate_to else None,
        escalation_timeout=inputs.timeout if inputs.escalate_to else None, key="proceed")
    return decision.model_dump(mode="json")


@process("nested-parallel", title="Nested parallel", inputs=Nothing)
async def nested_parallel(inputs: Nothing, ctx: Context) -> list:
    """Coroutine branches, each with several steps and a gate of its own."""

    async def environment(name: str) -> str:
        first = await ctx.shell(["echo", name])
        ctx.note(f"{name}: echoed")
        decision = await ctx.breakpoint(f"Promote {name}?", key="promote")
        return f"{first.stdout.strip()}:{'yes' if decision.approved else 'no'}"

    return await ctx.parallel(environment(n) for n in ("dev", "prod"))


@process("not-deterministic-io", title="Awaits real I/O", inputs=Nothing)
async def awaits_real_io(inputs: Nothing, ctx: Context) -> None:
    """Process code that awaits something other than an intrinsic: a bug, reported as such."""
    await asyncio.sleep(0.01)


class SlowArgs(BaseModel):
    seconds: float
    n: int = 1


@task
async def slow_counted(args: SlowArgs, tc: TaskContext) -> str:
    """Sleeps, recording executions and the most that ever ran at once."""
    redis = _redis()
    try:
        await redis.rpush("test:executions", tc.idempotency_key)
        now_running = await redis.incr("test:running")
        await redis.eval("if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) then "
                         "redis.call('SET', KEYS[1], ARGV[1]) end", 1, "test:max-running", now_running)
        await asyncio.sleep(args.seconds)
        await redis.decr("test:running")
        return tc.idempotency_key
    finally:
        await redis.aclose()


@process("slow-tasks", title="Slow tasks", inputs=SlowArgs)
async def slow_tasks(inputs: SlowArgs, ctx: Context) -> list:
    """n slow tasks in parallel."""
    return await ctx.parallel(ctx.task(slow_counted, SlowArgs(seconds=inputs.seconds), key=f"slow-{i}")
                              for i in range(inputs.n))


class Resource(BaseModel):
    name: str = "env-1"


@task
async def open_resource(args: Resource, tc: TaskContext) -> str:
    """Stands for something opened outside Shepherd (a page, an environment)."""
    return f"opened:{args.name}"


@task(retries=2, backoff=0.05)
async def close_resources(run: CancelledRun, tc: TaskContext) -> str:
    """The on_cancel cleanup: fails its first attempt, then records what it undid and for whom."""
    redis = _redis()
    try:
        if tc.attempt == 1:
            raise ConnectionError("the outside system is briefly down")
        opened = result_of(await finished_steps(tc.redis, run.run_id), open_resource)
        await redis.rpush("test:closed", json.dumps({
            "key": tc.idempotency_key, "by": run.by, "reason": run.reason, "opened": opened,
            "inputs": run.inputs, "requester": run.requester, "attempt": tc.attempt}))
        return f"closed {opened}"
    finally:
        await redis.aclose()


@process("cleanup-on-cancel", title="Cleanup on cancel", inputs=Resource, on_cancel=close_resources)
async def cleanup_on_cancel(inputs: Resource, ctx: Context) -> dict:
    """Opens a resource, then waits at a gate; cancelling it closes the resource."""
    opened = await ctx.task(open_resource, inputs)
    decision = await ctx.breakpoint("Keep it?", timeout=3600, on_timeout=OnTimeout.REJECT)
    return {"opened": opened, "kept": decision.approved}
