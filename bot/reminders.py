"""Reminders of open gates, and the ping when a gate escalates: posted in the run's thread.

People forget an Approve button scrolled out of view. Every few seconds (an apscheduler interval
job, see ``bot.schedules.BotScheduler``) each bot replica looks at the runs in the ``waiting``
status index, reads their gates in one pipeline, and for each gate open longer than the reminder
interval since it opened (or since its last reminder) posts one line in the run's thread that
mentions whoever may act and gives the deadline.

Replicas never post the same reminder twice: reminder *n* of gate *k* is claimed with
``SET NX`` on ``shepherd:{run:<id>}:reminder:<k>:<n>`` (with a TTL) before it is posted, and only
the claimer posts. The escalation ping is claimed the same way (``...:<k>:escalated``). Both are
at most once: a replica that dies between its claim and its post loses that one line, and the
next reminder comes an interval later.

What was reminded is kept beside the run (``shepherd:{run:<id>}:reminders``, a hash with
``<k>:opened``, ``<k>:count``, ``<k>:last`` in ms and ``<k>:escalated``) so that restarts and
other replicas continue the same count.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ledger import ledger_key
from bot.pacer import ChannelPacer
from bot.render.text import parse_iso, shown, slack_date, who_may_act
from engine.client import ShepherdClient
from state import keys

log = logging.getLogger(__name__)

REMINDER = "shepherd_reminder"
BATCH = 200
STATE_TTL_S = 30 * 86400


state_key = keys.slack_reminders
claim_key = keys.slack_reminder_claim


def duration(seconds: float) -> str:
    """``45s``, ``12m``, ``3h 05m``, ``2d 4h``: how long a gate has waited, short enough for a phone."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def clock_time(ms: int) -> str:
    """A time of day each reader sees in their own zone (``14:00 UTC`` where dates do not render)."""
    fallback = datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M UTC")
    return f"<!date^{ms // 1000}^{{time}}|{fallback}>"


def still_to_act(gate: dict[str, Any]) -> dict[str, Any]:
    """The gate as far as mentions go: listed people who already approved (a quorum gate
    collecting votes) are not nagged again, unless nobody listed would be left."""
    voted = {vote.get("by") for vote in gate.get("votes") or [] if isinstance(vote, dict)}
    users = [u for u in gate.get("users") or [] if u not in voted]
    return {**gate, "users": users} if users or gate.get("groups") else gate


def reminder_text(gate: dict[str, Any], opened_ms: int, now_ms: int) -> str:
    deadline = f"Deadline: {slack_date(int(gate['deadline_ms']))}." if gate.get("deadline_ms") else "No deadline."
    verb = "an answer" if gate.get("kind") == "ask" else "a decision"
    waited = duration((now_ms - opened_ms) / 1000)
    return (f"⏰ Reminder: *{shown(gate.get('title', '?'), 150)}* has been waiting {waited} "
            f"for {verb} from {who_may_act(still_to_act(gate))}. {deadline}")


def escalation_text(gate: dict[str, Any], escalated_ms: int) -> str:
    deadline = f" New deadline: {slack_date(int(gate['deadline_ms']))}." if gate.get("deadline_ms") else ""
    return (f"⏫ Escalated to {who_may_act(gate)}: nobody decided by {clock_time(escalated_ms)} — "
            f"*{shown(gate.get('title', '?'), 150)}*.{deadline}")


