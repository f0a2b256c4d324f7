"""``incident-response``: declare an incident and drive it to resolution and a reviewed postmortem.

The code reads like the runbook; the policy (who is paged, how often updates are due) is data
in ``processes.incident.policy`` and the environment; helpers live in ``processes.incident``.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

from engine import Approvers, Context, Decision, process
from engine.mrkdwn import escape, mention
from processes.incident.cancel import release_incident
from processes.incident.models import (
    USER,
    ActionItem,
    ActionItemForm,
    ActionItemOutcome,
    BeginArgs,
    ChannelResult,
    IncidentOutcome,
    InviteArgs,
    IssueArgs,
    OpenChannelArgs,
    PageArgs,
    PagerEventArgs,
    PinArgs,
    PostArgs,
    PostmortemInput,
    PostmortemOutcome,
    RolesForm,
    StatsRecord,
    StatusUpdate,
)
from processes.incident.policy import ROLES, SEVERITIES, Severity
from processes.incident.postmortem import PostmortemFacts, render
from processes.incident.tasks import (
    begin_incident,
    file_issue,
    invite_people,
    open_channel,
    page_oncall,
    pagerduty_event,
    pinned_messages,
    post_message,
    record_stats,
)
from processes.incident.timeline import Timeline, durations, human

_MENTION = re.compile(r"^<@([A-Z0-9]+)(?:\|[^>]*)?>$")


class IncidentInputs(BaseModel):
    severity: Severity = Field(description="SEV-1 (critical) to SEV-4 (low); sets paging and update cadence")
    title: str | None = Field(default=None, max_length=120,
                              description="What is wrong, in a few words (names the channel; default from service)")
    service: str | None = Field(default=None, max_length=80, description="The affected service")
    commander: str | None = Field(default=None, description="Incident commander, if already known",
                                  json_schema_extra=USER)
    customer_facing: bool = Field(default=False, description="Customers are affected: a postmortem is required")

    @field_validator("commander")
    @classmethod
    def _user_id(cls, value: str | None) -> str | None:
        """Accept a Slack mention (``<@U123>``) as well as a bare user id."""
        if value is None:
            return None
        match = _MENTION.match(value.strip())
        return match[1] if match else value.strip().lstrip("@") or None


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:40].rstrip("-") or "incident"


def _who(user: str | None) -> str:
    """A person's mention: only a well-formed user id becomes one (``engine.mrkdwn.mention``)."""
    return mention(user) if user else "—"


@process("incident-response", title="Incident response", inputs=IncidentInputs, positional=["severity"],
         outputs=IncidentOutcome, on_cancel=release_incident)
