"""Resuming a long run: a cold replay from the top of a ~1,000 and a ~10,000 entry journal.

Why: a worker keeps a run warm only while it waits on machines. After a gate,
a worker restart, or a wake on another worker, advancing the run means reading
its whole journal and replaying the process function over it. This measures
``Orchestrator.advance`` with an empty replay cache on a run parked at a gate:
it replays everything, finds the gate still pending, writes nothing.

The journals are real: a run of n sequential tasks then a gate, driven by a
worker (2n + 2 entries: run_created, n x (requested, resolved), the gate).
"""

from __future__ import annotations

import gc
import statistics
import time
from typing import Any

from benchmarks.harness import Harness, log, profile, summary
from engine.context import Execution
from engine.journal import JournalView, decode
from engine.registry import get_process
from engine.runtime import Orchestrator
from state import keys
from state.timers import Timers

NAME = "resume_long_run_ms"
SIZES = {1000: 499, 10000: 4999}  # journal entries -> tasks (2n + 2 entries)
TARGETS_MS = {1000: 15.0, 10000: 150.0}
REPEATS = {1000: 15, 10000: 7}


async def _build(h: Harness, tasks: int) -> str:
    """A real run of ``tasks`` tasks, parked at a gate; returns its id."""
    started = time.perf_counter()
    run_id = await h.client.start("bench-steps", {"n": tasks, "park": True}, requester="bench")
    await h.wait_status(run_id, "waiting", timeout=240, interval=0.1)
    log(f"{NAME}: built a run of {tasks} tasks in {time.perf_counter() - started:.1f} s")
    return run_id


async def _resume(h: Harness, run_id: str) -> float:
    """One cold advance by a fresh orchestrator with no cache; ms."""
    orchestrator = Orchestrator(h.client.store, h.client.queue, Timers(h.redis, h.client.store.scripts), cache_size=0)
    started = time.perf_counter()
    if not await orchestrator.advance(run_id):
        raise RuntimeError(f"run {run_id} is locked by someone else")
    elapsed = (time.perf_counter() - started) * 1000
    if orchestrator._cache:
        raise RuntimeError("a cache_size=0 orchestrator kept a run warm")
    return elapsed


async def _breakdown(h: Harness, run_id: str, repeats: int) -> dict[str, float]:
    """The same work as a cold advance, phase by phase (median ms): where the time goes.

    ``lrange`` + ``json_decode`` is ``RunStore.read_journal``; ``index_journal`` is
    ``JournalView``; ``replay`` is building the ``Execution`` and driving it to the gate.
    """
    phases: dict[str, list[float]] = {"lrange": [], "json_decode": [], "index_journal": [], "replay": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        raw = await h.redis.lrange(keys.journal(run_id), 0, -1)
        t1 = time.perf_counter()
        events = [decode(item) for item in raw]
        t2 = time.perf_counter()
        journal = JournalView(events)
        t3 = time.perf_counter()
        execution = Execution(get_process(journal.created["process"]), run_id, journal)  # type: ignore[index]
        outcome = execution.drive()
        execution.close()
        t4 = time.perf_counter()
        if outcome.state != "suspended":
            raise RuntimeError(f"replay of {run_id} ended {outcome.state}, not suspended at its gate")
        for name, (a, b) in zip(phases, ((t0, t1), (t1, t2), (t2, t3), (t3, t4)), strict=True):
            phases[name].append((b - a) * 1000)
    return {name: round(statistics.median(values), 3) for name, values in phases.items()}


async def run(h: Harness) -> dict[str, Any]:
    await h.fresh()
    runs: dict[int, str] = {}
    async with h.workers(1):
        for entries, tasks in SIZES.items():
            runs[entries] = await _build(h, tasks)
    # The worker is stopped: nothing else touches Redis or the event loop while resumes are timed.
    result: dict[str, Any] = {
        "what": "Orchestrator(cache_size=0).advance(run) on a run parked at a gate: read the whole journal, "
                "replay the process from the top, find the gate pending, write nothing",
    }
    met = True
    for entries, run_id in runs.items():
        length = await h.client.store.journal_length(run_id)
        await _resume(h, run_id)  # warm-up: script loading, connection
        times = [await _resume(h, run_id) for _ in range(REPEATS[entries])]
        gc.disable()  # the same resumes without the cyclic GC: how much of the time is collections
        try:
            times_without_gc = [await _resume(h, run_id) for _ in range(REPEATS[entries])]
        finally:
            gc.enable()
        if await h.client.store.journal_length(run_id) != length:
            raise RuntimeError("a resume of a parked run wrote to its journal")
        stats = summary(times)
        target = TARGETS_MS[entries]
        figure: dict[str, Any] = {
            "journal_entries": length,
            "tasks": SIZES[entries],
            **{k: v for k, v in stats.items() if k in ("n", "median", "p95", "min", "max")},
            "phases_median_ms": await _breakdown(h, run_id, REPEATS[entries]),
            "median_with_gc_disabled": round(statistics.median(times_without_gc), 3),
            "target": f"median <= {target} ms",
            "meets_target": stats["median"] <= target,
        }
        log(f"{NAME}: {length} entries: median {stats['median']} ms (target {target} ms)")
        if not figure["meets_target"]:
            log(f"{NAME}: target missed for {length} entries; profiling one resume")
            figure["profile_one_resume_top_by_own_time"] = await profile(lambda rid=run_id: _resume(h, rid))
        met = met and figure["meets_target"]
        result[f"journal_{entries}"] = figure
    result["meets_target"] = met
    return result