class Reminders:
    """One replica's look at open gates; ``check`` is the periodic job (``now`` injectable for tests)."""

    def __init__(self, redis: Redis, web: AsyncWebClient, *, interval: float,
                 pacer: ChannelPacer | None = None, clock: Callable[[], float] = time.time) -> None:
        self.redis, self.web, self.pacer, self.clock = redis, web, pacer or ChannelPacer(1.0), clock
        self.interval_ms = int(interval * 1000)
        self.claim_ttl_s = max(60, int(2 * interval))
        self.engine = ShepherdClient(redis)  # runs are read through the front-end API

    async def check(self, now: float | None = None) -> int:
        """Post every reminder and escalation ping now due; returns how many this replica posted."""
        now_ms = int((self.clock() if now is None else now) * 1000)
        posted, start = 0, 0
        while True:
            run_ids = await self.redis.zrange(keys.status_index("waiting"), start, start + BATCH - 1)
            if not run_ids:
                return posted
            pipe = self.redis.pipeline(transaction=False)
            for run_id in run_ids:
                pipe.hgetall(keys.gates(run_id))
                pipe.hgetall(state_key(run_id))
                pipe.hget(keys.meta(run_id), "channel")
                pipe.hgetall(ledger_key(run_id))
            replies = await pipe.execute()
            for index, run_id in enumerate(run_ids):
                gates, state, channel, ledger = replies[4 * index: 4 * index + 4]
                open_gates = {k: g for k, g in ((k, json.loads(v)) for k, v in gates.items())
                              if g.get("status") == "open"}
                if open_gates and channel and ledger.get("card"):
                    posted += await self._run(run_id, channel, ledger, open_gates, state, now_ms)
            if len(run_ids) < BATCH:
                return posted
            start += BATCH

    async def _run(self, run_id: str, channel: str, ledger: dict[str, str], gates: dict[str, dict[str, Any]],
                   state: dict[str, str], now_ms: int) -> int:
        posted = 0
        for key, gate in gates.items():
            if not ledger.get(f"gate:{key}"):
                continue  # the notifier has not shown the gate yet: nothing to remind of
            opened = int(state.get(f"{key}:opened") or 0) or await self._opened(run_id, key, now_ms)
            try:
                if gate.get("escalated") and not state.get(f"{key}:escalated"):
                    posted += await self._escalated(run_id, channel, ledger["card"], gate, now_ms)
                    continue
                last = int(state.get(f"{key}:last") or 0) or opened
                if now_ms - last >= self.interval_ms:
                    number = int(state.get(f"{key}:count") or 0) + 1
                    if await self._claim(run_id, key, number, {f"{key}:count": number, f"{key}:last": now_ms}):
                        await self._post(channel, ledger["card"], reminder_text(gate, opened, now_ms),
                                         run=run_id, key=key, number=number)
                        posted += 1
            except SlackApiError as exc:
                log.warning("reminders: Slack refused a post for run %s: %s", run_id, exc.response.get("error"))
        return posted

    async def _opened(self, run_id: str, key: str, now_ms: int) -> int:
        """When the gate opened (its request's time in the journal), remembered once read."""
        request = next((e for e in await self.engine.journal(run_id)
                        if e["type"] == "effect_requested" and e["key"] == key), None)
        moment = parse_iso(request.get("at", "")) if request else None
        opened = int(moment.timestamp() * 1000) if moment else now_ms
        pipe = self.redis.pipeline(transaction=False)
        pipe.hsetnx(state_key(run_id), f"{key}:opened", str(opened))
        pipe.expire(state_key(run_id), STATE_TTL_S)
        await pipe.execute()
        return opened

    async def _escalated(self, run_id: str, channel: str, card: str, gate: dict[str, Any], now_ms: int) -> int:
        key = gate["key"]
        if not await self._claim(run_id, key, "escalated", {f"{key}:escalated": 1, f"{key}:last": now_ms}):
            return 0
        event = next((e for e in reversed(await self.engine.journal(run_id))
                      if e["type"] == "gate_escalated" and e.get("key") == key), None)
        moment = parse_iso(event.get("at", "")) if event else None
        await self._post(channel, card, escalation_text(gate, int(moment.timestamp() * 1000) if moment else now_ms),
                         run=run_id, key=key, number="escalated")
        return 1

    async def _claim(self, run_id: str, key: str, number: int | str, record: dict[str, int]) -> bool:
        """Take reminder ``number`` of gate ``key`` for this replica, then record it as done.

        The claim comes first so no two replicas post it; a replica dying right after the claim
        leaves the count behind, and the claim's TTL lets the reminder be posted again later."""
        if not await self.redis.set(claim_key(run_id, key, number), "1", nx=True, ex=self.claim_ttl_s):
            return False
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(state_key(run_id), mapping=record)
        pipe.expire(state_key(run_id), STATE_TTL_S)
        await pipe.execute()
        return True

    async def _post(self, channel: str, card: str, text: str, **payload: Any) -> None:
        await self.pacer.wait(channel)
        await self.web.chat_postMessage(channel=channel, thread_ts=card, text=text,
                                        metadata={"event_type": REMINDER, "event_payload": payload})