async def incident_response(inputs: IncidentInputs, ctx: Context) -> IncidentOutcome:
    """Declare an incident and drive it to resolution and a reviewed postmortem.

    Allocates an incident id (`INC-<yyyymmdd>-<n>`, from a Redis counter), creates
    `#inc-<yyyymmdd>-<slug>` (adding `-2`, `-3` ... when the name is taken), sets its topic and
    invites the requester, the commander and SHEPHERD_INCIDENT_RESPONDERS. Where channel creation
    is not allowed, the incident continues in the channel the run was started from, and the
    thread says so. At the same time it pages on-call and asks for the roles. Paging: PagerDuty
    Events v2 with the incident id as dedup key (PAGERDUTY_ROUTING_KEY); the people on call
    (PAGERDUTY_API_TOKEN and PAGERDUTY_ESCALATION_POLICY) are matched to Slack users by e-mail
    and invited. Without PagerDuty, or when it refuses, the on-call user group
    (SHEPHERD_INCIDENT_ONCALL_GROUP) is mentioned; with neither, the thread says nobody was
    paged. SEV-1 also posts an executive notice (SHEPHERD_INCIDENT_EXEC_CHANNEL: a public channel
    needs no invitation; where Slack refuses, e.g. a private channel without the bot, the thread
    says to invite it, and the page goes on).

    Policy is data (`processes/incident/policy.py`): SEV-1 pages, notifies execs and wants an
    update every 15 min; SEV-2 pages, every 30 min; SEV-3 every 60 min; SEV-4 no cadence. SEV-1/2
    and customer-facing incidents get a postmortem. SHEPHERD_INCIDENT_CADENCE_SECONDS or
    SHEPHERD_INCIDENT_CADENCE_SCALE change every cadence (drills, tests).

    Asks people: the requester (or the given commander) assigns the roles: commander, tech lead,
    comms lead, scribe. The commander is asked for a status update at the severity's cadence (a
    durable timer); each is posted to the incident channel and kept in the timeline, until they
    tick "mitigated". The commander then approves the "mitigated" gate (a rejection resumes the
    updates) and the "resolve" gate (a rejection asks again). For a postmortem the commander
    gives summary, impact, root cause, what went well and badly, and the action items (owner and
    due date each); the document is reviewed at a four-eyes gate (anyone but the requester), and
    a rejection asks the commander for a revision with the reviewer's comment, at most
    SHEPHERD_INCIDENT_REVIEW_ROUNDS times.

    Cancelling the run (declared by mistake, a duplicate) resolves its PagerDuty page, even one
    still being triggered, and says so in the incident channel.

    PagerDuty failing to acknowledge or resolve (after retries) is said in the thread and the
    incident goes on; only the page itself may hold it up. On resolution PagerDuty is resolved,
    and the time to acknowledge (roles assigned), mitigate and resolve, all from the declaration,
    are recorded for `incident-stats`. Action items
    become GitHub issues where GITHUB_TOKEN and SHEPHERD_INCIDENT_GITHUB_REPO are set; otherwise
    they are kept in the outputs and the thread says so. Without SLACK_BOT_TOKEN on the worker
    (e.g. from the terminal) the Slack steps say they were skipped. Produces: the incident
    channel and its updates (each posted once, as is every other outside effect, even when a worker
    dies in the middle of a step), the timeline (with the channel's :pushpin: messages) and the
    postmortem (markdown).
    """
    policy = SEVERITIES[inputs.severity]
    sev = inputs.severity.value
    title = (inputs.title or "").strip() or f"{inputs.service or 'service'} {sev.lower()} incident"
    lead = inputs.commander or ctx.requester
    shown = escape(title)  # what people typed, for Slack: the title and service ping nobody, link nowhere
    service = escape(inputs.service or "")

    # -- declare ----------------------------------------------------------------------------
    start = await ctx.task(begin_incident, BeginArgs(severity=inputs.severity, title=title))
    inc = start.incident_id
    timeline = Timeline()
    timeline.add(start.declared_at, f"{sev} declared by {_who(ctx.requester)}: {title}")
    ctx.note(f"🚨 *{inc}* declared — {sev} ({policy.meaning}): {shown}")

    # -- the incident channel -------------------------------------------------------------------
    day = inc.split("-")[1]
    channel = await ctx.task(open_channel, OpenChannelArgs(
        incident_id=inc, name=f"{start.channel_prefix}-{day}-{_slug(title)}",
        topic=f"{sev} {inc}: {shown} | commander: {_who(inputs.commander)} | status: investigating",
        fallback=ctx.channel, invite=[ctx.requester, *([inputs.commander] if inputs.commander else []),
                                      *start.responders],
        announce=f"🚨 *{inc}* — {sev} declared by {_who(ctx.requester)}: {shown}"
                 + (f" (service {service})" if inputs.service else "")))
    where = channel.channel
    ctx.note(_channel_note(channel, ctx.channel))
    timeline.add(ctx.now(), _channel_note(channel, ctx.channel))

    # -- page on-call and assign roles, at the same time --------------------------------------------
    roles_question = ctx.ask(f"{inc}: who takes which role?", RolesForm, assignees=Approvers(users=[lead]))
    page = None
    if policy.page:
        page, roles = await ctx.parallel(ctx.task(page_oncall, PageArgs(
            incident_id=inc, severity=inputs.severity, summary=f"{inc} {sev}: {title}",
            source=inputs.service or "shepherd", channel=where, oncall_group=start.oncall_group,
            exec_channel=start.exec_channel, exec_notice=policy.exec_notice)), roles_question)
        ctx.note(("📟 " if page.via != "none" else "⚠️ ") + page.detail)
        timeline.add(ctx.now(), page.detail)
        if page.exec_notice:
            ctx.note(page.exec_notice)
    else:
        roles = await roles_question
        ctx.note(f"{sev}: no page (policy)")
    acknowledged_at = ctx.now(key="acknowledged")
    commander = roles.commander
    roles_text = ", ".join(f"{label} {_who(getattr(roles, field))}" for field, label in ROLES.items())
    timeline.add(acknowledged_at, f"Roles assigned: {roles_text}")
    ctx.note(f"Roles: {roles_text}")
    if page is not None and page.via == "pagerduty":
        acked = await ctx.task(pagerduty_event, PagerEventArgs(action="acknowledge", dedup_key=inc))
        ctx.note(acked.detail)
    role_people = [getattr(roles, f) for f in ROLES if getattr(roles, f)]
    await ctx.task(invite_people, InviteArgs(channel=where, users=[*role_people, *(page.oncall if page else [])]))
    topic = f"{sev} {inc}: {shown} | commander: {_who(commander)} | status: "
    await _post(ctx, PostArgs(channel=where, text=f"*{inc}* roles: {roles_text}",
                              topic=topic + "investigating" if channel.created else None))

    # -- status updates on the cadence, until mitigated ------------------------------------------
    mitigated, updates = await _until_mitigated(ctx, inc, commander, where, start.cadence_seconds,
                                                start.max_updates, timeline)
    mitigated_at = mitigated.at
    timeline.add(mitigated_at, f"Mitigated (approved by {_who(mitigated.by)})")
    await _post(ctx, PostArgs(channel=where, text=f"✅ *{inc}* mitigated at {mitigated_at:%H:%M} UTC",
                              topic=topic + "mitigated" if channel.created else None))

    # -- resolve ------------------------------------------------------------------------------
    resolved = await _gate_until_approved(ctx, f"{inc}: resolve the incident?", "resolve", commander,
                                          start.max_updates, timeline,
                                          facts={"incident": inc, "mitigated": f"{mitigated_at:%H:%M} UTC"})
    resolved_at = resolved.at
    timeline.add(resolved_at, f"Resolved (approved by {_who(resolved.by)})")
    if page is not None and page.via == "pagerduty":
        sent = await ctx.task(pagerduty_event, PagerEventArgs(action="resolve", dedup_key=inc))
        ctx.note(sent.detail)
        timeline.add(ctx.now(), sent.detail)
    spans = durations(start.declared_at, acknowledged_at, mitigated_at, resolved_at)
    await ctx.task(record_stats, StatsRecord(
        incident_id=inc, severity=inputs.severity, title=title, declared_at=start.declared_at,
        acknowledged_at=acknowledged_at, mitigated_at=mitigated_at, resolved_at=resolved_at,
        tta=spans.tta, ttm=spans.ttm, ttr=spans.ttr, customer_facing=inputs.customer_facing))
    summary = f"TTA {human(spans.tta)}, TTM {human(spans.ttm)}, TTR {human(spans.ttr)}"
    ctx.note(f"Resolved. {summary}")
    await _post(ctx, PostArgs(channel=where, text=f"🟢 *{inc}* resolved. {summary}",
                              topic=topic + "resolved" if channel.created else None))

    # -- the timeline, with the channel's :pushpin: messages ----------------------------------------
    timeline.extend(await ctx.task(pinned_messages, PinArgs(channel=where, since=start.declared_at)))
    ctx.artifact(f"{inc}-timeline.md", timeline.document(inc))

    outputs = IncidentOutcome(incident=inc, severity=inputs.severity, title=title, channel=where,
                              channel_created=channel.created, paged=page.via if page else "not required",
                              roles=roles, durations=spans, updates=updates)
    if not (policy.postmortem or inputs.customer_facing):
        ctx.note(f"{sev}: no postmortem required")
        return outputs

    # -- postmortem, reviewed with four eyes -----------------------------------------------------------
    people = await ctx.ask(f"{inc}: postmortem details", PostmortemInput, assignees=Approvers(users=[commander]))
    actions = await _action_items(ctx, inc, commander, start.max_action_items)
    facts = PostmortemFacts(
        incident_id=inc, title=title, severity=inputs.severity, service=inputs.service,
        customer_facing=inputs.customer_facing, declared_at=start.declared_at, acknowledged_at=acknowledged_at,
        mitigated_at=mitigated_at, resolved_at=resolved_at, durations=spans, roles=roles,
        timeline=timeline.sorted(), actions=actions)
    approved = None
    for revision in range(1, start.review_rounds + 2):
        facts.revision = revision
        doc = ctx.artifact(f"{inc}-postmortem-r{revision}.md", render(facts, people), mime="text/markdown",
                           key=f"postmortem-{revision}")
        review = await ctx.breakpoint(f"Review the postmortem of {inc} (revision {revision})",
                                      facts={"document": doc.name, "TTA": human(spans.tta),
                                             "TTM": human(spans.ttm), "TTR": human(spans.ttr),
                                             "action items": len(actions)},
                                      four_eyes=True, key=f"review-{revision}")
        if review.approved:
            approved = review
            ctx.note(f"Postmortem approved by {_who(review.by)}", key=f"review-{revision}-ok")
            outputs.postmortem = PostmortemOutcome(approved=True, artifact=doc.name, revision=revision,
                                                   approved_by=review.by)
            break
        ctx.note(f"Postmortem revision {revision} rejected by {_who(review.by)}: "
                 f"{escape(review.comment or 'no comment')}", key=f"review-{revision}-no")
        if revision > start.review_rounds:
            break
        facts.review_comment = review.comment or "(rejected without a comment)"
        people = await ctx.ask(f"{inc}: revise the postmortem — reviewer said: {review.comment or 'no comment'}",
                               PostmortemInput, assignees=Approvers(users=[commander]), key=f"revise-{revision}")
    if approved is None:
        ctx.note(f"⚠️ The postmortem of {inc} was not approved after {start.review_rounds + 1} reviews: the last "
                 "draft stays attached, unapproved; its review must be finished outside this run.")
        outputs.postmortem = PostmortemOutcome(approved=False, artifact=doc.name, revision=revision)

    # -- action items ------------------------------------------------------------------------------------
    outputs.action_items = [ActionItemOutcome(**a.model_dump()) for a in actions]
    if actions:
        listing = "; ".join(f"{escape(a.title)} ({_who(a.owner)}, due {a.due.isoformat()})" for a in actions)
        if start.github_repo:
            for n, item in enumerate(actions, 1):
                filed = await ctx.task(file_issue, IssueArgs(incident_id=inc, item=item, number=n), key=f"issue-{n}")
                ctx.note(filed.detail, key=f"issue-{n}-note")
                outputs.action_items[n - 1].issue = filed.url
        else:
            ctx.note(f"GitHub issues are not configured (GITHUB_TOKEN, SHEPHERD_INCIDENT_GITHUB_REPO): "
                     f"{len(actions)} action item(s) are recorded in this run's outputs and the postmortem — {listing}")
        await _post(ctx, PostArgs(channel=where, text=f"*{inc}* action items: {listing}"))
    else:
        ctx.note("No action items were recorded.")
    return outputs


