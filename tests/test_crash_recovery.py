"""Crash recovery against real Redis and real worker processes.

Workers are ``shepherd worker`` subprocesses killed with SIGKILL, either by the
test or by a failpoint (``SHEPHERD_FAILPOINTS``). Tasks record each execution
in a ledger file (``tests/crash_examples/crash_flows.py``), so every test can
say exactly how many times each effect ran, and with which idempotency key.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from engine.client import ShepherdClient
from engine.executors import TaskContext, run_task
from engine.journal import TERMINAL, Event, now_iso
from engine.runtime import Orchestrator
from engine.settings import Settings
from engine.worker import Worker
from shepherd.discovery import load_processes
from state import keys
from state.queue import WorkQueue
from state.store import RunStore
from state.timers import Timers, member
from tests.helpers import check_journal, read_ledger, stop_worker, worker_env
from tests.killing import KILLED, Spawn, eventually, logs, wait_dead_leases, wait_exit

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

CRASH_EXAMPLES = Path(__file__).parent / "crash_examples"
load_processes(str(CRASH_EXAMPLES))

RUNS = 5
FLOW_STEPS = ["first", "second", "fan-0", "fan-1", "fan-2", "last"]
# -- helpers ---------------------------------------------------------------------------------


def crash_env(redis_url: str, tmp_path: Path, failpoints: str = "", **extra: str) -> dict[str, str]:
    return worker_env(redis_url, tmp_path / "data", failpoints=failpoints, processes_path=str(CRASH_EXAMPLES),
                      **extra)


async def statuses(redis: Redis, run_ids: list[str]) -> dict[str, str]:
    return {run_id: await redis.hget(keys.meta(run_id), "status") or "?" for run_id in run_ids}


async def wait_runs(redis: Redis, run_ids: list[str], tmp_path: Path, timeout: float = 25.0,
                    status: str = "completed") -> None:
    """Wait until every run has ``status``; fail at once if one ends otherwise."""
    ended = {t.removeprefix("run_") for t in TERMINAL}
    now: dict[str, str] = {}

    async def reached() -> bool:
        now.update(await statuses(redis, run_ids))
        wrong = {r: (await store_error(redis, r)) for r, s in now.items() if s in ended and s != status}
        assert not wrong, f"runs ended otherwise: {wrong}\n{logs(tmp_path)}"
        return all(s == status for s in now.values())

    await eventually(reached, timeout, lambda: f"runs to be {status}: {now}\n{logs(tmp_path)}")


async def store_error(redis: Redis, run_id: str) -> str:
    meta = await redis.hgetall(keys.meta(run_id))
    return f"{meta.get('status')}: {meta.get('error')}"


def at(event: Event) -> float:
    return datetime.fromisoformat(event["at"]).timestamp()


# -- a worker killed in the middle of a flow ---------------------------------------------------

SCENARIOS = {
    # The test SIGKILLs the worker while the second step of a run blocks (it wrote its marker file).
    "sigkill-mid-task": "",
    # Failpoints: SIGKILL at the n-th time the worker reaches that point.
    "replay": "replay:8",  # a run replayed, its new requests not yet appended
    "after_append": "after_append:4",  # requests journaled, not yet queued (at most 4: none is a completion)
    "task_finished": "task_finished:8",  # a task's body returned, its result not yet committed
    "after_commit": "after_commit:8",  # a result committed, its queue entry not yet acknowledged
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_killed_worker_recovers_every_run_exactly(scenario: str, redis: Redis, redis_url: str,
                                                        tmp_path: Path, spawn: Spawn) -> None:
    """Five runs, the worker dies mid-flow, a new one finishes them: every effect once, in journal and world.

    The only effects that run twice are those the dead worker had started and
    not committed: they run again on the new worker with the same idempotency key.
    """
    client = ShepherdClient(redis)
    store = RunStore(redis)
    ledger, markers = tmp_path / "ledger.jsonl", tmp_path / "markers"
    markers.mkdir()
    inputs: dict[str, Any] = {"ledger": str(ledger)}
    if scenario == "sigkill-mid-task":
        inputs.update(marker_dir=str(markers), block_seconds=2.0)
    run_ids = [await client.start("crash-flow", inputs, requester="crash") for _ in range(RUNS)]

    first = spawn(crash_env(redis_url, tmp_path, SCENARIOS[scenario]), "first")
    marker: tuple[str, str] | None = None
    if scenario == "sigkill-mid-task":
        async def running() -> bool:
            return any(markers.iterdir())

        await eventually(running, 20, lambda: f"a blocking task to start\n{logs(tmp_path)}")
        first.kill()
        run_id, _, step = next(markers.iterdir()).name.removesuffix(".running").partition("-")
        marker = (run_id, step)
    assert await wait_exit(first, 20, tmp_path) == KILLED, logs(tmp_path)

    # What the dead worker left behind.
    at_death = {run_id: await store.effect_states(run_id) for run_id in run_ids}
    assert any(s != "completed" for s in (await statuses(redis, run_ids)).values()), "the crash was not mid-flow"
    ran_on_dead = {k for k, recs in read_ledger(ledger).items() if any(r["pid"] == first.pid for r in recs)}
    for run_id, step in ran_on_dead:
        assert at_death[run_id][step] in ("running", "resolved"), (step, at_death[run_id])
    uncommitted = {(r, s) for r, s in ran_on_dead if at_death[r][s] == "running"}
    if scenario == "sigkill-mid-task":
        assert marker in uncommitted
    elif scenario == "task_finished":
        assert uncommitted, "the failpoint's task should have run and not been committed"
    elif scenario == "after_commit":
        pending = await redis.xpending_range(keys.TASKS_STREAM, keys.CONSUMER_GROUP, "-", "+", 100)
        committed_unacked = []
        for entry in pending:
            [(_, fields)] = await redis.xrange(keys.TASKS_STREAM, entry["message_id"], entry["message_id"])
            if at_death[fields["run"]][fields["key"]] == "resolved":
                committed_unacked.append((fields["run"], fields["key"]))
        assert committed_unacked, "the failpoint's task should be committed but not acknowledged"
    elif scenario == "after_append":
        assert any([await store.undispatched(r) for r in run_ids]), "journaled requests should await dispatch"
    elif scenario == "replay":
        assert any([await redis.exists(keys.lock(r)) for r in run_ids]), "the dying replay held a run's lock"

    await wait_dead_leases(redis, run_ids, first.pid)
    second = spawn(crash_env(redis_url, tmp_path), "second")
    try:
        await wait_runs(redis, run_ids, tmp_path)
    finally:
        assert stop_worker(second) == 0, logs(tmp_path)

    executions = read_ledger(ledger)
    assert set(executions) == {(r, s) for r in run_ids for s in FLOW_STEPS}
    for run_id in run_ids:
        events = await store.read_journal(run_id)
        resolutions = check_journal(events)
        assert set(resolutions) == set(FLOW_STEPS)
        assert all(e["ok"] for e in resolutions.values())
        assert events[-1]["result"] == {"steps": [f"{s}@{s}" for s in FLOW_STEPS]}
        for step in FLOW_STEPS:
            records = executions[(run_id, step)]
            expected = 2 if (run_id, step) in uncommitted else 1
            assert len(records) == expected, (run_id, step, records)
            assert {r["key"] for r in records} == {f"{run_id}:{step}"}
            assert [r["attempt"] for r in records] == sorted({r["attempt"] for r in records})
            assert resolutions[step].get("attempt", 1) == records[-1]["attempt"]  # journaled when > 1
            if expected == 2:
                assert [r["pid"] for r in records] == [first.pid, second.pid]
    twice = sum(len(recs) == 2 for recs in executions.values())
    assert twice == len(uncommitted)


# -- durable sleep -------------------------------------------------------------------------------


async def test_durable_sleep_survives_a_worker_killed_mid_sleep(redis: Redis, redis_url: str, tmp_path: Path,
                                                                spawn: Spawn) -> None:
    client, store = ShepherdClient(redis), RunStore(redis)
    ledger = tmp_path / "ledger.jsonl"
    first = spawn(crash_env(redis_url, tmp_path), "first")
    run_id = await client.start("crash-sleep", {"ledger": str(ledger), "seconds": 2.0}, requester="sleepy")

    nap: dict[str, Event] = {}

    async def napping() -> bool:
        found = [e for e in await store.read_journal(run_id) if e.get("key") == "nap"]
        nap.update((e["type"], e) for e in found)
        return "effect_requested" in nap

    await eventually(napping, 20, lambda: f"the sleep to start\n{logs(tmp_path)}")
    requested = nap["effect_requested"]
    await asyncio.sleep(max(0.0, at(requested) + 0.5 - time.time()))
    first.kill()
    assert await wait_exit(first, 10, tmp_path) == KILLED
    assert "effect_resolved" not in {e["type"] for e in await store.read_journal(run_id) if e.get("key") == "nap"}
    assert await redis.zscore(keys.TIMERS, member("sleep", run_id, "nap")) is not None

    second = spawn(crash_env(redis_url, tmp_path), "second")
    try:
        await wait_runs(redis, [run_id], tmp_path, timeout=15)
    finally:
        assert stop_worker(second) == 0, logs(tmp_path)

    events = await store.read_journal(run_id)
    resolutions = check_journal(events)
    assert set(resolutions) == {"before", "nap", "after"}
    executions = read_ledger(ledger)
    assert {s: len(executions[(run_id, s)]) for s in ("before", "after")} == {"before": 1, "after": 1}
    assert [r["pid"] for r in executions[(run_id, "after")]] == [second.pid]
    fire_at = datetime.fromisoformat(requested["args"]["fire_at"]).timestamp()
    assert at(resolutions["nap"]) >= fire_at - 0.01
    assert at(events[-1]) - at(requested) >= 2.0
    assert await redis.zscore(keys.TIMERS, member("sleep", run_id, "nap")) is None


# -- two orchestrators on one run ------------------------------------------------------------------


class LockFreeStore(RunStore):
    """A store whose run lock always says yes: orchestrators using it never exclude each other.

    It counts the outcomes of its fenced appends: applied, fenced (stale journal), closed (run ended).
    """

    def __init__(self, redis: Redis, outcomes: Counter[str]) -> None:
        super().__init__(redis)
        self.outcomes = outcomes

    async def try_lock(self, run_id: str, token: str, ttl_s: float) -> bool:
        return True

    async def lock_and_read(self, run_id: str, token: str, ttl_s: float, start: int,
                            resolve: tuple[str, Event] | None = None) -> tuple[bool, list[Event]]:
        if resolve is not None:  # commit, as the real one does, but take no lock
            await self.resolve(run_id, *resolve)
        return True, await self.read_journal(run_id, start)

    async def append(self, run_id: str, expected_seq: int, events: list[Event],
                     new_effects: list[tuple[str, bool]], gates: dict[str, dict[str, Any]],
                     meta: dict[str, str], **settled: Any) -> tuple[int, int, str]:
        reply = await super().append(run_id, expected_seq, events, new_effects, gates, meta, **settled)
        self.outcomes[{1: "applied", 0: "fenced", -1: "closed"}[reply[0]]] += 1
        return reply


class RacingStore(RunStore):
    """A store whose appends wait for each other: both writers have replayed the same journal first."""

    barrier: asyncio.Barrier | None = None

    async def append(self, run_id: str, expected_seq: int, events: list[Event],
                     new_effects: list[tuple[str, bool]], gates: dict[str, dict[str, Any]],
                     meta: dict[str, str], **settled: Any) -> tuple[int, int, str]:
        if self.barrier is not None:
            await asyncio.wait_for(self.barrier.wait(), 5)
        return await super().append(run_id, expected_seq, events, new_effects, gates, meta, **settled)


class CountingQueue(WorkQueue):
    """Counts the task entries an orchestrator queues, by idempotency key."""

    def __init__(self, redis: Redis, counts: Counter[str]) -> None:
        super().__init__(redis)
        self.counts = counts

    def enqueue_task(self, run_id: str, request: dict[str, Any], client: Any = None) -> Any:
        self.counts[f"{run_id}:{request['key']}"] += 1
        return super().enqueue_task(run_id, request, client)


def orchestrator(redis: Redis, store: RunStore | None = None) -> Orchestrator:
    store = store or RunStore(redis)
    return Orchestrator(store, WorkQueue(redis), Timers(redis, store.scripts), lock_ttl=5.0)


async def execute_queued(redis: Redis, seen: Counter[str]) -> int:
    """Act as a worker for every queued task (start, run, commit, acknowledge); count entries per key."""
    store, done = RunStore(redis), 0
    for entry_id, fields in await redis.xrange(keys.TASKS_STREAM):
        run_id, key = fields["run"], fields["key"]
        seen[f"{run_id}:{key}"] += 1
        verdict, detail, _ = await store.start_task(run_id, key, "simulated", 10_000, entry_id)
        if verdict == "go":
            async def beat() -> None:
                return None

            args = json.loads(fields["args"])
            tctx = TaskContext(run_id=run_id, step=key, attempt=int(detail), heartbeat=beat)
            value = await run_task(fields["name"], args, tctx)
            await store.resolve(run_id, key, {"type": "effect_resolved", "key": key, "ok": True, "value": value,
                                              "at": now_iso(), "attempt": int(detail)})
            done += 1
        await redis.xdel(keys.TASKS_STREAM, entry_id)
    return done


async def test_two_orchestrators_racing_each_step_fence_each_other(redis: Redis, tmp_path: Path) -> None:
    """Both replay the same journal and append at once: one wins, the other is fenced and catches up."""
    client, store = ShepherdClient(redis), RunStore(redis)
    ledger = tmp_path / "ledger.jsonl"
    run_id = await client.start("crash-flow", {"ledger": str(ledger)}, requester="race")
    stores = RacingStore(redis), RacingStore(redis)
    one, two = orchestrator(redis, stores[0]), orchestrator(redis, stores[1])
    entries: Counter[str] = Counter()
    rounds = []
    for _ in range(20):
        before = await store.journal_length(run_id)
        stores[0].barrier = stores[1].barrier = asyncio.Barrier(2)
        results = await asyncio.gather(one._iterate(run_id), two._iterate(run_id))
        stores[0].barrier = stores[1].barrier = None
        after = await store.journal_length(run_id)
        assert after > before, "each round has something new to append"
        final = (await store.meta(run_id))["status"] == "completed"
        # Exactly one append won; the other was fenced (-1) or, once the run ended, found it closed (None).
        assert sorted(results, key=str) == sorted([after, None if final else -1], key=str), (results, after)
        loser = (one, two)[results.index(None if final else -1)]
        # The loser carries on from the new state: nothing left to append.
        assert await loser._iterate(run_id) == (None if final else after)
        assert await store.journal_length(run_id) == after
        rounds.append(after - before)
        if final:
            break
        assert await execute_queued(redis, entries) >= 1
    else:
        raise AssertionError(f"run never completed: {await store.meta(run_id)}")

    assert len(rounds) == 5  # first, second, the fan-out, last, completion
    resolutions = check_journal(await store.read_journal(run_id))
    assert set(resolutions) == set(FLOW_STEPS)
    assert entries == Counter(f"{run_id}:{s}" for s in FLOW_STEPS)  # each task queued exactly once
    executions = read_ledger(ledger)
    assert {s: len(executions[(run_id, s)]) for s in FLOW_STEPS} == dict.fromkeys(FLOW_STEPS, 1)
    assert await store.undispatched(run_id) == set()


async def test_workers_and_orchestrators_without_locks_run_every_effect_once(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    """Two workers whose run locks never exclude, plus a loop advancing every run from both at once."""
    client, store = ShepherdClient(redis), RunStore(redis)
    ledger = tmp_path / "ledger.jsonl"
    workers = [Worker(redis, settings, name=f"lockless-{i}") for i in range(2)]
    queued: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    for worker in workers:
        worker.orchestrator.store = LockFreeStore(redis, outcomes)
        worker.orchestrator.queue = CountingQueue(redis, queued)
    loops = [asyncio.create_task(w.run()) for w in workers]
    run_ids = [await client.start("crash-flow", {"ledger": str(ledger)}, requester="race") for _ in range(RUNS)]
    try:
        deadline = time.monotonic() + 25
        while set((await statuses(redis, run_ids)).values()) != {"completed"}:
            assert time.monotonic() < deadline, await statuses(redis, run_ids)
            await asyncio.gather(*(w.orchestrator.advance(r) for r in run_ids for w in workers),
                                 *(w.orchestrator._iterate(r) for r in run_ids for w in workers))
    finally:
        for worker in workers:
            worker.stop()
        await asyncio.gather(*loops)

    executions = read_ledger(ledger)
    for run_id in run_ids:
        resolutions = check_journal(await store.read_journal(run_id))
        assert set(resolutions) == set(FLOW_STEPS)
        assert {s: len(executions[(run_id, s)]) for s in FLOW_STEPS} == dict.fromkeys(FLOW_STEPS, 1)
    assert sum(len(recs) for recs in executions.values()) == RUNS * len(FLOW_STEPS)
    # One append won at each of the 5 steps of each run (first, second, fan-out, last, completion);
    # every other attempt was refused.
    assert outcomes["applied"] == 5 * RUNS, outcomes
    assert outcomes["fenced"] > 0, f"the orchestrators never raced: {outcomes}"
    # Racing orchestrators may queue a task twice (a cold load re-dispatches requests the winner has
    # journaled but not yet marked dispatched); start_task makes sure such a duplicate never runs.
    assert set(queued) == {f"{r}:{s}" for r in run_ids for s in FLOW_STEPS}


# -- dead letters ------------------------------------------------------------------------------------


async def test_task_whose_worker_always_dies_becomes_a_dead_letter(redis: Redis, redis_url: str,
                                                                   tmp_path: Path, spawn: Spawn) -> None:
    client, store, queue = ShepherdClient(redis), RunStore(redis), WorkQueue(redis)
    ledger = tmp_path / "ledger.jsonl"
    env = crash_env(redis_url, tmp_path, "task_started", SHEPHERD_MAX_DELIVERIES="2")
    run_id = await client.start("crash-one", {"ledger": str(ledger)}, requester="doomed")

    deaths = []
    survivor: subprocess.Popen[bytes] | None = None
    for n in range(4):
        proc = spawn(env, f"worker-{n}")

        async def settled(proc: subprocess.Popen[bytes] = proc) -> bool:
            return proc.poll() is not None or (await store.meta(run_id)).get("status") == "failed"

        await eventually(settled, 20, lambda: f"a death or the run's failure\n{logs(tmp_path)}")
        if proc.poll() is None:
            survivor = proc
            break
        assert proc.returncode == KILLED, logs(tmp_path)
        deaths.append(proc.pid)
        await wait_dead_leases(redis, [run_id], proc.pid)
    assert survivor is not None, f"still no dead letter after {len(deaths)} deaths\n{logs(tmp_path)}"
    assert len(deaths) == 2  # delivered twice (max_deliveries), abandoned at the third delivery

    meta = await store.meta(run_id)
    assert meta["status"] == "failed"
    assert "abandoned after 3 deliveries" in meta["error"], meta["error"]
    resolutions = check_journal(await store.read_journal(run_id), outcome="run_failed")
    assert resolutions["only"]["ok"] is False and resolutions["only"]["error"]["type"] == "DeadLetter"
    letters = [d for d in await queue.dead_letters() if d["stream"] == keys.TASKS_STREAM]
    assert [(d["run"], d["key"], d["deliveries"]) for d in letters] == [(run_id, "only", "3")]
    assert "abandoned" in letters[0]["reason"]
    assert all(d["stream"] == keys.WAKE_STREAM for d in await queue.dead_letters() if d not in letters)

    # Not retried forever: the survivor still has the task_started failpoint armed, so starting
    # the task again would kill it. It outlives several reclaim rounds, and nothing is left to run.
    horizon = time.monotonic() + 2 * float(env["SHEPHERD_VISIBILITY_TIMEOUT"])
    while time.monotonic() < horizon:
        assert survivor.poll() is None, logs(tmp_path)
        await asyncio.sleep(0.1)
    assert await store.effect_states(run_id) == {"only": "resolved"}  # resolved as dead, never started again
    assert await redis.xlen(keys.TASKS_STREAM) == 0
    assert not read_ledger(ledger)  # the body never ran: each worker died as it started the task
    assert stop_worker(survivor) == 0, logs(tmp_path)


# -- regressions for engine bugs these tests found ----------------------------------------------------------------


async def test_reclaimed_entry_of_a_task_whose_lease_has_not_expired_is_not_lost(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    """A worker takes a task, is slow to start it (0.8 s), starts it and dies before its first heartbeat.

    Its queue entry becomes reclaimable a visibility timeout after *delivery*
    but its lease ends a visibility timeout after *start*: a worker reclaiming
    in between gets "busy" from start_task and acknowledges (deletes) the entry.
    The effect then stays "running" with an expired lease and no entry: it never
    runs and the run never ends.
    """
    client, store = ShepherdClient(redis), RunStore(redis)
    run_id = await client.start("crash-one", {"ledger": str(tmp_path / "ledger.jsonl")}, requester="ghost")
    await orchestrator(redis).advance(run_id)
    entries = await WorkQueue(redis).read("ghost", count=10, block_ms=100)
    assert [e.fields["key"] for e in entries if e.stream == keys.TASKS_STREAM] == ["only"]
    await asyncio.sleep(0.8)  # a busy event loop; any delay between delivery and start opens the window
    task_entry = next(e for e in entries if e.stream == keys.TASKS_STREAM)
    started = await store.start_task(run_id, "only", "ghost", int(settings.visibility_timeout * 1000), task_entry.id)
    assert started[0] == "go"
    # ... and the ghost dies here. A healthy worker takes over.
    worker = Worker(redis, settings)
    loop = asyncio.create_task(worker.run())
    try:
        async def completed() -> bool:
            return (await store.meta(run_id)).get("status") == "completed"

        async def state() -> str:
            return f"{await store.effect_states(run_id)}, {await redis.xlen(keys.TASKS_STREAM)} entries queued"

        snapshot: list[str] = []

        async def check() -> bool:
            snapshot[:] = [await state()]
            return await completed()

        await eventually(check, 8, lambda: f"the task to run after its lease expired: {snapshot}")
    finally:
        worker.stop()
        await loop


async def test_crash_after_the_completing_append_leaves_the_status_index_right(
        redis: Redis, redis_url: str, tmp_path: Path, spawn: Spawn) -> None:
    """Killed after appending run_completed (append 2 of a one-task run) and before reindexing its status."""
    client, store = ShepherdClient(redis), RunStore(redis)
    run_id = await client.start("crash-one", {"ledger": str(tmp_path / "ledger.jsonl")}, requester="idx")
    first = spawn(crash_env(redis_url, tmp_path, "after_append:2"), "first")
    assert await wait_exit(first, 20, tmp_path) == KILLED, logs(tmp_path)
    assert (await store.meta(run_id))["status"] == "completed"
    await wait_dead_leases(redis, [run_id], first.pid)
    second = spawn(crash_env(redis_url, tmp_path), "second")
    try:
        async def drained() -> bool:  # the new worker took over what the dead one left (the unacked task entry)
            pending = await redis.xpending(keys.TASKS_STREAM, keys.CONSUMER_GROUP)
            return await redis.xlen(keys.TASKS_STREAM) == 0 and pending["pending"] == 0

        await eventually(drained, 15, lambda: f"the dead worker's entries to be handled\n{logs(tmp_path)}")

        async def reindexed() -> bool:  # once the dead worker's run lock expires, the run is reloaded
            return (run_id in await store.list_runs(status="completed")
                    and run_id not in await store.list_runs(status="running"))

        await eventually(reindexed, 15, lambda: f"the status index to be repaired\n{logs(tmp_path)}")
    finally:
        assert stop_worker(second) == 0, logs(tmp_path)
