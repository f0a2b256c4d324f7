"""10,000 parked runs: what runs waiting on people cost, in Redis and in a worker.

Why: gates can stay open for days, so the number of runs parked at one is the
number that grows. Each must cost a few KiB of Redis and nothing at all in a
worker (no warm coroutine, no cache entry), or a busy team's backlog would pin
worker memory. Each run is a typical release (three tasks, then a four-eyes
gate), started with ``ShepherdClient.start`` and driven by an in-process worker
(concurrency 50 rather than the default 10, only so that 10,000 runs park in
about a minute and a half; the memory figures do not depend on it).

``SHEPHERD_BENCH_PARKED_RUNS=1000`` runs a smaller version for a quick look.

Redis memory per run is the INFO ``used_memory`` delta over the 10,000 runs
(everything: run keys, global indexes, allocator rounding), cross-checked with
``MEMORY USAGE`` of a sample of runs' keys plus their share of the indexes.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import time
from typing import Any

from benchmarks.harness import Harness, log, rss_bytes, wait_until
from engine.context import Execution
from engine.worker import Worker
from state import keys

NAME = "parked_runs"
RUNS = int(os.environ.get("SHEPHERD_BENCH_PARKED_RUNS", "10000"))
WARMUP_RUNS = 100
#: Worker concurrency, and how many runs may be between started and parked at once. The window
#: stays below the concurrency: a worker with every slot taken stops reading tasks for up to a
#: second (engine/worker.py ``_read_loop``), which would measure that stall, not the engine.
WORKER_CONCURRENCY = 50
WINDOW = 32
SAMPLE = 200
TARGET_BYTES = 4096
REQUESTERS = [f"U0{i:03d}DEV" for i in range(25)]
CHANNEL = "C0DEPLOYS1"


async def _start(h: Harness, count: int, offset: int, started: list[str], window: int) -> None:
    """Start ``count`` runs, keeping at most ``window`` of them between started and parked.

    Why a window: a worker whose ``concurrency`` slots are all taken reads only
    the wake stream, blocking up to a second, and nothing ends that wait when a
    slot frees (engine/worker.py ``_read_loop``). A burst of thousands of runs
    would measure that stall (about ``concurrency`` tasks a second) instead of
    the engine. Runs arriving a few dozen at a time is also closer to what a
    chat front end produces.
    """
    i = 0
    while i < count:
        in_flight = len(started) - await _parked(h)
        if in_flight >= window:
            await asyncio.sleep(0.002)
            continue
        batch = min(window - in_flight, count - i)
        await asyncio.gather(*(_start_one(h, offset + i + j, started) for j in range(batch)))
        i += batch


async def _start_one(h: Harness, i: int, started: list[str]) -> None:
    inputs = {"service": f"service-{i % 40}", "version": f"2.{i // 100}.{i % 100}", "approvers": ["U0ALICE", "U0BOB"]}
    started.append(await h.client.start("bench-parked", inputs, requester=REQUESTERS[i % len(REQUESTERS)],
                                        channel=CHANNEL))


async def _parked(h: Harness) -> int:
    return int(await h.redis.zcard(keys.status_index("waiting")))


async def _settled(h: Harness, expected: int) -> bool:
    """All runs parked, both queues empty and nothing pending: the worker is idle."""
    if await _parked(h) < expected:
        return False
    for stream in (keys.WAKE_STREAM, keys.TASKS_STREAM):
        if await h.redis.xlen(stream) or (await h.redis.xpending(stream, keys.CONSUMER_GROUP))["pending"]:
            return False
    return True


async def _used_memory(h: Harness) -> dict[str, int]:
    info = await h.redis.info("memory")
    return {"used_memory": int(info["used_memory"]), "used_memory_dataset": int(info["used_memory_dataset"])}


async def _memory_usage(h: Harness, key: str) -> int:
    return int(await h.redis.memory_usage(key, samples=0) or 0)


async def _sampled_bytes(h: Harness, run_ids: list[str], total_runs: int) -> dict[str, Any]:
    """MEMORY USAGE of a sample of runs' own keys, by key, plus each run's share of the global indexes."""
    parts: dict[str, list[int]] = {"journal": [], "meta": [], "effects": [], "gates": [], "other": []}
    for run_id in run_ids:
        sizes = {name: await _memory_usage(h, getattr(keys, name)(run_id))
                 for name in ("journal", "meta", "effects", "gates")}
        other = sum([await _memory_usage(h, keys.undispatched(run_id)), await _memory_usage(h, keys.lock(run_id))])
        for name, size in sizes.items():
            parts[name].append(size)
        parts["other"].append(other)
    per_key = {name: round(statistics.fmean(values)) for name, values in parts.items()}
    indexes = [keys.status_index("waiting"), keys.channel_index(CHANNEL),
               *(keys.requester_index(r) for r in REQUESTERS)]
    index_bytes = sum([await _memory_usage(h, key) for key in indexes])
    own = sum(per_key.values())
    return {"sampled_runs": len(run_ids), "run_keys_bytes_by_key": per_key, "run_keys_bytes": own,
            "index_share_bytes": round(index_bytes / total_runs), "total_bytes": own + round(index_bytes / total_runs)}


def _live_executions() -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, Execution))


async def _progress(h: Harness, started: list[str], expected: int, since: float) -> None:
    while True:
        await asyncio.sleep(5)
        parked = await _parked(h) - WARMUP_RUNS
        log(f"{NAME}: {len(started) - WARMUP_RUNS}/{expected - WARMUP_RUNS} started, {parked} parked "
            f"({parked / (time.perf_counter() - since):.0f} runs/s)")


def _cache_entries(workers: list[Worker]) -> int:
    return sum(len(w.orchestrator._cache) for w in workers)


async def run(h: Harness) -> dict[str, Any]:
    await h.fresh()
    async with h.workers(1, concurrency=WORKER_CONCURRENCY) as workers:
        started: list[str] = []
        # Warm-up runs stay parked: the figures are deltas over the RUNS started after them.
        await _start(h, WARMUP_RUNS, 0, started, WINDOW)
        await wait_until(lambda: _settled(h, WARMUP_RUNS), timeout=120, interval=0.1, what="warm-up runs to park")
        gc.collect()
        await asyncio.sleep(1.5)  # let the AOF buffer drain
        before, rss_before = await _used_memory(h), rss_bytes()

        log(f"{NAME}: starting {RUNS} runs (task, task, task, four-eyes gate) with one in-process worker")
        total = WARMUP_RUNS + RUNS
        t0 = time.perf_counter()
        monitor = asyncio.create_task(_progress(h, started, total, t0))
        try:
            await _start(h, RUNS, WARMUP_RUNS, started, WINDOW)
            start_s = time.perf_counter() - t0
            await wait_until(lambda: _settled(h, total), timeout=900, interval=0.25, what=f"{RUNS} runs to park")
            park_s = time.perf_counter() - t0
        finally:
            monitor.cancel()
        log(f"{NAME}: {RUNS} runs parked in {park_s:.1f} s; measuring")
        cache_entries = _cache_entries(workers)
        live = _live_executions()
        await asyncio.sleep(1.5)
        after, rss_after = await _used_memory(h), rss_bytes()
        statuses = {s: int(await h.redis.zcard(keys.status_index(s))) for s in ("running", "waiting", "failed")}
        sample = await _sampled_bytes(h, started[-SAMPLE:], total)
        journal_entries = await h.client.store.journal_length(started[-1])

    per_run = (after["used_memory"] - before["used_memory"]) / RUNS
    return {
        "what": f"{RUNS} runs of 'bench-parked' (3 tasks, then a four-eyes gate) parked at the gate, started "
                f"{WINDOW} at a time; one in-process worker (concurrency {WORKER_CONCURRENCY})",
        "runs": RUNS,
        "journal_entries_per_run": journal_entries,
        "runs_by_status": statuses,
        "redis_bytes_per_run": round(per_run),
        "redis_dataset_bytes_per_run": round((after["used_memory_dataset"] - before["used_memory_dataset"]) / RUNS),
        "redis_used_memory_delta_bytes": after["used_memory"] - before["used_memory"],
        "memory_usage_cross_check": sample,
        "worker_replay_cache_entries": cache_entries,
        "live_executions_in_worker": live,
        "worker_rss_delta_bytes": rss_after - rss_before,
        "worker_rss_delta_bytes_per_run": round((rss_after - rss_before) / RUNS),
        "start_s": round(start_s, 1),
        "start_to_all_parked_s": round(park_s, 1),
        "parked_runs_per_s": round(RUNS / park_s, 1),
        "target": f"redis_bytes_per_run <= {TARGET_BYTES} bytes (4 KiB), and nothing held in the worker",
        "meets_target": per_run <= TARGET_BYTES and cache_entries == 0 and live == 0,
    }
