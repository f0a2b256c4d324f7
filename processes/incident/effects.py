"""Each outside effect of an incident task happens once, even when the worker dies mid-task.

A task's result is recorded (``tasks.once``) only after its body returns, so a worker killed
after a Slack post, a channel, a page or an issue, but before that record, has the task
delivered again. Every effect therefore keeps its own record, named by the task's idempotency
key and the effect's part (``announce``, ``ping`` ...), and the moment between the call and its
record is covered the way the bot covers its own posts (``bot.ledger``): an intent is written
first; a delivery that finds an intent but no record looks in the outside world first:

- a Slack post carries metadata with its key and is looked up in the channel's history;
- a channel is looked up by the name it was being created with, its creator and its topic;
- a GitHub issue carries a marker in its body and is looked up among the repository's issues;
- a PagerDuty event: the incident's status is read back (REST API) where a token is set.

A failpoint (``engine.failpoints``) sits right after each call, so the kill matrix can stop a
worker exactly there (``SHEPHERD_FAILPOINTS=incident.posted:2``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from engine.failpoints import failpoint
from integrations.pagerduty import EventAction, PagerDuty, PagerDutyError
from integrations.slack import ChannelOutcome, SlackProblem, WorkerSlack
from integrations.slack_metadata import metadata
from processes.incident.store import KEEP
from state import keys

log = logging.getLogger(__name__)

POST = "shepherd_incident_post"
"""The metadata ``event_type`` of every worker post; its payload's ``key`` is the effect's key."""

FAILPOINTS = ("incident.channel_created", "incident.topic_set", "incident.invited", "incident.posted",
              "incident.pagerduty_sent", "incident.issue_filed")
"""Where the kill matrix can stop a worker: right after each kind of outside call (tests/processes/
test_incident_kill_matrix.py kills at every one, at each place the run reaches it)."""


def _record(key: str) -> str:
    return keys.incident_effect(key)


def _intent(key: str) -> str:
    return keys.incident_intent(key)


async def recorded(redis: Any, key: str) -> dict[str, Any] | None:
    """What an effect did, once it is known to have happened."""
    raw = await redis.get(_record(key)) if redis is not None else None
    return dict(json.loads(raw)) if raw else None


async def intended(redis: Any, key: str) -> bool:
    """Whether an earlier delivery was about to make (or made) this effect."""
    return bool(redis is not None and await redis.exists(_intent(key)))


async def intend(redis: Any, key: str, detail: str = "") -> None:
    if redis is not None:
        await redis.set(_intent(key), detail or "1", ex=KEEP)


async def record(redis: Any, key: str, value: dict[str, Any]) -> None:
    if redis is None:
        return
    pipe = redis.pipeline(transaction=True)
    pipe.set(_record(key), json.dumps(value), ex=KEEP)
    pipe.delete(_intent(key))
    await pipe.execute()


async def post_once(redis: Any, slack: WorkerSlack, key: str, channel: str, text: str) -> str:
    """Post ``text`` in ``channel`` once per ``key``; returns the message's ts (SlackProblem on refusal).

    The lookup reads the channel's recent history. Where the bot may post but not read (a public
    channel it was not invited to, through ``chat:write.public``) a post that cannot be verified is
    not repeated either: the result is then ``""``, and the caller says the post may be missing."""
    done = await recorded(redis, key)
    if done:
        return str(done["ts"])
    if await intended(redis, key):
        try:
            found = await slack.find_posted(channel, POST, key=key)
        except SlackProblem as exc:
            log.warning("cannot check whether %s was posted in %s (%s): not posting it again", key, channel, exc.code)
            await record(redis, key, {"ts": "", "unverified": exc.code})
            return ""
        if found:
            await record(redis, key, {"ts": found})
            return found
    await intend(redis, key, channel)
    ts = await slack.post(channel, text, metadata=metadata(POST, key=key))
    failpoint("incident.posted")
    await record(redis, key, {"ts": ts})
    return ts


async def channel_once(redis: Any, slack: WorkerSlack, key: str, base: str, marker: str) -> ChannelOutcome:
    """Create the incident channel once per ``key``: a redelivery finds the one it made."""
    done = await recorded(redis, key)
    if done:
        return ChannelOutcome.model_validate(done)
    claimed = await redis.get(_intent(key)) if redis is not None else None
    if claimed:
        found = await slack.find_channel(str(claimed), creator=await slack.bot_user(), marker=marker)
        if found is not None:
            await record(redis, key, found.model_dump(mode="json"))
            return found

    async def claim(name: str) -> None:
        await intend(redis, key, name)

    outcome = await slack.create_channel(base, claim=claim)
    failpoint("incident.channel_created")
    await record(redis, key, outcome.model_dump(mode="json"))
    return outcome


_REACHED = {"trigger": {"triggered", "acknowledged", "resolved"}, "acknowledge": {"acknowledged", "resolved"},
            "resolve": {"resolved"}}
"""The incident states PagerDuty is in once an event of each action has been processed."""


async def pagerduty_once(redis: Any, pd: PagerDuty, key: str, action: EventAction, dedup_key: str,
                         **trigger: Any) -> str:
    """Send one Events v2 event once per ``key``; returns the dedup key PagerDuty answered with.

    A delivery that finds the intent of an earlier one reads the incident back where a REST token
    is set; without one it sends again, which PagerDuty deduplicates by ``dedup_key``."""
    done = await recorded(redis, key)
    if done:
        return str(done["dedup_key"])
    if await intended(redis, key) and pd.settings.oncall_configured:
        try:
            status = await pd.incident_status(dedup_key)
        except PagerDutyError as exc:
            log.warning("could not read PagerDuty incident %s back (%s): sending %s again", dedup_key, exc, action)
            status = None
        if status in _REACHED[action]:
            await record(redis, key, {"dedup_key": dedup_key, "found": status})
            return dedup_key
    await intend(redis, key, action)
    reply = await pd.event(action, dedup_key, **trigger)
    failpoint("incident.pagerduty_sent")
    await record(redis, key, {"dedup_key": reply.dedup_key})
    return reply.dedup_key
