"""slo-setup: from "checkout should be 99.9% available" to tested, applied Prometheus rules."""

from __future__ import annotations

from pydantic import BaseModel, Field

from engine import Context, process
from engine.mrkdwn import escape
from integrations.github import github_repository
from processes.slo.budget import human_minutes, promql_duration
from processes.slo.documents import budget_summary, policy_document
from processes.slo.inputs import SLOInputs, SLOSetupInputs
from processes.slo.plan import SLOPlan, plan_slo, reviewer_overrides
from processes.slo.policy import BURN_RATE_ALERTS
from processes.slo.repo import PullArgs, PullOpened, RepoArgs, RepoPushed, open_pull_request, push_rules
from processes.slo.steps import read_current, validate
from processes.slo.tasks import (
    Applied,
    ApplyArgs,
    LiveSLI,
    ReviewSchedule,
    SLOConfig,
    apply_rules,
    load_config,
    schedule_review,
)


class SLOSetupResult(BaseModel):
    """What a completed slo-setup run returns."""

    service: str = Field(description="the service the SLO is for")
    sli: str = Field(description="availability or latency, after any re-plan")
    target: float = Field(description="the objective in percent, after any re-plan")
    window: str = Field(description="the SLO window, as a Prometheus duration")
    error_budget: float = Field(description="the fraction of requests allowed to fail")
    budget_minutes: float = Field(description="minutes of full outage the budget allows per window")
    budget_requests: float | None = Field(default=None, description="failed requests allowed at current traffic")
    rules_file: str = Field(description="name of the generated Prometheus rule file (attached)")
    alerts: list[str] = Field(description="the burn-rate alerts it defines")
    validated: bool = Field(description="promtool checked the rules and their unit tests passed")
    current_sli_percent: float | None = Field(default=None, description="the SLI Prometheus reports now")
    budget_remaining: float | None = Field(default=None, description="fraction of the budget left now")
    approved: bool = Field(description="the four-eyes review approved the rules")
    reviewed_by: str | None = Field(default=None, description="who decided the last review")
    replans: int = Field(default=0, description="re-plans made from reviewers' comments")
    applied_to: str | None = Field(default=None, description="the rule file written on the Prometheus side")
    reloaded: bool = Field(default=False, description="Prometheus reloaded and lists the new rule group")
    review_schedule: str | None = Field(default=None, description="id of the recurring slo-review schedule")
    branch: str | None = Field(default=None, description="with repo: the branch holding the rules in the rules repo")
    pull_request: str | None = Field(default=None, description="with repo on github.com and GITHUB_TOKEN: the PR")


def _review_facts(plan: SLOPlan, validated: bool, current: str) -> dict[str, str]:
    pages = sum(a.severity == "page" for a in BURN_RATE_ALERTS)
    return {
        "Objective": f"{plan.spec.target:g}% {plan.spec.sli} over {plan.window}",
        "Error budget": f"{plan.budget.fraction:.6g} ({human_minutes(plan.budget.minutes)})",
        "Alerts": f"{len(BURN_RATE_ALERTS)} burn-rate alerts ({pages} page, {len(BURN_RATE_ALERTS) - pages} ticket)",
        "Validated": "promtool check + unit tests pass" if validated else "NOT validated (promtool missing)",
        "Now": current,
        "Rules": plan.spec.rules_filename,
    }


def _manual_apply(plan: SLOPlan, config: SLOConfig) -> str:
    url = config.prometheus_url or "http://<prometheus>:9090"
    name = plan.spec.rules_filename
    return (f"`promtool check rules {name}`, then `cp {name} <a directory matched by rule_files in prometheus.yml>/` "
            f"and `curl -X POST {url}/-/reload` (needs --web.enable-lifecycle; or send Prometheus SIGHUP)")


def _review_inputs(inputs: SLOInputs) -> dict[str, object]:
    """What slo-review takes: the SLO itself, not where slo-setup put its rules."""
    return inputs.model_dump(mode="json", include=set(SLOInputs.model_fields))


