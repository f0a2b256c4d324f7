"""Drop Slack's redeliveries before any listener sees them.

Slack delivers again when it thinks an ack came too late: Events API retries over HTTP
(``X-Slack-Retry-Num``) and unacknowledged Socket Mode envelopes (``retry_attempt``, which
Bolt passes on as the same header). A redelivery carries the same payload, so each first
delivery leaves a marker in Redis named by its identity (its ``trigger_id``, or
``event_id`` for events); a redelivery that finds the marker is acknowledged and dropped,
whatever the transport and whichever replica it reaches.

The marker of a first delivery is written beside the listener, not before it: nothing
stands between a command and its ack (under a burst, waiting on Redis there was most of
the ack latency). A retry comes seconds later, long after the marker landed; if the bot
died before writing it, the retry is handled, which is the safe way round.

This sits in front of the engine's own idempotency (``start`` deduplicates on the trigger,
decisions are a compare-and-set), which already keeps a second run or decision from
happening; dropping here also keeps people from seeing a second "Started" or a confusing
"already approved by you".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from state import keys

log = logging.getLogger(__name__)

SEEN_FOR_S = 3600  # Slack's retries come within minutes; an hour leaves room


def delivery_id(body: dict[str, Any]) -> str | None:
    """What stays the same across redeliveries of one delivery (None: nothing to go by)."""
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("trigger_id"):
        return f"trigger:{body['trigger_id']}"
    return None


seen_key = keys.slack_delivered


def retry_number(headers: dict[str, Any]) -> int:
    """0 for a first delivery (Socket Mode sends "0", HTTP sends nothing)."""
    value = headers.get("x-slack-retry-num") or ["0"]
    try:
        return int(value[0] if isinstance(value, list | tuple) else value)
    except ValueError:
        return 0


def register_redelivery_guard(app: AsyncApp, redis: Redis) -> None:
    markers: set[asyncio.Task[Any]] = set()  # held until written, so none is garbage-collected

    async def mark(identity: str) -> None:
        try:
            await redis.set(seen_key(identity), 1, nx=True, ex=SEEN_FOR_S)
        except Exception:  # only a retry's chance to be dropped is lost; the engine still dedups
            log.warning("could not record delivery %s", identity, exc_info=True)

    @app.middleware
    async def drop_redeliveries(request: Any, body: dict[str, Any], next: Callable[[], Awaitable[Any]]) -> Any:
        identity = delivery_id(body)
        if identity is None:
            return await next()
        if retry_number(request.headers) == 0:
            task = asyncio.create_task(mark(identity))
            markers.add(task)
            task.add_done_callback(markers.discard)
            return await next()
        if await redis.set(seen_key(identity), 1, nx=True, ex=SEEN_FOR_S):
            return await next()  # the first delivery never reached us: handle this one
        log.info("dropped a redelivery of %s", identity)
        return BoltResponse(status=200, body="")  # the acknowledgement; no listener runs
