"""Incident state kept in Redis by tasks: the id counter, task results, and statistics.

Keys share the ``{incidents}`` hash tag (one Redis Cluster slot) and never meet run keys; they are
defined with every other key in ``state.keys`` (``incident_seq``, ``incident_id``, ``incident_done``,
``INCIDENT_STATS``, ``INCIDENT_STATS_BY_TIME``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from state import keys

KEEP = 90 * 86400
"""Seconds a recorded task result or allocated id is kept (far beyond any redelivery)."""


seq_key = keys.incident_seq


def _need(redis: Any) -> Any:
    if redis is None:
        raise RuntimeError("this task needs the worker's Redis client (TaskContext.redis)")
    return redis


async def allocate_id(redis: Any, idempotency_key: str, now: datetime) -> str:
    """``INC-<yyyymmdd>-<n>``: the next number of the day, the same one if this delivery repeats."""
    redis = _need(redis)
    marker = keys.incident_id(idempotency_key)
    known = await redis.get(marker)
    if known:
        return str(known)
    day = now.strftime("%Y%m%d")
    n = await redis.incr(seq_key(day))
    await redis.expire(seq_key(day), KEEP)
    incident_id = f"INC-{day}-{n}"
    # A racing duplicate delivery may also have incremented; the first id written wins for both.
    if not await redis.set(marker, incident_id, nx=True, ex=KEEP):
        return str(await redis.get(marker))
    return incident_id


async def remember(redis: Any, idempotency_key: str,
                   work: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """``work()``'s result, computed once per idempotency key (no Redis: computed every time)."""
    if redis is None:
        return await work()
    key = keys.incident_done(idempotency_key)
    known = await redis.get(key)
    if known:
        return dict(json.loads(known))
    result = await work()
    await redis.set(key, json.dumps(result), ex=KEEP)
    return result


async def save_stats(redis: Any, record: dict[str, Any]) -> None:
    redis = _need(redis)
    declared = datetime.fromisoformat(record["declared_at"]).timestamp()
    pipe = redis.pipeline(transaction=True)
    pipe.hset(keys.INCIDENT_STATS, record["incident_id"], json.dumps(record, sort_keys=True))
    pipe.zadd(keys.INCIDENT_STATS_BY_TIME, {record["incident_id"]: declared})
    await pipe.execute()


async def load_stats(redis: Any, since: datetime) -> list[dict[str, Any]]:
    """Every recorded incident declared at or after ``since``, oldest first."""
    redis = _need(redis)
    ids = await redis.zrangebyscore(keys.INCIDENT_STATS_BY_TIME, since.timestamp(), "+inf")
    if not ids:
        return []
    raw = await redis.hmget(keys.INCIDENT_STATS, ids)
    return [json.loads(r) for r in raw if r]