def _review_args(inputs: SLOInputs, window: str) -> str:
    parts = [f"service={inputs.service}", f"target={inputs.target:g}", f"window={window}", f"sli={inputs.sli}"]
    return " ".join([*parts, f"threshold={inputs.threshold}"] if inputs.sli == "latency" else parts)


@process("slo-setup", title="SLO setup", inputs=SLOSetupInputs, outputs=SLOSetupResult)
async def slo_setup(inputs: SLOSetupInputs, ctx: Context) -> SLOSetupResult:
    """Define a service level objective and put Prometheus to work on it.

    Computes the error budget (fraction, minutes per window, and requests where Prometheus knows the
    traffic); builds the SLI queries from the metric names in settings; generates recording rules for
    the error ratio over 5m/30m/1h/2h/6h/1d/3d and multi-window multi-burn-rate alerts (14.4x over 1h
    and 5m and 6x over 6h and 30m page; 3x over 1d and 2h and 1x over 3d and 6h open a ticket);
    validates them with `promtool check rules` and a generated `promtool test rules` file proving each
    alert fires just above its burn rate and stays quiet just below it; where Prometheus is
    configured, reads the current SLI and remaining budget and attaches a burn-down chart.

    Asks people: a four-eyes review of the rules (the requester cannot approve). A rejection whose
    comment carries changes (`target=99.5 window=28d`) re-plans with them, a bounded number of times
    (SHEPHERD_SLO_MAX_REPLANS); any other rejection stops the run and nothing is applied.

    Then applies the rules: writes them to PROMETHEUS_RULES_DIR and reloads Prometheus at
    PROMETHEUS_URL; and, given `repo=` (an https:// or ssh:// URL, user@host:path, or a local
    path under SHEPHERD_REPO_ROOTS), commits the rule file and its
    unit tests under `rules_path` (default `rules`) to a new branch `shepherd/slo-<service>-<id>`
    in a temporary clone and pushes it there (never touching a checked-out working tree); for a
    github.com repository with GITHUB_TOKEN set it opens (or reuses) the pull request, otherwise it
    says so and gives the link to open one. Where neither is configured it says so and gives the
    exact commands. It attaches the error budget policy document and schedules the recurring
    `slo-review` in the run's channel.
    Produces: the rule file, its unit tests, the burn-down chart (PNG) and the policy (markdown);
    with `repo=`, a branch (and, on GitHub, a pull request) holding the rule file and its tests.
    """
    config: SLOConfig = await ctx.task(load_config, None, key="config")
    current, replans = inputs, 0
    while True:
        k = f"-{replans}" if replans else ""
        plan = plan_slo(current, config)
        ctx.note(budget_summary(plan.spec, plan.budget, plan.window), key=f"budget{k}")
        ctx.artifact(plan.spec.rules_filename, plan.rules, mime="application/yaml", key=f"rules{k}")
        ctx.artifact(plan.spec.tests_filename, plan.tests, mime="application/yaml", key=f"rule-tests{k}")
        validated = await validate(ctx, plan, k)
        live, budget = await read_current(ctx, plan, current, config, k)
        now = (f"SLI {live.sli_percent:.4f}%, {live.budget_remaining:.1%} of budget left"
               if live and live.sli_percent is not None and live.budget_remaining is not None else "not measured")
        decision = await ctx.breakpoint(
            f"Apply the {current.service} {current.sli} SLO ({current.target:g}% over {plan.window})?",
            facts=_review_facts(plan, validated, now), four_eyes=True, key=f"review{k}")
        if decision.approved:
            break
        changed, problem = reviewer_overrides(current, decision.comment)
        reason = escape(decision.comment or "no reason given")  # typed by the reviewer: no ping, no link
        if changed is None or replans >= config.max_replans:
            why = (f"the requested change is not usable ({problem})" if problem else
                   f"re-plans are used up ({config.max_replans})" if changed is not None else
                   "the comment asks for no change (write e.g. target=99.5 to re-plan)")
            ctx.note(f"Rejected by {decision.by}: {reason}. Stopping, nothing applied: {escape(why)}.",
                     key=f"stopped{k}")
            return _result(current, plan, validated, live, budget.requests, decision.by, False, replans)
        ctx.note(f"Rejected by {decision.by}: {reason}. Re-planning with target={changed.target:g} "
                 f"window={promql_duration(changed.window.total_seconds())} sli={changed.sli}.", key=f"replan{k}")
        current, replans = changed, replans + 1

    result = _result(current, plan, validated, live, budget.requests, decision.by, True, replans)
    if config.rules_dir or not current.repo:
        applied = await _apply(ctx, plan, config)
        result.applied_to, result.reloaded = applied.written, applied.loaded
    if current.repo:
        result.branch, result.pull_request = await _to_repo(ctx, current, plan, decision.by)
    result.review_schedule = await _schedule(ctx, current, plan, config)
    review = (f"`slo-review` runs on the schedule `{config.review_cron}` (cron, UTC), schedule "
              f"`{result.review_schedule}`." if result.review_schedule else
              f"No recurring review is scheduled yet: `/run schedule slo-review \"{config.review_cron}\" "
              f"{_review_args(current, plan.window)}` sets one up.")
    ctx.artifact(f"slo-{plan.spec.slo_id}-error-budget-policy.md",
                 policy_document(plan.spec, budget, plan.window, plan.queries, decision.by,
                                 decision.at.strftime("%Y-%m-%d %H:%M UTC"), review),
                 mime="text/markdown", key="policy")
    return result


