"""Steps shared by slo-setup and slo-review: validate with promtool, read the live SLI.

They run in process code (journaled intrinsics only) and say in the thread exactly what was and
was not done: an unconfigured Prometheus or a missing promtool is stated, never glossed over.
"""

from __future__ import annotations

import base64

from engine import Context, TaskFailed
from integrations.promtool import PromtoolResult
from processes.slo.budget import ErrorBudget, error_budget, promql_duration
from processes.slo.documents import action_for
from processes.slo.inputs import SLOInputs
from processes.slo.plan import SLOPlan
from processes.slo.rules import bucket_check_expr
from processes.slo.tasks import LiveArgs, LiveSLI, RuleFiles, SLOConfig, promtool_check, promtool_test, read_live_sli


class RulesInvalid(Exception):
    """promtool rejected the generated rules or their tests: nothing may be applied."""


def rule_files(plan: SLOPlan) -> RuleFiles:
    return RuleFiles(rules_filename=plan.spec.rules_filename, rules=plan.rules,
                     tests_filename=plan.spec.tests_filename, tests=plan.tests)


def _scenarios(plan: SLOPlan) -> int:
    return plan.tests.count("\n- name: ")


async def validate(ctx: Context, plan: SLOPlan, suffix: str) -> bool:
    """Run ``promtool check rules`` and ``promtool test rules`` side by side.

    Returns whether the rules were validated; raises ``RulesInvalid`` when promtool rejects them.
    """
    files = rule_files(plan)
    check: PromtoolResult
    test: PromtoolResult
    check, test = await ctx.parallel(ctx.task(promtool_check, files, key=f"check{suffix}"),
                                     ctx.task(promtool_test, files, key=f"test{suffix}"))
    if not (check.available and test.available):
        reason = (check.failures or test.failures or ["promtool is missing"])[0]
        ctx.note(f"Not validated: {reason}. Validate by hand: `promtool check rules {files.rules_filename}` and "
                 f"`promtool test rules {files.tests_filename}` (both files are attached).", key=f"unvalidated{suffix}")
        return False
    problems = [f"`{' '.join(r.command[1:])}`: " + " | ".join(r.failures[:6] or [r.output[-400:]])
                for r in (check, test) if not r.ok]
    if problems:
        ctx.note("promtool rejected the generated rules: " + "; ".join(problems), key=f"invalid{suffix}")
        raise RulesInvalid("promtool rejected the generated rules: " + "; ".join(problems))
    skipped = f" (not testable at this target: {'; '.join(plan.untestable)})" if plan.untestable else ""
    ctx.note(f"promtool: {check.rules} rules valid; {_scenarios(plan)} unit-test scenarios pass — every burn-rate "
             f"alert fires just above its rate and stays quiet just below it{skipped}.", key=f"validated{suffix}")
    return True


def live_args(plan: SLOPlan, inputs: SLOInputs, config: SLOConfig) -> LiveArgs:
    return LiveArgs(error_ratio=plan.queries["error_ratio"], requests=plan.queries["requests"],
                    budget=plan.spec.budget, window_seconds=inputs.window.total_seconds(), window=plan.window,
                    title=f"{plan.spec.service} {plan.spec.sli} error budget", target=inputs.target,
                    points=config.chart_points, bucket_check=bucket_check_expr(plan.spec))


async def read_current(ctx: Context, plan: SLOPlan, inputs: SLOInputs, config: SLOConfig,
                       suffix: str) -> tuple[LiveSLI | None, ErrorBudget]:
    """Where Prometheus is configured: the SLI, budget left and burn-down chart; else say it was not read."""
    if not config.prometheus_url:
        ctx.note("Prometheus is not configured (set PROMETHEUS_URL): the current SLI, remaining budget and "
                 "burn-down chart were not read.", key=f"live-unconfigured{suffix}")
        return None, plan.budget
    try:
        live: LiveSLI = await ctx.task(read_live_sli, live_args(plan, inputs, config), key=f"live{suffix}")
    except TaskFailed as exc:
        ctx.note(f"Could not read the SLI from Prometheus: {exc.message}", key=f"live-failed{suffix}")
        return None, plan.budget
    budget = error_budget(inputs.target, inputs.window, requests=live.requests)
    if live.sli_percent is not None and live.budget_remaining is not None and live.error_ratio is not None:
        consumed = live.budget_consumed or 0.0
        action = action_for(consumed)
        ctx.note(f"Now (Prometheus, last {plan.window}): SLI {live.sli_percent:.4f}% (error ratio "
                 f"{live.error_ratio:.6g}); {consumed:.1%} of the error budget spent, {live.budget_remaining:.1%} "
                 f"left" + (f". Policy: {action}" if action else "."), key=f"sli{suffix}")
        window_s = inputs.window.total_seconds()
        if live.covered_seconds is not None and live.covered_seconds < 0.95 * window_s:
            ctx.note(f"Prometheus has data for only about the last "
                     f"{promql_duration(max(round(live.covered_seconds), 1))} "
                     f"of the {plan.window} window: the SLI and budget above cover that span.",
                     key=f"coverage{suffix}")
    if live.problem:
        ctx.note(f"Prometheus: {live.problem}.", key=f"live-problem{suffix}")
    if live.chart_png_b64:
        ctx.artifact(f"slo-{plan.spec.slo_id}-burn-down.png", base64.b64decode(live.chart_png_b64),
                     mime="image/png", key=f"chart{suffix}")
    return live, budget
