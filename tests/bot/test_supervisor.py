"""The supervisor on its own: restarts with doubling backoff, health until a beat, a return is final."""

from __future__ import annotations

import asyncio
import itertools

from bot.health import Supervisor
from tests.sandbox.control_client import eventually


async def test_a_crash_is_restarted_with_doubling_backoff_and_unhealthy_until_a_beat() -> None:
    supervisor = Supervisor(backoff_base=0.05, backoff_cap=0.2)
    starts: list[float] = []
    crash_until = 4
    stop = asyncio.Event()

    async def task() -> None:
        starts.append(asyncio.get_running_loop().time())
        if len(starts) < crash_until:
            raise RuntimeError(f"crash {len(starts)}")
        supervisor.beat("job")
        await stop.wait()

    supervisor.spawn("job", task, stop=stop.set, beats=True)
    await eventually(lambda: len(starts) == crash_until, 5)
    await eventually(lambda: supervisor.healthy, 5)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2 * 0.99, gaps  # 0.05, 0.1, then capped 0.2
    report = supervisor.report()
    assert report["ok"] and report["tasks"]["job"] == {"healthy": True, "state": "running", "crashes": 3,
                                                       "last_error": "RuntimeError: crash 3"}
    await supervisor.stop(5)
    assert supervisor.tasks["job"].state == "stopped" and len(starts) == crash_until


async def test_unhealthy_while_crashing_and_a_return_is_not_restarted() -> None:
    supervisor = Supervisor(backoff_base=0.05, backoff_cap=0.05)
    runs = 0
    failing = True

    async def task() -> None:
        nonlocal runs
        runs += 1
        if failing:
            raise RuntimeError("down")
        supervisor.beat("job")  # works now, then finishes on its own

    supervisor.spawn("job", task, beats=True)
    await eventually(lambda: runs >= 2, 5)
    assert not supervisor.healthy and supervisor.report()["tasks"]["job"]["crashes"] >= 1
    failing = False
    await eventually(lambda: supervisor.tasks["job"].state == "stopped", 5)
    count = runs
    await supervisor.stop(5)
    assert runs == count  # returned: finished on purpose, never restarted


async def test_stop_cancels_a_task_that_is_not_graceful() -> None:
    supervisor = Supervisor()
    cancelled = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    supervisor.spawn("home", stubborn, graceful=False)
    await asyncio.sleep(0)
    await asyncio.wait_for(supervisor.stop(30), 5)
    assert cancelled.is_set() and supervisor.tasks["home"].state == "stopped"
