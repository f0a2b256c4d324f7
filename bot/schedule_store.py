"""Recurring schedules in Redis: what to start, when, where and for whom.

All schedule keys share the hash tag ``{schedules}`` (one Cluster slot, like the run indexes):

- ``shepherd:{schedules}:all``: hash, schedule id -> JSON (``Schedule``)
- ``shepherd:{schedules}:checked``: hash, schedule id -> ISO time up to which occurrences were handled
- ``shepherd:{schedules}:lock:<id>``: held by the one replica looking at that schedule right now

Schedules are few (people type them), so listing reads the whole hash.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from state import keys

ALL = keys.SCHEDULES
CHECKED = keys.SCHEDULES_CHECKED
lock_key = keys.schedule_lock


def new_schedule_id() -> str:
    return "sch-" + secrets.token_hex(4)


class Schedule(BaseModel):
    """A process started on a cron expression, in a channel, on behalf of whoever created it."""

    id: str
    process: str
    inputs: dict[str, object] = Field(default_factory=dict)
    """Validated inputs (JSON form), checked again by the engine at each start."""
    args: str = ""
    """The arguments as typed, shown in listings."""
    cron: str
    timezone: str = "UTC"
    channel: str
    creator: str
    created_at: datetime


class ScheduleStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def add(self, schedule: Schedule) -> None:
        await self.redis.hset(ALL, schedule.id, schedule.model_dump_json())

    async def get(self, schedule_id: str) -> Schedule | None:
        raw = await self.redis.hget(ALL, schedule_id)
        return Schedule.model_validate_json(raw) if raw else None

    async def all(self) -> list[Schedule]:
        schedules = [Schedule.model_validate_json(raw) for raw in (await self.redis.hgetall(ALL)).values()]
        return sorted(schedules, key=lambda s: (s.created_at, s.id))

    async def remove(self, schedule_id: str) -> bool:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(ALL, schedule_id)
        pipe.hdel(CHECKED, schedule_id)
        removed, _ = await pipe.execute()
        return bool(removed)

    async def checked(self, schedule_id: str) -> datetime | None:
        raw = await self.redis.hget(CHECKED, schedule_id)
        return datetime.fromisoformat(raw) if raw else None

    async def set_checked(self, schedule_id: str, until: datetime) -> None:
        """Occurrences up to ``until`` are handled (called under the schedule's lock). A removed
        schedule stays removed: the mark is written only while the schedule exists."""
        if await self.redis.hexists(ALL, schedule_id):
            await self.redis.hset(CHECKED, schedule_id, until.isoformat())