async def _post(ctx: Context, args: PostArgs, key: str | None = None) -> None:
    """Post to the incident channel; if Slack refuses, the thread says so and the response goes on."""
    result = await ctx.task(post_message, args, key=key)
    if result.error:
        ctx.note(f"⚠️ {result.detail}", key=f"{key}-refused" if key else None)


def _channel_note(channel: ChannelResult, current: str | None) -> str:
    if not channel.slack_configured:
        return (f"⚠️ {channel.reason}: no incident channel was created and nothing is posted to Slack; "
                "create the channel yourself and share this run's updates there.")
    invited = f", invited {', '.join(_who(u) for u in channel.invited)}" if channel.invited else ""
    refused = [f"invite {_who(u)}: {why}" for u, why in channel.invite_problems.items()] + channel.problems
    problems = f" (Slack refused: {'; '.join(refused)})" if refused else ""
    if channel.created:
        return f"Incident channel <#{channel.channel}> (#{channel.name}) created, topic set{invited}{problems}"
    if channel.channel:
        return (f"⚠️ Could not create an incident channel (Slack: {channel.reason}): the incident continues "
                f"in this channel <#{channel.channel}>{invited}{problems}")
    return (f"⚠️ Could not create an incident channel (Slack: {channel.reason}) and this run has no channel: "
            "updates are kept in the run's timeline only.")


