"""The SLO tasks: everything that reads settings, runs promtool, talks to Prometheus or Redis.

Process code stays pure; each of these runs on a worker and its result is journaled, so a replay
sees the same configuration, validation results and measurements.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from engine import TaskContext, task
from engine.failpoints import failpoint
from integrations.prometheus import PrometheusClient, PrometheusError, PrometheusSettings
from integrations.promtool import PromtoolMissing, PromtoolResult, check_rules, test_rules
from processes.slo.chart import burn_down_png
from processes.slo.policy import SLOSettings

RULES_LOAD_TIMEOUT = 30.0


class SLOConfig(BaseModel):
    """The settings in force when the run started (journaled, so replays agree)."""

    requests_metric: str
    errors_matcher: str
    latency_bucket_metric: str
    service_label: str
    test_ok_labels: str
    test_error_labels: str
    max_replans: int
    review_cron: str
    chart_points: int
    prometheus_url: str | None
    rules_dir: str | None


@task(name="slo.load_config", aliases=["processes._slo.tasks.load_config"])
def load_config(_: None) -> SLOConfig:
    slo, prom = SLOSettings(), PrometheusSettings()
    return SLOConfig(**slo.model_dump(), prometheus_url=prom.public_url,
                     rules_dir=str(prom.rules_dir) if prom.rules_dir else None)


class RuleFiles(BaseModel):
    rules_filename: str
    rules: str
    tests_filename: str
    tests: str


def _write(files: RuleFiles, directory: Path) -> tuple[Path, Path]:
    rules, tests = directory / files.rules_filename, directory / files.tests_filename
    rules.write_text(files.rules)
    tests.write_text(files.tests)
    return rules, tests


def _missing(exc: PromtoolMissing) -> PromtoolResult:
    return PromtoolResult(ok=False, available=False, command=[], failures=[str(exc)], output=str(exc))


@task(name="slo.promtool_check", aliases=["processes._slo.tasks.promtool_check"], timeout=120)
def promtool_check(files: RuleFiles) -> PromtoolResult:
    """``promtool check rules`` on the generated rule file."""
    with tempfile.TemporaryDirectory(prefix="shepherd-slo-") as tmp:
        rules, _ = _write(files, Path(tmp))
        try:
            return check_rules(rules)
        except PromtoolMissing as exc:
            return _missing(exc)


@task(name="slo.promtool_test", aliases=["processes._slo.tasks.promtool_test"], timeout=600)
def promtool_test(files: RuleFiles) -> PromtoolResult:
    """``promtool test rules`` on the generated unit tests (next to the rule file they load)."""
    with tempfile.TemporaryDirectory(prefix="shepherd-slo-") as tmp:
        _, tests = _write(files, Path(tmp))
        try:
            return test_rules(tests)
        except PromtoolMissing as exc:
            return _missing(exc)


class LiveArgs(BaseModel):
    error_ratio: str
    requests: str
    budget: float
    window_seconds: float
    window: str
    title: str
    target: float
    points: int
    bucket_check: str | None = None
    """Latency SLI: a query that is empty when the histogram has no bucket at the threshold."""


class LiveSLI(BaseModel):
    """What Prometheus says about the SLO now; ``problem`` says what could not be measured."""

    url: str
    at: str
    error_ratio: float | None = None
    sli_percent: float | None = None
    budget_consumed: float | None = None
    budget_remaining: float | None = None
    requests: float | None = None
    chart_png_b64: str | None = None
    chart_points: int = 0
    covered_seconds: float | None = None
    """How much of the window Prometheus has data for, at most (from the burn-down's first point)."""
    problem: str | None = None


@task(name="slo.read_live_sli", aliases=["processes._slo.tasks.read_live_sli"], retries=2, backoff=1.0, timeout=180)
async def read_live_sli(args: LiveArgs) -> LiveSLI:
    """The current SLI and budget over the window, and the burn-down over the same window."""
    client = PrometheusClient.from_settings()
    now = time.time()
    live = LiveSLI(url=client.url, at=datetime.fromtimestamp(now, UTC).isoformat())
    async with client as prom:
        ratio = await prom.query_value(args.error_ratio, now)
        requests = await prom.query_value(args.requests, now)
        remaining_expr = f"1 - (({args.error_ratio}) / {args.budget!r})"
        step = max(args.window_seconds / args.points, 1.0)
        series = await prom.query_range(remaining_expr, now - args.window_seconds, now, step)
        buckets = await prom.query_value(args.bucket_check, now) if args.bucket_check else None
    if args.bucket_check and buckets is None:
        live.problem = ("the latency histogram has no bucket at the threshold, so this SLI and its alerts would "
                        "have no data: choose a threshold that is one of its bucket boundaries")
        return live
    if ratio is None:
        live.problem = "Prometheus has no data for the SLI query yet (no requests in the window?)"
        return live
    live.error_ratio = ratio
    live.sli_percent = 100 * (1 - ratio)
    live.budget_consumed = ratio / args.budget
    live.budget_remaining = 1 - live.budget_consumed
    live.requests = requests
    points = [(t, v) for s in series for t, v in s.points if v == v]  # drop NaN (no traffic at that time)
    live.chart_points = len(points)
    # Data starts somewhere in the step before the first point: count that step, so this is an upper bound.
    live.covered_seconds = min(now - min(t for t, _ in points) + step, args.window_seconds) if points else None
    if len(points) < 2:
        live.problem = f"only {len(points)} point(s) of history in the window: no burn-down chart yet"
        return live
    png = burn_down_png(sorted(points), title=args.title, target=args.target, window=args.window)
    live.chart_png_b64 = base64.b64encode(png).decode()
    return live


class ApplyArgs(BaseModel):
    filename: str
    content: str
    group: str


class Applied(BaseModel):
    """Where the rules went: written to the rules directory, reloaded, and seen loaded."""

    written: str | None = None
    reloaded: bool = False
    loaded: bool = False
    problem: str | None = None


def _write_atomically(path: Path, content: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(content)
    tmp.replace(path)  # Prometheus never reads a half-written rule file


async def _group_loaded(prom: PrometheusClient, group: str) -> bool:
    deadline = time.monotonic() + RULES_LOAD_TIMEOUT
    while True:
        if any(g.get("name") == group for g in await prom.rules()):
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.5)


@task(name="slo.apply_rules", aliases=["processes._slo.tasks.apply_rules"], retries=1, backoff=1.0, timeout=180)
async def apply_rules(args: ApplyArgs) -> Applied:
    """Write the rule file into ``PROMETHEUS_RULES_DIR`` and reload Prometheus where configured."""
    settings = PrometheusSettings()
    if settings.rules_dir is None:
        return Applied(problem="PROMETHEUS_RULES_DIR is not set")
    directory = settings.rules_dir
    if not directory.is_dir():
        return Applied(problem=f"PROMETHEUS_RULES_DIR {directory} is not a directory")
    target = directory / args.filename
    _write_atomically(target, args.content)  # the same bytes again on a redelivery
    failpoint("slo.rules_written")
    applied = Applied(written=str(target))
    if not settings.configured:
        applied.problem = "PROMETHEUS_URL is not set, so Prometheus was not reloaded"
        return applied
    async with PrometheusClient.from_settings(settings) as prom:
        try:
            await prom.reload()  # reloading the same files again changes nothing
        except PrometheusError as exc:
            applied.problem = str(exc)
            return applied
        failpoint("slo.prometheus_reloaded")
        applied.reloaded = True
        applied.loaded = await _group_loaded(prom, args.group)
    if not applied.loaded:
        applied.problem = (f"Prometheus reloaded but does not list the group {args.group!r}: does its rule_files "
                           f"match {target}?")
    return applied


class ReviewSchedule(BaseModel):
    process: str
    inputs: dict[str, Any]
    args: str
    cron: str
    channel: str
    creator: str
    created_at: str


class Scheduled(BaseModel):
    id: str | None = None
    replaced: bool = False
    problem: str | None = None


@task(name="slo.schedule_review", aliases=["processes._slo.tasks.schedule_review"])
async def schedule_review(args: ReviewSchedule, tctx: TaskContext) -> Scheduled:
    """Store (or replace) the recurring review of this SLO in the bot's schedule store."""
    try:
        from bot.schedule_store import Schedule, ScheduleStore
    except ImportError as exc:  # a worker installed without the bot
        return Scheduled(problem=f"the schedule store is not available on this worker: {exc}")
    if tctx.redis is None:
        return Scheduled(problem="this worker gives tasks no Redis client, so nothing could be scheduled")
    store = ScheduleStore(tctx.redis)
    same = [s for s in await store.all() if s.process == args.process and s.channel == args.channel
            and {k: s.inputs.get(k) for k in ("service", "sli")} == {k: args.inputs.get(k) for k in ("service", "sli")}]
    own_id = "sch-" + hashlib.sha256(tctx.idempotency_key.encode()).hexdigest()[:8]  # same on redelivery
    schedule_id = same[0].id if same else own_id
    try:
        from bot.schedules import parse_cron

        parse_cron(args.cron, "UTC")
    except ImportError:
        pass  # the bot validates it again when it fires
    except ValueError as exc:  # ArgumentError is a ValueError
        return Scheduled(problem=f"SHEPHERD_SLO_REVIEW_CRON: {exc}")
    await store.add(Schedule(id=schedule_id, process=args.process, inputs=args.inputs, args=args.args,
                             cron=args.cron, channel=args.channel, creator=args.creator,
                             created_at=datetime.fromisoformat(args.created_at)))
    return Scheduled(id=schedule_id, replaced=schedule_id != own_id)
