"""Durable timers: one sorted set, scored by due time in milliseconds.

A member names what to do (``sleep|<run>|<step>``, ``gate|<run>|<step>``,
``retry|<run>|<step>``, ``wake|<run>|``, ``sweep|<run>|``). Claiming pushes a due member's score
past a lease instead of removing it, so a worker that dies holding a timer
lets it fall due again; removal afterwards checks the lease is still ours.
"""

from __future__ import annotations

import time
from typing import Any

from redis.asyncio import Redis

from state import keys
from state.scripts import Scripts


def now_ms() -> int:
    return int(time.time() * 1000)


def member(kind: str, run_id: str, key: str = "") -> str:
    return f"{kind}|{run_id}|{key}"


def parse(member_name: str) -> tuple[str, str, str]:
    kind, run_id, key = member_name.split("|", 2)
    return kind, run_id, key


class Timers:
    def __init__(self, redis: Redis, scripts: Scripts) -> None:
        self.redis, self.scripts = redis, scripts

    def add(self, name: str, due_ms: int, client: Any = None) -> Any:
        return (client or self.redis).zadd(keys.TIMERS, {name: due_ms})

    def remove(self, name: str, client: Any = None) -> Any:
        """Drop a timer whose step no longer needs it (``ctx.first``'s losers)."""
        return (client or self.redis).zrem(keys.TIMERS, name)

    async def claim(self, lease_ms: int, limit: int = 100) -> tuple[list[str], int]:
        now = now_ms()
        due = await self.scripts["claim_timers"](keys=[keys.TIMERS], args=[now, lease_ms, limit])
        return list(due), now + lease_ms

    async def done(self, name: str, leased_score: int) -> None:
        await self.scripts["remove_timer"](keys=[keys.TIMERS], args=[name, leased_score])

    async def next_due_ms(self) -> int | None:
        first = await self.redis.zrange(keys.TIMERS, 0, 0, withscores=True)
        return int(first[0][1]) if first else None