def _result(inputs: SLOInputs, plan: SLOPlan, validated: bool, live: LiveSLI | None, requests: float | None,
            by: str | None, approved: bool, replans: int) -> SLOSetupResult:
    return SLOSetupResult(
        service=inputs.service, sli=inputs.sli, target=inputs.target, window=plan.window,
        error_budget=plan.budget.fraction, budget_minutes=plan.budget.minutes,
        budget_requests=plan.budget.fraction * requests if requests is not None else None,
        rules_file=plan.spec.rules_filename, alerts=[a.alert_name for a in BURN_RATE_ALERTS], validated=validated,
        current_sli_percent=live.sli_percent if live else None,
        budget_remaining=live.budget_remaining if live else None,
        approved=approved, reviewed_by=by, replans=replans)


async def _apply(ctx: Context, plan: SLOPlan, config: SLOConfig) -> Applied:
    """Write and reload where configured; otherwise say so and hand over the exact commands."""
    if not config.rules_dir:
        ctx.note(f"Not applied: PROMETHEUS_RULES_DIR is not set. Apply {plan.spec.rules_filename} (attached) with "
                 f"{_manual_apply(plan, config)}.", key="apply-manual")
        return Applied(problem="PROMETHEUS_RULES_DIR is not set")
    applied: Applied = await ctx.task(apply_rules, ApplyArgs(filename=plan.spec.rules_filename, content=plan.rules,
                                                             group=plan.spec.group_name), key="apply")
    if applied.loaded:
        ctx.note(f"Applied: wrote {applied.written}; Prometheus reloaded and lists rule group "
                 f"{plan.spec.group_name}.", key="applied")
    elif applied.written:
        ctx.note(f"Wrote {applied.written}, but {applied.problem}. Finish with `curl -X POST "
                 f"{config.prometheus_url or 'http://<prometheus>:9090'}/-/reload`.", key="applied")
    else:
        ctx.note(f"Not applied: {applied.problem}. Apply {plan.spec.rules_filename} (attached) with "
                 f"{_manual_apply(plan, config)}.", key="applied")
    return applied


async def _schedule(ctx: Context, inputs: SLOInputs, plan: SLOPlan, config: SLOConfig) -> str | None:
    """The recurring slo-review, in the channel the run belongs to."""
    args = _review_args(inputs, plan.window)
    if not ctx.channel:
        ctx.note(f"No recurring review scheduled: this run has no channel to post it in. From Slack: "
                 f'`/run schedule slo-review "{config.review_cron}" {args}`.', key="review-unscheduled")
        return None
    created = ctx.now(key="review-created")
    scheduled = await ctx.task(schedule_review, ReviewSchedule(
        process="slo-review", inputs=_review_inputs(inputs), args=args, cron=config.review_cron,
        channel=ctx.channel, creator=ctx.requester, created_at=created.isoformat()), key="review-schedule")
    if scheduled.id is None:
        ctx.note(f"No recurring review scheduled: {scheduled.problem}. From Slack: "
                 f'`/run schedule slo-review "{config.review_cron}" {args}`.', key="review-unscheduled")
        return None
    verb = "Updated" if scheduled.replaced else "Scheduled"
    ctx.note(f"{verb} the SLO review `{scheduled.id}`: slo-review at `{config.review_cron}` (UTC) in this channel.",
             key="review-scheduled")
    return scheduled.id


