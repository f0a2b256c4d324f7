"""Engine overhead per step: runs of 1,000 no-op tasks in a row, one worker with default settings.

Why: every step of every run pays it (start the task, commit its result, wake
the run, replay the warm coroutine one step, journal and queue the next task,
acknowledge). The tasks return at once, so the gap between two consecutive
task starts is all engine: Redis round trips, Lua scripts and Python.

Three runs are pooled because a 2-core machine shared with other work shifts a
single run's median by a millisecond. Round trips per step are counted too:
on one event loop each costs a roughly fixed slice of Python time, so they
explain most of the figure.
"""

from __future__ import annotations

import itertools
import statistics
import time
from typing import Any

from benchmarks import probe
from benchmarks.harness import Harness, count_round_trips, log, profile, summary

NAME = "engine_overhead_per_step_ms"
STEPS = 1000
RUNS = 3
SYNC_STEPS = 300
TARGET_MEDIAN_MS = 2.0


async def _run_steps(h: Harness, steps: int, *, sync: bool = False) -> tuple[list[float], float]:
    """Start a run of ``steps`` no-op tasks and wait for it; (gaps between task starts in ms, wall s)."""
    started = time.perf_counter()
    run_id = await h.client.start("bench-steps", {"n": steps, "sync": sync}, requester="bench")
    await h.wait_status(run_id, "completed", timeout=300, interval=0.05)
    wall = time.perf_counter() - started
    marks = probe.marks[run_id]
    if len(marks) != steps:
        raise RuntimeError(f"expected {steps} task starts, saw {len(marks)}")
    return [(b - a) * 1000 for a, b in itertools.pairwise(marks)], wall


def _scripts_per_step(before: dict[str, int], after: dict[str, int], steps: int) -> dict[str, float]:
    """Top-level script calls per step (EVALSHA, and SCRIPT EXISTS that redis-py sends before a pipeline)."""
    return {name: round((after.get(name, 0) - before.get(name, 0)) / steps, 2) for name in ("evalsha", "script")}


async def run(h: Harness) -> dict[str, Any]:
    await h.fresh()
    async with h.workers(1):
        await _run_steps(h, 50)  # warm up: imports, validators, script loading, connections
        gaps: list[float] = []
        run_medians, walls = [], []
        commands_before = await h.command_counts()
        with count_round_trips() as round_trips:
            for i in range(RUNS):
                log(f"{NAME}: run {i + 1}/{RUNS}: {STEPS} sequential async no-op tasks")
                run_gaps, wall = await _run_steps(h, STEPS)
                gaps += run_gaps
                run_medians.append(round(statistics.median(run_gaps), 3))
                walls.append(round(wall, 3))
        scripts = _scripts_per_step(commands_before, await h.command_counts(), RUNS * STEPS)
        stats = summary(gaps)
        log(f"{NAME}: median {stats['median']} ms, p95 {stats['p95']} ms (per run: {run_medians})")
        log(f"{NAME}: {SYNC_STEPS} sync no-op tasks (run in a thread)")
        sync_gaps, _ = await _run_steps(h, SYNC_STEPS, sync=True)
        result: dict[str, Any] = {
            "what": f"time between consecutive task starts in {RUNS} runs of {STEPS} sequential no-op async tasks "
                    "(gaps pooled), one in-process worker with default settings (concurrency 10, replay cache 256)",
            "steps": STEPS,
            "runs": RUNS,
            **stats,
            "median_per_run": run_medians,
            "run_wall_s": walls,
            "redis_round_trips_per_step": round(round_trips[0] / (RUNS * STEPS), 2),
            "redis_script_calls_per_step": scripts,
            "sync_task_gaps_ms": {k: v for k, v in summary(sync_gaps).items() if k in ("n", "median", "p95")},
            "target": f"median <= {TARGET_MEDIAN_MS} ms",
            "meets_target": stats["median"] <= TARGET_MEDIAN_MS,
        }
        if not result["meets_target"]:
            log(f"{NAME}: target missed; profiling 200 steps")
            result["profile_200_steps_top_by_own_time"] = await profile(lambda: _run_steps(h, 200))
    return result
