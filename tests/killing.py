"""Killing workers in tests: start them as processes, wait for them to die, read their logs.

Shared by the crash-recovery suite and the processes' kill matrices, so each kills and waits the
same way (and waits out a dead worker's task leases before a new one reclaims them).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from redis.asyncio import Redis

from state import keys

KILLED = -signal.SIGKILL

Spawn = Callable[[dict[str, str], str], subprocess.Popen[bytes]]


def logs(tmp_path: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-4000:]}" for p in sorted(tmp_path.glob("*.log")))


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float, what: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what()}")
        await asyncio.sleep(0.02)


async def wait_exit(proc: subprocess.Popen[bytes], timeout: float, tmp_path: Path) -> int:
    async def gone() -> bool:
        return proc.poll() is not None

    await eventually(gone, timeout, lambda: f"worker {proc.pid} to exit\n{logs(tmp_path)}")
    return proc.returncode


async def server_ms(redis: Redis) -> int:
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def wait_dead_leases(redis: Redis, run_ids: list[str], pid: int) -> None:
    """Wait until the task leases a dead worker held have expired (Redis's clock).

    A new worker started earlier can reclaim such a task's queue entry while its
    lease still runs, get "busy" and drop the entry for good: see
    ``test_reclaimed_entry_of_a_task_whose_lease_has_not_expired_is_not_lost``.
    """
    leases = []
    for run_id in run_ids:
        effects = await redis.hgetall(keys.effects(run_id))
        for field, value in effects.items():
            if field.endswith("#worker") and f"-{pid}-" in value:
                step = field.removesuffix("#worker")
                if effects.get(step) == "running":
                    leases.append(int(effects.get(f"{step}#lease", "0")))
    if leases:
        target = max(leases)
        while await server_ms(redis) <= target:
            await asyncio.sleep(0.05)