def _commit_message(inputs: SLOSetupInputs, plan: SLOPlan, by: str | None, run_id: str) -> str:
    return (f"SLO: {inputs.service} {inputs.sli} {inputs.target:g}% over {plan.window}\n\n"
            f"Recording rules and multi-window multi-burn-rate alerts ({plan.spec.rules_filename}) with their "
            f"promtool unit tests ({plan.spec.tests_filename}).\n"
            f"Error budget {plan.budget.fraction:.6g} ({human_minutes(plan.budget.minutes)} per {plan.window}).\n"
            f"Four-eyes review approved by {by or 'unknown'}; Shepherd run {run_id}.\n")


async def _to_repo(ctx: Context, inputs: SLOSetupInputs, plan: SLOPlan,
                   by: str | None) -> tuple[str | None, str | None]:
    """The rules as a branch in the rules repo and, on github.com with a token, a pull request."""
    assert inputs.repo is not None
    message = _commit_message(inputs, plan, by, ctx.run_id)
    pushed: RepoPushed = await ctx.task(push_rules, RepoArgs(
        repo=inputs.repo, rules_path=inputs.rules_path, service=inputs.service, message=message,
        files={plan.spec.rules_filename: plan.rules, plan.spec.tests_filename: plan.tests}), key="repo")
    files = ", ".join(f"`{p}`" for p in pushed.paths)
    repo = escape(pushed.repo)  # typed by the requester: shown as text in the thread
    if pushed.problem:
        ctx.note(f"Not pushed to {repo}: {escape(pushed.problem)}. The rule files are attached; commit them under "
                 f"`{inputs.rules_path}/` by hand.", key="repo-failed")
        return None, None
    short = (pushed.commit or "")[:12]
    if pushed.unchanged:
        ctx.note(f"Branch `{pushed.branch}` in {repo} already holds {files} as generated (commit {short}): "
                 f"nothing pushed.", key="repo-pushed")
    else:
        ctx.note(f"Pushed branch `{pushed.branch}` to {repo}: commit {short} adds {files}.", key="repo-pushed")
    base = pushed.base or "main"
    github = github_repository(inputs.repo)
    if github is None:
        ctx.note(f"No pull request: {repo} is not on github.com. Open a merge request from `{pushed.branch}` "
                 f"into `{base}` there, or merge it on `{base}` with `git fetch {repo} {pushed.branch}` and "
                 f"`git merge FETCH_HEAD`.", key="repo-no-pr")
        return pushed.branch, None
    pull: PullOpened = await ctx.task(open_pull_request, PullArgs(
        repo=inputs.repo, branch=pushed.branch, base=base, title=message.splitlines()[0],
        body=message.split("\n", 2)[2]), key="pull-request")
    owner, name = github
    if pull.url:
        verb = "Opened" if pull.created else "Reusing the open"
        ctx.note(f"{verb} pull request #{pull.number}: {pull.url}", key="repo-pr")
        return pushed.branch, pull.url
    hint = (" (set GITHUB_TOKEN to have Shepherd open it)"
            if pull.problem == "GITHUB_TOKEN is not set" else "")
    ctx.note(f"No pull request opened: {pull.problem}{hint}. Open it at https://github.com/{owner}/{name}/compare/"
             f"{base}...{pushed.branch}?expand=1 or with `gh pr create --repo {owner}/{name} --base {base} "
             f"--head {pushed.branch}`.", key="repo-no-pr")
    return pushed.branch, None
