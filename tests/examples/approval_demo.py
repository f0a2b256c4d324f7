"""Example processes used by the tests and the README quickstart.

``approval-demo`` exercises every intrinsic once: now, uuid, task, shell,
note, artifact, breakpoint (four-eyes), ask, sleep and parallel.
"""

from __future__ import annotations

import sys

from pydantic import BaseModel, Field

from engine import Approvers, Context, TaskContext, process, task


class DemoInputs(BaseModel):
    service: str = Field(description="service to pretend-deploy")
    version: str = Field(default="1.0.0", description="version label")
    approvers: list[str] = Field(default_factory=list, description="who may approve the deploy")
    pause: float = Field(default=0.2, description="seconds of durable sleep before deploying")


class BuildArgs(BaseModel):
    service: str
    version: str


class Build(BaseModel):
    artifact: str
    idempotency_key: str


class ReleaseNotes(BaseModel):
    summary: str
    risky: bool = False


@task(retries=2, backoff=0.05)
async def build(args: BuildArgs, tc: TaskContext) -> Build:
    return Build(artifact=f"{args.service}-{args.version}.tar.gz", idempotency_key=tc.idempotency_key)


@task
def deploy_to(env: str) -> str:
    return f"deployed to {env}"


@process("approval-demo", title="Approval demo", inputs=DemoInputs, positional=["service"])
async def approval_demo(inputs: DemoInputs, ctx: Context) -> dict:
    """Build, review and deploy a service, asking a person at each gate."""
    started = ctx.now()
    release_id = ctx.uuid()
    built = await ctx.task(build, BuildArgs(service=inputs.service, version=inputs.version))
    echoed = await ctx.shell([sys.executable, "-c", "import sys; print(sys.argv[1])", built.artifact])
    ctx.note(f"Built {echoed.stdout.strip()}")
    ctx.artifact("plan.md", f"# Plan\n\nDeploy {inputs.service} {inputs.version} (release {release_id})\n")
    decision = await ctx.breakpoint(
        f"Deploy {inputs.service} {inputs.version}?",
        facts={"artifact": built.artifact}, approvers=Approvers(users=inputs.approvers), four_eyes=True,
    )
    if not decision.approved:
        ctx.note(f"Deploy rejected by {decision.by}: {decision.comment or 'no reason given'}")
        return {"deployed": False, "rejected_by": decision.by, "reason": decision.comment}
    notes = await ctx.ask("Release notes", form=ReleaseNotes)
    await ctx.sleep(inputs.pause)
    results = await ctx.parallel(ctx.task(deploy_to, env, key=f"deploy-{env}") for env in ("staging", "prod"))
    return {"deployed": True, "approved_by": decision.by, "summary": notes.summary, "results": results,
            "started": started.isoformat(), "release": release_id}
