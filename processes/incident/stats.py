"""``incident-stats``: trends of time to acknowledge, mitigate and resolve, per severity."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from engine import Context, TaskContext, process, task
from processes.incident import figures
from processes.incident.figures import SeverityStats
from processes.incident.policy import Severity
from processes.incident.store import load_stats


class StatsInputs(BaseModel):
    severity: Severity | None = Field(default=None, description="Only this severity (default: all)")
    since: timedelta = Field(default=timedelta(days=30), gt=timedelta(0),
                             description="How far back, e.g. 30d, 12w, 90d")


class StatsOutcome(BaseModel):
    """A completed run returns the figures it posted:"""

    since: datetime = Field(description="incidents declared from this time on were counted")
    severity: Severity | None = Field(default=None, description="the one severity asked for, if any")
    stats: list[SeverityStats] = Field(description="per severity: count, and n/mean/median/p90 (seconds) "
                                                   "of tta, ttm and ttr")


class LoadArgs(BaseModel):
    since: datetime
    severity: Severity | None = None


@task(name="incident.incident_statistics", aliases=["processes.incident_stats.incident_statistics"],
      retries=2, backoff=0.2)
async def incident_statistics(args: LoadArgs, tctx: TaskContext) -> list[SeverityStats]:
    """Read the incidents recorded since ``since`` and summarize them per severity."""
    records = await load_stats(tctx.redis, args.since)
    return figures.summarize(records, args.severity.value if args.severity else None)


def _label(since: timedelta) -> str:
    seconds = since.total_seconds()
    amount, unit = (seconds / 86400, "day") if seconds >= 86400 else (seconds / 3600, "hour")
    return f"over the past {amount:g} {unit}{'' if amount == 1 else 's'}"


@process("incident-stats", title="Incident statistics", inputs=StatsInputs, outputs=StatsOutcome)
async def incident_stats(inputs: StatsInputs, ctx: Context) -> StatsOutcome:
    """Time to acknowledge, mitigate and resolve, per severity, over past incidents.

    Reads the durations `incident-response` recorded when each incident was resolved (in Redis;
    nothing to configure) and reports, per severity, how many incidents were declared in the
    window and the mean, median and 90th percentile (nearest rank) of the time to acknowledge
    (roles assigned), to mitigate (the "mitigated" gate approved) and to resolve (the "resolve"
    gate approved), each measured from the declaration.

    Asks people: nothing. Produces: a one-line summary (medians) in the thread and
    `incident-stats.md`, a table of count, n, mean, median and p90 per severity and measure.
    """
    cutoff = ctx.now() - inputs.since
    found = await ctx.task(incident_statistics, LoadArgs(since=cutoff, severity=inputs.severity))
    label = _label(inputs.since) + (f", {inputs.severity.value} only" if inputs.severity else "")
    ctx.note(figures.note(found, label))
    ctx.artifact("incident-stats.md", figures.markdown(found, label), mime="text/markdown")
    return StatsOutcome(since=cutoff, severity=inputs.severity, stats=found)
