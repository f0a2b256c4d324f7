"""Decision to next task: from "approve" to the task after the gate running.

Why: this is the latency a person feels in Slack after clicking a button. The
path is the client's compare-and-set on the gate (``ShepherdClient.decide``),
a wake on the queue, a worker replaying the run from the top (a run waiting on
a person is never kept warm), journaling and queueing the next task, and a
worker picking that task up. Each of the 50 runs is a task, a gate, and the
task whose first line stamps ``time.perf_counter()``.

Every decision is made on a quiet system (the run's previous wake handled,
its lock released), as it is when a person decides seconds or hours later.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks import probe
from benchmarks.harness import Harness, log, profile, summary, wait_until
from state import keys

NAME = "decision_to_next_task_ms"
RUNS = 50
WARMUP = 3
TARGET_P95_MS = 25.0


async def _quiet(h: Harness, run_id: str) -> bool:
    """Nobody holds the run's lock and no queue entry is in flight."""
    if await h.redis.exists(keys.lock(run_id)):
        return False
    for stream in (keys.WAKE_STREAM, keys.TASKS_STREAM):
        if (await h.redis.xpending(stream, keys.CONSUMER_GROUP))["pending"]:
            return False
    return True


async def _decide_once(h: Harness) -> tuple[float, float]:
    """One run up to its gate, then approve it; (decide -> task start, decide call alone), in ms."""
    run_id = await h.client.start("bench-gate", {"service": "checkout"}, requester="requester")
    await h.wait_status(run_id, "waiting", timeout=30)
    await wait_until(lambda: _quiet(h, run_id), timeout=30, what=f"run {run_id} to go quiet")
    await asyncio.sleep(0.02)
    gate = (await h.client.store.meta(run_id))["waiting_on"].split(",")[0]
    started = asyncio.Event()
    probe.waiters[run_id] = started
    t0 = time.perf_counter()
    decided = await h.client.decide(run_id, gate, user="approver", approve=True, comment="go")
    t_decided = time.perf_counter()
    if not decided.applied:
        raise RuntimeError(f"decision on run {run_id} was not applied: {decided.message}")
    await asyncio.wait_for(started.wait(), 30)
    t_task = probe.marks[run_id][-1]
    await h.wait_status(run_id, "completed", timeout=30)
    return (t_task - t0) * 1000, (t_decided - t0) * 1000


async def run(h: Harness) -> dict[str, Any]:
    await h.fresh()
    async with h.workers(1):
        for _ in range(WARMUP):
            await _decide_once(h)
        log(f"{NAME}: {RUNS} runs, each task -> gate -> task; approving each gate")
        total, decide_call = [], []
        for i in range(RUNS):
            latency, call = await _decide_once(h)
            total.append(latency)
            decide_call.append(call)
            if (i + 1) % 10 == 0:
                log(f"{NAME}: {i + 1}/{RUNS}")
        stats = summary(total)
        result: dict[str, Any] = {
            "what": "ShepherdClient.decide() called -> the task after the gate starts running (perf_counter "
                    f"inside the task); {RUNS} runs of task -> gate -> task, one in-process worker",
            **stats,
            "decide_call_ms": {k: v for k, v in summary(decide_call).items() if k in ("median", "p95")},
            "wake_to_task_ms": {k: v for k, v in summary([t - c for t, c in zip(total, decide_call, strict=True)])
                                .items() if k in ("median", "p95")},
            "target": f"p95 <= {TARGET_P95_MS} ms",
            "meets_target": stats["p95"] <= TARGET_P95_MS,
        }
        if not result["meets_target"]:
            log(f"{NAME}: target missed; profiling 10 decisions")

            async def ten() -> None:
                for _ in range(10):
                    await _decide_once(h)

            result["profile_10_decisions_top_by_own_time"] = await profile(ten)
    return result
