"""Only connection errors count as "Redis is down" (issue 11 §7).

An OSError such as a refused permission or a full disk is a fault: it must surface, not be
retried forever under "redis unavailable" (which also pauses reclaiming, as after an outage).
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from engine.settings import Settings
from engine.worker import Worker


async def test_a_permission_error_is_raised_at_once_not_retried_as_an_outage(redis: Redis, settings: Settings) -> None:
    worker = Worker(redis, settings)
    outage_before = worker.last_outage
    calls = 0

    async def op() -> None:
        nonlocal calls
        calls += 1
        raise PermissionError(13, "Permission denied", "/var/lib/shepherd/artifacts")

    with pytest.raises(PermissionError):  # (before: retried until the wait_for gave up)
        await asyncio.wait_for(worker._retrying(op), 10)
    assert calls == 1 and worker.last_outage == outage_before


async def test_a_connection_error_is_still_waited_out(redis: Redis, settings: Settings) -> None:
    worker = Worker(redis, settings)
    failures = [RedisConnectionError("Connection refused"), ConnectionResetError("reset by peer")]

    async def op() -> str:
        if failures:
            raise failures.pop(0)
        return "answered"

    assert await worker._retrying(op) == "answered"
    assert worker.last_outage > -settings.visibility_timeout  # noted as an outage: reclaiming waits


async def test_a_loop_reports_a_disk_error_as_a_failure_not_as_redis_down(
        redis: Redis, settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    worker = Worker(redis, settings)
    outage_before = worker.last_outage

    async def body() -> float | None:
        if not caplog.records:
            raise OSError(28, "No space left on device")
        worker.stop()
        return None

    with caplog.at_level(logging.WARNING, logger="engine.worker"):
        await worker._guarded_loop("timers", body)
    assert [r.getMessage() for r in caplog.records] == ["timers failed; continuing"]
    assert "No space left on device" in caplog.text and "redis unavailable" not in caplog.text
    assert worker.last_outage == outage_before
