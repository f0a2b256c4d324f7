"""The work queues: Redis Streams with one consumer group of workers.

``tasks`` carries task and shell effects to run; ``wake`` carries runs to
advance. An entry is acknowledged (and deleted) only after its work is
committed, so a worker that dies leaves it pending; after the visibility
timeout another worker reclaims it with XAUTOCLAIM. Long tasks heartbeat by
re-claiming their own entry (XCLAIM JUSTID resets its idle time). An entry
delivered more than ``max_deliveries`` times becomes a dead-letter record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from redis.typing import EncodableT, FieldT, KeyT, StreamIdT

from state import keys


@dataclass
class Entry:
    stream: str
    id: str
    fields: dict[str, str]
    deliveries: int = 1


def _copy(fields: dict[str, str]) -> dict[FieldT, EncodableT]:
    """The entry's fields, as redis-py's (invariant) ``dict[FieldT, EncodableT]`` for a re-add."""
    return {name: value for name, value in fields.items()}


def handoffs(entry: Entry) -> int:
    """How many workers have already given this entry back (they lacked its definition)."""
    return int(entry.fields.get("handoffs") or 0)


class WorkQueue:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def ensure_groups(self) -> None:
        for stream in (keys.TASKS_STREAM, keys.WAKE_STREAM):
            try:
                await self.redis.xgroup_create(stream, keys.CONSUMER_GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    @staticmethod
    def task_fields(run_id: str, request: dict[str, Any]) -> dict[FieldT, EncodableT]:
        return {"run": run_id, "key": request["key"], "kind": request["kind"], "name": request["name"],
                "args": json.dumps(request.get("args") or {}, separators=(",", ":"))}

    def enqueue_task(self, run_id: str, request: dict[str, Any], client: Any = None) -> Any:
        return (client or self.redis).xadd(keys.TASKS_STREAM, self.task_fields(run_id, request))

    def notify(self, run_id: str, client: Any = None) -> Any:
        """Tell front ends the run's journal or gates changed (bounded: a hint, not a record)."""
        return (client or self.redis).xadd(keys.NOTIFY_STREAM, {"run": run_id}, maxlen=100_000, approximate=True)

    def enqueue_wake(self, run_id: str, client: Any = None, handoffs: int = 0) -> Any:
        fields: dict[FieldT, EncodableT] = {"run": run_id, "handoffs": str(handoffs)} if handoffs else {"run": run_id}
        return (client or self.redis).xadd(keys.WAKE_STREAM, fields)

    async def hand_off(self, entry: Entry) -> None:
        """Give an entry back for another consumer: re-add it (counting hand-offs) and drop this delivery.

        One transaction, so the work is never lost nor left with this consumer."""
        pipe = self.redis.pipeline(transaction=True)
        fields = _copy(entry.fields)
        fields["handoffs"] = str(handoffs(entry) + 1)
        pipe.xadd(entry.stream, fields)
        self.queue_ack(pipe, entry)
        await pipe.execute()

    async def read(self, consumer: str, count: int, block_ms: int, wake_only: bool = False) -> list[Entry]:
        streams: dict[KeyT, StreamIdT] = {keys.WAKE_STREAM: ">"}
        if not wake_only:
            streams[keys.TASKS_STREAM] = ">"
        reply = await self.redis.xreadgroup(keys.CONSUMER_GROUP, consumer, streams, count=count, block=block_ms)
        return [Entry(stream, entry_id, fields) for stream, entries in reply or [] for entry_id, fields in entries
                if fields is not None]

    async def ack(self, entry: Entry) -> None:
        pipe = self.redis.pipeline(transaction=False)
        self.queue_ack(pipe, entry)
        await pipe.execute()

    @staticmethod
    def queue_ack(pipe: Any, entry: Entry) -> None:
        """Acknowledge and delete the entry (deleted, so the stream does not grow)."""
        pipe.xack(entry.stream, keys.CONSUMER_GROUP, entry.id)
        pipe.xdel(entry.stream, entry.id)

    async def touch(self, entry: Entry, consumer: str) -> None:
        """Reset the entry's idle time so nobody reclaims a task that is still running."""
        await self.redis.xclaim(entry.stream, keys.CONSUMER_GROUP, consumer, 0, [entry.id], justid=True)

    async def reclaim(self, stream: str, consumer: str, min_idle_ms: int, count: int = 50) -> list[Entry]:
        """Take over entries whose consumer went silent, with their delivery counts."""
        reply = await self.redis.xautoclaim(stream, keys.CONSUMER_GROUP, consumer, min_idle_ms, "0-0", count=count)
        claimed = [(entry_id, fields) for entry_id, fields in reply[1] if fields is not None]
        deleted = reply[2] if len(reply) > 2 else []
        if deleted:  # entries deleted while pending: nothing to do but forget them
            await self.redis.xack(stream, keys.CONSUMER_GROUP, *deleted)
        entries = []
        for entry_id, fields in claimed:
            info = await self.redis.xpending_range(stream, keys.CONSUMER_GROUP, entry_id, entry_id, 1)
            deliveries = int(info[0]["times_delivered"]) if info else 1
            entries.append(Entry(stream, entry_id, fields, deliveries))
        return entries

    async def dead_letter(self, entry: Entry, reason: str) -> None:
        fields = _copy(entry.fields)
        fields.update({"stream": entry.stream, "entry": entry.id, "deliveries": str(entry.deliveries),
                       "reason": reason})
        await self.redis.xadd(keys.DEAD_LETTERS, fields)
        await self.ack(entry)

    async def dead_letters(self) -> list[dict[str, str]]:
        return [fields for _, fields in await self.redis.xrange(keys.DEAD_LETTERS)]
