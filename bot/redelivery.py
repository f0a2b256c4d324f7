"""Drop Slack's redeliveries before any listener sees them.

Slack delivers again when it thinks an ack came too late: Events API retries over HTTP
(``X-Slack-Retry-Num``) and unacknowledged Socket Mode envelopes (``retry_attempt``). A
redelivery carries the same payload, so the first delivery's identity (its ``trigger_id``,
or ``event_id`` for events) is claimed in Redis with SET NX: every later delivery of it is
acknowledged and dropped, whatever the transport and whichever replica it reaches.

This sits in front of the engine's own idempotency (``start`` deduplicates on the trigger,
decisions are a compare-and-set), which already keeps a second run or decision from
happening; dropping here also keeps people from seeing a second "Started" or a confusing
"already approved by you". The claim is made before the listener acks, so a bot that died
in the microseconds between the two would have its one delivery dropped by a retry: the
person sees no reply and types the command again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

log = logging.getLogger(__name__)

SEEN_FOR_S = 3600  # Slack's retries come within minutes; an hour leaves room


def delivery_id(body: dict[str, Any]) -> str | None:
    """What stays the same across redeliveries of one delivery (None: nothing to go by)."""
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("trigger_id"):
        return f"trigger:{body['trigger_id']}"
    return None


def seen_key(identity: str) -> str:
    return f"shepherd:{{slack}}:delivered:{identity}"


def register_redelivery_guard(app: AsyncApp, redis: Redis) -> None:
    @app.middleware
    async def drop_redeliveries(body: dict[str, Any], next: Callable[[], Awaitable[Any]]) -> Any:
        identity = delivery_id(body)
        if identity is None or await redis.set(seen_key(identity), 1, nx=True, ex=SEEN_FOR_S):
            return await next()
        log.info("dropped a redelivery of %s", identity)
        return BoltResponse(status=200, body="")  # the acknowledgement; no listener runs