async def _until_mitigated(ctx: Context, inc: str, commander: str, where: str | None, cadence: float | None,
                           bound: int, timeline: Timeline) -> tuple[Decision, int]:
    """Ask the commander for an update every ``cadence`` seconds until they tick "mitigated", then
    put the "mitigated" gate to them; a rejected gate resumes the updates (at most ``bound`` times)."""
    updates = 0
    for attempt in range(1, bound + 1):
        while cadence and updates < bound:
            updates += 1
            await ctx.sleep(cadence, key=f"cadence-{updates}")
            update = await ctx.ask(f"{inc}: status update #{updates}", StatusUpdate,
                                   assignees=Approvers(users=[commander]), key=f"update-{updates}")
            at = ctx.now(key=f"update-{updates}-at")
            text = update.status + (f" — next: {update.next_update}" if update.next_update else "")
            timeline.add(at, f"{_who(commander)}: {text}" + (" (mitigated)" if update.mitigated else ""), "update")
            await _post(ctx, PostArgs(channel=where, text=f"📣 *{inc}* update #{updates}: {escape(text)}"),
                        key=f"update-{updates}-post")
            if update.mitigated:
                break
        decision = await ctx.breakpoint(f"{inc}: is the impact mitigated?", approvers=Approvers(users=[commander]),
                                        facts={"incident": inc, "updates": updates}, key=f"mitigated-{attempt}")
        if decision.approved:
            return decision, updates
        ctx.note(f"Not mitigated yet ({_who(decision.by)}: {escape(decision.comment or 'no comment')}); "
                 "status updates continue", key=f"mitigated-{attempt}-no")
        timeline.add(decision.at, f"Mitigation not confirmed: {decision.comment or 'no comment'}")
    raise RuntimeError(f"{inc} was not mitigated after {bound} rounds; the run stops (the incident stays open)")


