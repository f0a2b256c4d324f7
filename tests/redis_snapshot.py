"""Every key of a Redis database as plain JSON, and back: recorded engine state for tests.

Why: a test that needs what an *old* engine wrote (tests/test_names.py) cannot depend on
running that engine from git history, which a shallow clone lacks. The data is recorded
once by hand (tests/rename_examples/record_before_names.py) and restored here, exactly:
types, values, stream entry ids, consumer groups and time-to-live.

The JSON is meant to be read in review: each key maps to ``{"type": ..., "value": ...}``
(and ``"pttl"`` in milliseconds when the key expires). Streams keep their entry ids, their
last generated id and their groups' ``last-delivered-id``; an entry delivered and not acknowledged (pending)
cannot be restored faithfully, so recording refuses such a state.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis


async def dump(redis: Redis) -> dict[str, dict[str, Any]]:
    """Every key in the (``decode_responses=True``) database, sorted by name."""
    snapshot: dict[str, dict[str, Any]] = {}
    for key in sorted([k async for k in redis.scan_iter(count=1000)]):
        kind = await redis.type(key)
        record: dict[str, Any] = {"type": kind, "value": await _read(redis, key, kind)}
        if kind == "stream":  # new entries must get later ids than any the old engine handed out
            record["last_generated_id"] = (await redis.xinfo_stream(key))["last-generated-id"]
            record["groups"] = await _groups(redis, key)
        pttl = await redis.pttl(key)
        if pttl >= 0:
            record["pttl"] = pttl
        snapshot[key] = record
    return snapshot


async def _read(redis: Redis, key: str, kind: str) -> Any:
    if kind == "string":
        return await redis.get(key)
    if kind == "hash":
        return dict(sorted((await redis.hgetall(key)).items()))
    if kind == "list":
        return await redis.lrange(key, 0, -1)
    if kind == "set":
        return sorted(await redis.smembers(key))
    if kind == "zset":
        return [[member, score] for member, score in await redis.zrange(key, 0, -1, withscores=True)]
    if kind == "stream":
        return [[entry_id, fields] for entry_id, fields in await redis.xrange(key)]
    raise ValueError(f"key {key!r} has type {kind!r}, which a snapshot cannot hold")


async def _groups(redis: Redis, key: str) -> list[dict[str, Any]]:
    groups = []
    for group in await redis.xinfo_groups(key):
        if int(group["pending"]):
            raise ValueError(f"stream {key!r} group {group['name']!r} has {group['pending']} pending entries: "
                             "record once every delivered entry is acknowledged")
        groups.append({"name": group["name"], "last_delivered_id": group["last-delivered-id"]})
    return groups


async def restore(redis: Redis, snapshot: dict[str, dict[str, Any]]) -> None:
    """Write ``snapshot`` into the database; a key already there is an error, not merged."""
    for key, record in snapshot.items():
        if await redis.exists(key):
            raise ValueError(f"cannot restore {key!r}: the key already exists")
        await _write(redis, key, record)
        if "pttl" in record:
            await redis.pexpire(key, record["pttl"])


async def _write(redis: Redis, key: str, record: dict[str, Any]) -> None:
    kind, value = record["type"], record["value"]
    if kind == "string":
        await redis.set(key, value)
    elif kind == "hash":
        await redis.hset(key, mapping=value)
    elif kind == "list":
        await redis.rpush(key, *value)
    elif kind == "set":
        await redis.sadd(key, *value)
    elif kind == "zset":
        await redis.zadd(key, {member: score for member, score in value})
    elif kind == "stream":
        for entry_id, fields in value:
            await redis.xadd(key, fields, id=entry_id)
        for group in record["groups"]:
            await redis.xgroup_create(key, group["name"], id=group["last_delivered_id"], mkstream=True)
        await redis.execute_command("XSETID", key, record["last_generated_id"])
    else:
        raise ValueError(f"key {key!r} has type {kind!r}, which a snapshot cannot hold")
