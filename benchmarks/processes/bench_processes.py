"""Processes the benchmarks drive, loaded with ``engine.registry.load_processes(<this dir>)``.

Tasks record when they start through ``benchmarks.probe`` (in-process), so the
measured interval is the engine's own work and nothing else.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from benchmarks import probe
from engine import Approvers, Context, TaskContext, process, task


class Steps(BaseModel):
    n: int = Field(default=1000, ge=0, description="sequential no-op tasks")
    park: bool = Field(default=False, description="wait at a gate after the tasks")
    sync: bool = Field(default=False, description="use a sync task (run in a thread) instead of an async one")


@task
async def noop(index: int, tc: TaskContext) -> None:
    """Returns at once: the time between two of these is pure engine overhead."""
    probe.mark(tc.run_id)


@task
def noop_sync(index: int, tc: TaskContext) -> None:
    """The same as ``noop`` but sync, so the worker runs it with ``asyncio.to_thread``."""
    probe.mark(tc.run_id)


@process("bench-steps", title="Benchmark: sequential no-op tasks", inputs=Steps)
async def bench_steps(inputs: Steps, ctx: Context) -> dict:
    """n tasks one after another; optionally parks at a gate at the end (2n + 2 journal entries)."""
    fn = noop_sync if inputs.sync else noop
    for i in range(inputs.n):
        await ctx.task(fn, i)
    if inputs.park:
        await ctx.breakpoint("Benchmark: resume here?")
    return {"steps": inputs.n}


class GateInputs(BaseModel):
    service: str = "checkout"


@task
async def prepare(service: str) -> str:
    return f"{service} prepared"


@task
async def after_gate(approved: bool, tc: TaskContext) -> bool:
    """The task a decision unblocks: stamps the moment it starts running."""
    probe.mark_and_notify(tc.run_id)
    return approved


@process("bench-gate", title="Benchmark: task, gate, task", inputs=GateInputs)
async def bench_gate(inputs: GateInputs, ctx: Context) -> dict:
    """A task, a gate, then the task whose start the decision benchmark times."""
    prepared = await ctx.task(prepare, inputs.service)
    decision = await ctx.breakpoint(f"Go on with {inputs.service}?", facts={"prepared": prepared})
    await ctx.task(after_gate, decision.approved)
    return {"approved": decision.approved}


class Release(BaseModel):
    service: str = "checkout"
    version: str = "1.0.0"
    approvers: list[str] = Field(default_factory=lambda: ["alice", "bob"])


@task
async def health_check(args: Release) -> str:
    return f"{args.service} healthy"


@task
async def build(args: Release) -> str:
    return f"{args.service}-{args.version}.tar.gz"


@task
async def plan(args: Release) -> str:
    return f"deploy {args.service} {args.version} to prod in 3 waves"


@task
async def deploy(args: Release) -> str:
    return f"deployed {args.service} {args.version}"


@process("bench-parked", title="Benchmark: a typical release parked at its gate", inputs=Release,
         positional=["service", "version"])
async def bench_parked(inputs: Release, ctx: Context) -> dict:
    """Check, build and plan a release, then wait for a four-eyes approval to deploy it."""
    await ctx.task(health_check, inputs)
    artifact = await ctx.task(build, inputs)
    steps = await ctx.task(plan, inputs)
    decision = await ctx.breakpoint(
        f"Deploy {inputs.service} {inputs.version}?", facts={"artifact": artifact, "plan": steps},
        approvers=Approvers(users=inputs.approvers), four_eyes=True,
    )
    if not decision:
        return {"deployed": False, "by": decision.by}
    return {"deployed": True, "result": await ctx.task(deploy, inputs)}
