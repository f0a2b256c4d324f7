"""Connecting to Redis: ``REDIS_URL`` when set, else the embedded server."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from state.embedded import ensure_embedded_redis

#: Errors that mean "Redis is not reachable right now" (back off and retry). redis-py wraps socket
#: errors in its own ConnectionError; the builtin one (refused, reset, broken pipe) covers the rest.
#: Not every OSError: a full disk, a missing file or a refused permission is a fault to report,
#: and retrying it as an outage would hide it behind "redis unavailable" forever.
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ConnectionError)


class RedisUnavailable(RuntimeError):
    """Redis could not be reached; the message names where we looked."""


def resolve_url(redis_url: str | None, data_dir: Path) -> str:
    return redis_url or ensure_embedded_redis(data_dir)


def describe(url: str) -> str:
    """The URL without its password, for messages and logs."""
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.rpartition('@')[2]}"
    return url


async def connect(url: str) -> Redis:
    """Open a client and prove the server answers, or raise RedisUnavailable.

    The pool is effectively unbounded, as redis-py's was before 8.0: concurrency is
    limited by the worker's own slots, and a pool cap would turn a busy moment into
    MaxConnectionsError, indistinguishable from an outage.
    """
    pool = ConnectionPool.from_url(url, decode_responses=True, max_connections=2**16)
    client = Redis.from_pool(pool)  # closing the client closes its pool
    try:
        await client.ping()
    except UNAVAILABLE as exc:
        await client.aclose()
        raise RedisUnavailable(f"cannot reach Redis at {describe(url)}: {exc}") from exc
    return client
