"""When an incident run is cancelled: stop the page and tell the incident channel.

A cancelled incident (declared by mistake, a duplicate) must not keep paging on-call, so this is
incident-response's ``on_cancel`` task. It reads what the run had done from its journal: the
incident id, how on-call was paged, and the incident channel. It resolves the PagerDuty incident
whenever the run may have triggered one, including a trigger still in flight when the run was
cancelled (resolving a dedup key that PagerDuty never saw is harmless); an on-call group that was
mentioned instead is told to stand down. It says so in the incident channel, if the run created
one (otherwise the run's own thread shows the cancel).
The result is recorded once per idempotency key, and the resolve and the post each once more
(``effects``), so a redelivery, even after a worker died midway, sends and posts nothing twice.
"""

from __future__ import annotations

from pydantic import BaseModel

from engine import CancelledRun, TaskContext, finished_steps, result_of, task
from engine.mrkdwn import escape, mention
from integrations.pagerduty import PagerDuty
from integrations.slack import SlackProblem, WorkerSlack
from processes.incident.effects import pagerduty_once, post_once
from processes.incident.models import ChannelResult, IncidentStart, PageResult
from processes.incident.policy import SEVERITIES, Severity
from processes.incident.tasks import begin_incident, once, open_channel, page_oncall


class Released(BaseModel):
    detail: str


def _may_have_paged(run: CancelledRun, start: IncidentStart, page: PageResult | None) -> bool:
    if page is not None:
        return page.via == "pagerduty"
    try:  # the page step had not finished: it may still have reached PagerDuty
        pages = SEVERITIES[Severity(run.inputs.get("severity", ""))].page
    except (ValueError, KeyError):
        pages = True
    return pages and start.pagerduty_configured


@task(name="incident.release_incident", aliases=["processes._incident.cancel.release_incident"], retries=3, backoff=1.0)
async def release_incident(run: CancelledRun, tctx: TaskContext) -> str:
    """Resolve the incident's PagerDuty page and announce the cancel in its channel."""

    async def work() -> Released:
        steps = await finished_steps(tctx.redis, run.run_id)
        start: IncidentStart | None = result_of(steps, begin_incident)
        if start is None:
            return Released(detail="No incident had been declared yet: nothing to release.")
        inc = start.incident_id
        done: list[str] = []
        page: PageResult | None = result_of(steps, page_oncall)
        if _may_have_paged(run, start, page):
            sent = await pagerduty_once(tctx.redis, PagerDuty(), f"{tctx.idempotency_key}:resolve", "resolve",
                                        inc)  # a failure raises: the worker retries
            done.append(f"PagerDuty resolve sent for {sent}")
        elif page is not None and page.via == "usergroup" and start.oncall_group:
            done.append(f"<!subteam^{start.oncall_group}> you can stand down")
        else:
            done.append("nothing was paged through PagerDuty")
        channel: ChannelResult | None = result_of(steps, open_channel)
        slack = WorkerSlack.maybe()
        if channel is not None and channel.created and channel.channel and slack is not None:
            why = f": {escape(run.reason)}" if run.reason else ""  # typed with /run cancel: no ping, no link
            try:
                await post_once(tctx.redis, slack, f"{tctx.idempotency_key}:announce", channel.channel,
                                f"⊘ *{inc}* was cancelled by {mention(run.by)}{why}. "
                                f"{done[0][0].upper()}{done[0][1:]}.")
                done.append(f"announced in <#{channel.channel}>")
            except SlackProblem as exc:
                done.append(f"could not post in <#{channel.channel}> ({exc.method}: {exc.code})")
        return Released(detail=f"{inc} cancelled: {'; '.join(done)}.")

    return (await once(tctx, Released, work)).detail
