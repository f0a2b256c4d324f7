"""The incident tasks: everything that touches Redis, Slack or PagerDuty runs here, on a worker.

Tasks are delivered at least once. Each one that changes the outside world records its result
in Redis under its idempotency key (``once``) before returning, so a redelivered task returns
the recorded result; and each outside effect inside it (a post, the channel, a page, an issue)
keeps its own record and is looked up before it is made again (``effects``), so a task whose
worker died midway does not post, page or create anything twice when it runs again. When Slack
or PagerDuty is not configured the result says so in words the process puts in the thread;
nothing pretends to have happened.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from engine import TaskContext, task
from engine.failpoints import failpoint
from engine.mrkdwn import escape
from integrations.pagerduty import PagerDuty, PagerDutyError, PagerDutySettings
from integrations.slack import NOT_A_MEMBER, SlackProblem, SlackSettings, WorkerSlack
from processes.incident.effects import channel_once, pagerduty_once, post_once
from processes.incident.issues import IssueError, IssueSettings, create_issue
from processes.incident.models import (
    BeginArgs,
    ChannelResult,
    IncidentStart,
    InviteArgs,
    IssueArgs,
    IssueResult,
    OpenChannelArgs,
    PageArgs,
    PageResult,
    PagerEventArgs,
    PagerEventResult,
    PinArgs,
    PostArgs,
    PostResult,
    StatsRecord,
)
from processes.incident.policy import SEVERITIES, IncidentSettings, cadence_seconds
from processes.incident.store import allocate_id, remember, save_stats
from processes.incident.timeline import Entry

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
NO_SLACK = "Slack is not configured on the worker (SLACK_BOT_TOKEN)"


async def once(tctx: TaskContext, model: type[M], work: Callable[[], Awaitable[M]]) -> M:
    """Run ``work`` once per idempotency key; a redelivery gets the first result back."""
    return model.model_validate(await remember(tctx.redis, tctx.idempotency_key,
                                               lambda: _dump(work)))


async def _dump(work: Callable[[], Awaitable[BaseModel]]) -> dict[str, Any]:
    return (await work()).model_dump(mode="json")


@task(name="incident.begin_incident", aliases=["processes._incident.tasks.begin_incident"], retries=2, backoff=0.2)
async def begin_incident(args: BeginArgs, tctx: TaskContext) -> IncidentStart:
    """Allocate ``INC-<yyyymmdd>-<n>`` and record the policy settings in force for this incident."""
    settings = IncidentSettings()
    now = datetime.now(UTC)
    incident_id = await allocate_id(tctx.redis, tctx.idempotency_key, now)
    pd = PagerDutySettings()
    issues = IssueSettings()
    return IncidentStart(
        incident_id=incident_id, declared_at=now, cadence_seconds=cadence_seconds(args.severity, settings),
        oncall_group=settings.oncall_group, exec_channel=settings.exec_channel, responders=settings.responders,
        channel_prefix=settings.channel_prefix, max_updates=settings.max_updates,
        review_rounds=settings.review_rounds, max_action_items=settings.max_action_items,
        slack_configured=SlackSettings().configured, pagerduty_configured=pd.events_configured,
        oncall_lookup_configured=pd.oncall_configured and bool(pd.escalation_policy),
        github_repo=issues.repo if issues.configured else None,
    )


@task(name="incident.open_channel", aliases=["processes._incident.tasks.open_channel"], retries=2, backoff=0.5)
async def open_channel(args: OpenChannelArgs, tctx: TaskContext) -> ChannelResult:
    """Create the incident channel (or fall back to the current one), set its topic, invite people."""

    async def work() -> ChannelResult:
        slack = WorkerSlack.maybe()
        if slack is None:
            return ChannelResult(channel=None, slack_configured=False, reason=NO_SLACK)
        key = tctx.idempotency_key
        outcome = await channel_once(tctx.redis, slack, f"{key}:channel", args.name, marker=args.incident_id)
        channel = outcome.channel if outcome.created else args.fallback
        result = ChannelResult(channel=channel, name=outcome.name, created=outcome.created, reason=outcome.reason)
        if channel is None:
            return result
        try:
            if outcome.created:  # the same topic again on a redelivery changes nothing
                await slack.set_topic(channel, args.topic)
                failpoint("incident.topic_set")
            result.invited, result.invite_problems = await slack.invite(channel, args.invite)
            failpoint("incident.invited")
            await post_once(tctx.redis, slack, f"{key}:announce", channel, args.announce)
        except SlackProblem as exc:  # the incident goes on; the thread says what Slack refused
            result.problems.append(f"{exc.method}: {exc.code}")
        return result

    return await once(tctx, ChannelResult, work)


PAGE_RETRIES = 3


@task(name="incident.page_oncall", aliases=["processes._incident.tasks.page_oncall"], retries=PAGE_RETRIES, backoff=1.0)
async def page_oncall(args: PageArgs, tctx: TaskContext) -> PageResult:
    """Page on-call: PagerDuty (dedup key = incident id) where configured, else the on-call group.

    A PagerDuty failure that retrying cannot fix (a 4xx, or the last attempt) falls back to the
    on-call group and says what PagerDuty answered: an incident must not stop because paging failed.
    """

    async def work() -> PageResult:
        pd = PagerDuty()
        slack = WorkerSlack.maybe()
        result: PageResult | None = None
        why = "PagerDuty is not configured (PAGERDUTY_ROUTING_KEY)"
        if pd.settings.events_configured:
            try:
                result = await _trigger(pd, args, slack, tctx)
            except PagerDutyError as exc:
                permanent = exc.status is not None and 400 <= exc.status < 500 and exc.status != 429
                if not permanent and tctx.attempt <= PAGE_RETRIES:
                    raise  # the worker retries with backoff
                why = f"PagerDuty failed: {exc}"
        if result is None and args.oncall_group and slack is not None and args.channel:
            result = await _ping_group(args, slack, tctx, why)
        elif result is None:
            missing = "PAGERDUTY_ROUTING_KEY or SHEPHERD_INCIDENT_ONCALL_GROUP"
            if args.oncall_group and slack is None:
                missing = "SLACK_BOT_TOKEN (to mention the on-call group) or PAGERDUTY_ROUTING_KEY"
            prefix = f"{why}. " if pd.settings.events_configured else ""
            result = PageResult(via="none", detail=f"{prefix}Nobody was paged: set {missing}. "
                                                   "Page on-call yourself now.")
        if args.exec_notice:
            result.exec_notice = await _exec_notice(args, slack, tctx)
        return result

    return await once(tctx, PageResult, work)


async def _ping_group(args: PageArgs, slack: WorkerSlack, tctx: TaskContext, why: str) -> PageResult:
    """Mention the on-call group in the incident channel, once per step however often the task runs."""
    group = f"<!subteam^{args.oncall_group}>"
    try:
        await post_once(tctx.redis, slack, f"{tctx.idempotency_key}:ping", str(args.channel),
                        f"{group} {args.severity.value} declared: {escape(args.summary)} — please join.")
    except SlackProblem as exc:
        if exc.code not in NOT_A_MEMBER:
            raise  # transient: the worker retries, and the ping is still sent only once
        return PageResult(via="none", detail=f"{why}; the on-call group {group} could not be mentioned in "
                                             f"<#{args.channel}> ({_not_a_member(exc, str(args.channel))}). "
                                             "Page on-call yourself now.")
    return PageResult(via="usergroup", detail=f"{why}; paged the on-call group {group}")


async def _trigger(pd: PagerDuty, args: PageArgs, slack: WorkerSlack | None, tctx: TaskContext) -> PageResult:
    policy = SEVERITIES[args.severity]
    await pagerduty_once(tctx.redis, pd, f"{tctx.idempotency_key}:trigger", "trigger", args.incident_id,
                         summary=args.summary, source=args.source,
                         severity=policy.pagerduty_severity,
                         custom_details={"incident": args.incident_id, "severity": args.severity.value,
                                         "slack_channel": args.channel or ""})
    result = PageResult(via="pagerduty", dedup_key=args.incident_id,
                        detail=f"PagerDuty triggered (dedup key {args.incident_id})")
    result.oncall, note = await _oncall_people(pd, slack)
    if note:
        result.detail += f"; {note}"
    return result


async def _oncall_people(pd: PagerDuty, slack: WorkerSlack | None) -> tuple[list[str], str]:
    """Slack ids of the people on call (matched by e-mail), and a note on what could not be done."""
    if not (pd.settings.oncall_configured and pd.settings.escalation_policy):
        return [], ""
    try:
        people = await pd.oncalls()
    except PagerDutyError as exc:
        return [], f"on-call lookup failed: {exc}"
    if slack is None:
        return [], f"on call: {', '.join(p.name for p in people)} (Slack not configured, not invited)"
    found: list[str] = []
    unmatched: list[str] = []
    for person in people:
        user = await slack.user_by_email(person.email) if person.email else None
        if user:
            found.append(user)
        else:
            unmatched.append(person.name)
    note = f"on call: {', '.join(f'<@{u}>' for u in found) or 'nobody found'}"
    if unmatched:
        note += f" (no Slack account for {', '.join(unmatched)})"
    return found, note


def _not_a_member(exc: SlackProblem, channel: str) -> str:
    return f"Slack: {exc.code} — invite @shepherd to <#{channel}>"


async def _exec_notice(args: PageArgs, slack: WorkerSlack | None, tctx: TaskContext) -> str:
    """The SEV-1 notice to leadership. A channel the bot cannot post in is said plainly, never retried:
    inviting the bot is the fix, and the page must not fail (or repeat) over it."""
    if not args.exec_channel:
        return "No exec channel is configured (SHEPHERD_INCIDENT_EXEC_CHANNEL): tell leadership yourself."
    if slack is None:
        return f"{NO_SLACK}: tell leadership yourself."
    where = f" in <#{args.channel}>" if args.channel else ""
    try:
        ts = await post_once(tctx.redis, slack, f"{tctx.idempotency_key}:exec", args.exec_channel,
                             f"🚨 {args.severity.value} {args.incident_id}: {escape(args.summary)}. "
                             f"Response under way{where}.")
    except SlackProblem as exc:
        if exc.code in NOT_A_MEMBER:
            return (f"⚠️ The executive notice could not be posted in <#{args.exec_channel}> "
                    f"({_not_a_member(exc, args.exec_channel)}): tell leadership yourself.")
        return (f"⚠️ The executive notice could not be posted in <#{args.exec_channel}> ({exc.method}: {exc.code}): "
                "tell leadership yourself.")
    if not ts:
        return (f"⚠️ The executive notice to <#{args.exec_channel}> may not have been posted (the worker restarted "
                "while posting it and the bot cannot read that channel): check it, or tell leadership yourself.")
    return f"Executive notice posted in <#{args.exec_channel}>"


EVENT_RETRIES = 3


@task(name="incident.pagerduty_event", aliases=["processes._incident.tasks.pagerduty_event"],
      retries=EVENT_RETRIES, backoff=1.0)
async def pagerduty_event(args: PagerEventArgs, tctx: TaskContext) -> PagerEventResult:
    """Acknowledge or resolve the PagerDuty incident opened with ``dedup_key``.

    Only the page may hold an incident up: when PagerDuty refuses (a 4xx) or keeps failing (the last
    attempt) the result says so, for the thread, and the incident goes on."""
    pd = PagerDuty()
    if not pd.settings.events_configured:
        return PagerEventResult(sent=False, detail="PagerDuty is not configured (PAGERDUTY_ROUTING_KEY); "
                                                   f"nothing to {args.action}")
    if args.action not in ("acknowledge", "resolve"):
        raise ValueError(f"pagerduty_event: unknown action {args.action!r}")

    async def work() -> PagerEventResult:
        try:
            sent = await pagerduty_once(tctx.redis, pd, f"{tctx.idempotency_key}:{args.action}",
                                        args.action, args.dedup_key)  # type: ignore[arg-type]
        except PagerDutyError as exc:
            permanent = exc.status is not None and 400 <= exc.status < 500 and exc.status != 429
            if not permanent and tctx.attempt <= EVENT_RETRIES:
                raise  # the worker retries with backoff
            return PagerEventResult(sent=False, detail=f"⚠️ PagerDuty {args.action} failed: {exc}. "
                                                       f"{args.action.capitalize()} incident {args.dedup_key} "
                                                       "in PagerDuty yourself; the response goes on.")
        return PagerEventResult(sent=True, detail=f"PagerDuty {args.action} sent for {sent}")

    return await once(tctx, PagerEventResult, work)


@task(name="incident.post_message", aliases=["processes._incident.tasks.post_message"], retries=2, backoff=0.5)
async def post_message(args: PostArgs, tctx: TaskContext) -> PostResult:
    """Post to the incident channel (once per step, even when redelivered)."""

    async def work() -> PostResult:
        slack = WorkerSlack.maybe()
        if slack is None:
            return PostResult(posted=False, detail=f"{NO_SLACK}: not posted to a channel")
        if not args.channel:
            return PostResult(posted=False, detail="no incident channel: not posted")
        try:
            if args.topic:
                await slack.set_topic(args.channel, args.topic)
                failpoint("incident.topic_set")
            ts = await post_once(tctx.redis, slack, f"{tctx.idempotency_key}:post", args.channel, args.text)
        except SlackProblem as exc:
            return PostResult(posted=False, error=f"{exc.method}: {exc.code}",
                              detail=f"Slack refused to post in <#{args.channel}> ({exc.method}: {exc.code})")
        if not ts:
            return PostResult(posted=False, detail=f"may not have been posted in <#{args.channel}> (the worker "
                                                   "restarted mid-post and the channel could not be read back)")
        return PostResult(posted=True, ts=ts, detail=f"posted in <#{args.channel}>")

    return await once(tctx, PostResult, work)


@task(name="incident.invite_people", aliases=["processes._incident.tasks.invite_people"], retries=2, backoff=0.5)
async def invite_people(args: InviteArgs, tctx: TaskContext) -> dict[str, Any]:
    """Invite role holders to the incident channel (members already in are fine)."""
    slack = WorkerSlack.maybe()
    if slack is None or not args.channel:
        return {"invited": [], "problems": {}, "detail": NO_SLACK if slack is None else "no channel"}
    invited, problems = await slack.invite(args.channel, args.users)  # members already in are fine: idempotent
    failpoint("incident.invited")
    return {"invited": invited, "problems": problems, "detail": ""}


@task(name="incident.pinned_messages", aliases=["processes._incident.tasks.pinned_messages"], retries=2, backoff=0.5)
async def pinned_messages(args: PinArgs) -> list[Entry]:
    """Channel messages marked with :pushpin: since the incident began, as timeline entries."""
    slack = WorkerSlack.maybe()
    if slack is None or not args.channel:
        return []
    try:
        pins = await slack.pinned(args.channel, args.since.timestamp())
    except SlackProblem as exc:
        log.warning("could not read pinned messages of %s: %s", args.channel, exc)
        return [Entry(at=datetime.now(UTC), text=f"could not read :pushpin: messages ({exc.code})", source="run")]
    return [Entry(at=datetime.fromtimestamp(float(p.ts), UTC),
                  text=(f"<@{p.user}>: " if p.user else "") + p.text[:500], source="pin") for p in pins]


@task(name="incident.record_stats", aliases=["processes._incident.tasks.record_stats"], retries=2, backoff=0.2)
async def record_stats(record: StatsRecord, tctx: TaskContext) -> str:
    """Keep the incident's durations for ``/run incident-stats`` (idempotent: keyed by incident id)."""
    await save_stats(tctx.redis, json.loads(record.model_dump_json()))
    return record.incident_id


@task(name="incident.file_issue", aliases=["processes._incident.tasks.file_issue"], retries=2, backoff=1.0)
async def file_issue(args: IssueArgs, tctx: TaskContext) -> IssueResult:
    """One action item as a GitHub issue (filed once, even when the task is delivered again)."""

    async def work() -> IssueResult:
        item = args.item
        body = (f"Action item {args.number} from incident {args.incident_id}.\n\n"
                f"- Owner (Slack): <@{item.owner}>\n- Due: {item.due.isoformat()}\n")
        try:
            issue = await create_issue(IssueSettings(), f"[{args.incident_id}] {item.title}", body,
                                       key=tctx.idempotency_key)
        except IssueError as exc:
            return IssueResult(filed=False, detail=f"⚠️ Action item {args.number} not filed: {exc}")
        return IssueResult(filed=True, url=issue.url, detail=f"Action item {args.number} filed: {issue.url}")

    return await once(tctx, IssueResult, work)