async def _gate_until_approved(ctx: Context, title: str, key: str, commander: str, bound: int,
                               timeline: Timeline, facts: dict) -> Decision:
    """Put a gate to the commander until approved; each rejection is noted and the gate asked again."""
    for attempt in range(1, bound + 1):
        decision = await ctx.breakpoint(title, approvers=Approvers(users=[commander]), facts=facts,
                                        key=f"{key}-{attempt}")
        if decision.approved:
            return decision
        ctx.note(f"Not resolved yet ({_who(decision.by)}: {escape(decision.comment or 'no comment')})",
                 key=f"{key}-{attempt}-no")
        timeline.add(decision.at, f"Resolution refused: {decision.comment or 'no comment'}")
    raise RuntimeError(f"'{title}' was refused {bound} times; the run stops (the incident stays open)")


async def _action_items(ctx: Context, inc: str, commander: str, bound: int) -> list[ActionItem]:
    """Follow-up actions, one form each, with an owner and a due date."""
    items: list[ActionItem] = []
    for n in range(1, bound + 1):
        answer = await ctx.ask(f"{inc}: action item #{n} (leave the title empty if there are none)",
                               ActionItemForm, assignees=Approvers(users=[commander]), key=f"action-{n}")
        if answer.title and answer.owner and answer.due:
            items.append(ActionItem(title=answer.title, owner=answer.owner, due=answer.due))
        if not (answer.title and answer.another):
            break
    return items

