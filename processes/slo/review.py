"""slo-review: the recurring look at an SLO that slo-setup schedules."""

from __future__ import annotations

from pydantic import BaseModel, Field

from engine import Context, process
from processes.slo.documents import action_for, budget_summary
from processes.slo.inputs import SLOInputs
from processes.slo.plan import plan_slo
from processes.slo.steps import read_current
from processes.slo.tasks import SLOConfig, load_config


class SLOReviewResult(BaseModel):
    """What a completed slo-review run returns."""

    service: str = Field(description="the service the SLO is for")
    sli: str = Field(description="availability or latency")
    target: float = Field(description="the objective in percent")
    window: str = Field(description="the SLO window, as a Prometheus duration")
    measured: bool = Field(description="Prometheus answered with data for the SLI")
    sli_percent: float | None = Field(default=None, description="the SLI over the window, in percent")
    budget_remaining: float | None = Field(default=None, description="fraction of the error budget left")
    policy_action: str | None = Field(default=None, description="the error budget policy step now in force")


@process("slo-review", title="SLO review", inputs=SLOInputs, outputs=SLOReviewResult)
async def slo_review(inputs: SLOInputs, ctx: Context) -> SLOReviewResult:
    """Review an SLO: where it stands against its error budget, and what the policy asks now.

    Reads the SLI and remaining error budget over the window from Prometheus (PROMETHEUS_URL),
    attaches the burn-down chart (PNG) and names the error budget policy step in force. Where
    Prometheus is not configured it says so and measures nothing. slo-setup schedules it; it can be
    run by hand with the same arguments. Asks people nothing.
    """
    config: SLOConfig = await ctx.task(load_config, None, key="config")
    plan = plan_slo(inputs, config)
    ctx.note(budget_summary(plan.spec, plan.budget, plan.window), key="budget")
    live, _ = await read_current(ctx, plan, inputs, config, "")
    result = SLOReviewResult(service=inputs.service, sli=inputs.sli, target=inputs.target, window=plan.window,
                             measured=bool(live and live.sli_percent is not None))
    if live and live.sli_percent is not None and live.budget_consumed is not None:
        result.sli_percent, result.budget_remaining = live.sli_percent, live.budget_remaining
        result.policy_action = action_for(live.budget_consumed)
    return result
