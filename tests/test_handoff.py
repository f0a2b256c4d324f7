"""A worker without a process's definition leaves its runs to one that has it (issue 11 §7).

Workers are real ``shepherd worker`` processes here: what a worker has loaded is its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from redis.asyncio import Redis

from engine.client import ShepherdClient
from engine.registry import PROCESSES, TASKS, _import_file
from engine.settings import Settings
from engine.worker import Worker
from state import keys
from tests.helpers import ROOT, start_worker, stop_worker, wait_for, worker_env

FLOWS = ROOT / "tests" / "handoff_examples"


async def until(condition: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.02)


async def test_a_worker_lacking_the_process_leaves_the_run_to_one_that_has_it(
        redis: Redis, client: ShepherdClient, redis_url: str, tmp_path: Path) -> None:
    _import_file(FLOWS / "handoff_flow.py")  # the front end has it, so it can start the run
    empty = tmp_path / "no-plugins"
    empty.mkdir()
    lacking_log, having_log = tmp_path / "lacking.log", tmp_path / "having.log"
    lacking = start_worker(worker_env(redis_url, tmp_path / "a", processes_path=str(empty)), lacking_log)
    having = None
    try:
        await until(lambda: "started" in lacking_log.read_text(), what="the lacking worker starts")
        run_id = await client.start("handoff-demo", {}, requester="alice")
        said = "has no process 'handoff-demo' loaded"
        await until(lambda: said in lacking_log.read_text(), what="the lacking worker says so")
        assert (await client.view(run_id)).status not in ("failed", "completed")

        having = start_worker(worker_env(redis_url, tmp_path / "b", processes_path=str(FLOWS)), having_log)
        run = await wait_for(client, run_id, timeout=30)
        assert run.status == "completed", run
        journal = await client.store.read_journal(run_id)
        assert journal[-1]["result"] == ["did one", "did two"]
        assert not [e for e in journal if e["type"] == "run_failed" or e.get("ok") is False]
    finally:
        stop_worker(lacking)
        if having is not None:
            stop_worker(having)
    assert lacking_log.read_text().count(said) == 1, lacking_log.read_text()  # said once, not per wake


async def test_a_task_no_worker_has_yet_waits_for_one_without_using_attempts(
        redis: Redis, client: ShepherdClient, settings: Settings) -> None:
    _import_file(FLOWS / "handoff_flow.py")
    step = TASKS.by_name.pop("handoff.step")  # this worker lacks the task (its process it has)
    worker = Worker(redis, settings)
    running = asyncio.create_task(worker.run())
    try:
        run_id = await client.start("handoff-demo", {}, requester="alice")
        await until(lambda: ("task", "handoff.step") in worker.handoff.lacking, what="the worker notices")
        [entry] = await redis.xrange(keys.TASKS_STREAM)  # still queued, handed back
        assert int(entry[1].get("handoffs", 0)) >= 1
        assert (await client.view(run_id)).status == "running"

        TASKS.by_name["handoff.step"] = step  # a worker that has it turns up
        run = await wait_for(client, run_id)
        assert run.status == "completed", run
        resolved = [e for e in await client.store.read_journal(run_id) if e["type"] == "effect_resolved"]
        assert [e.get("attempt", 1) for e in resolved] == [1, 1]  # no attempt was spent while it waited
    finally:
        TASKS.by_name["handoff.step"] = step
        worker.stop()
        await asyncio.wait_for(running, 15)


async def test_an_ended_run_needs_no_definition_to_be_woken(redis: Redis, client: ShepherdClient,
                                                             settings: Settings) -> None:
    """A late wake for a finished run (a sweep, a redelivery) is simply done, even where its
    process is not loaded: it is not passed from worker to worker for ever."""
    _import_file(FLOWS / "handoff_flow.py")
    worker = Worker(redis, settings)
    running = asyncio.create_task(worker.run())
    definition = PROCESSES["handoff-demo"]
    try:
        run_id = await client.start("handoff-demo", {}, requester="alice")
        assert (await wait_for(client, run_id)).status == "completed"
        del PROCESSES["handoff-demo"]
        await client.queue.enqueue_wake(run_id)

        async def drained() -> bool:
            return await redis.xlen(keys.WAKE_STREAM) == 0

        deadline = asyncio.get_running_loop().time() + 10
        while not await drained():
            assert asyncio.get_running_loop().time() < deadline, "the wake was never consumed"
            await asyncio.sleep(0.02)
        assert worker.handoff.lacking == set()
    finally:
        PROCESSES["handoff-demo"] = definition
        worker.stop()
        await asyncio.wait_for(running, 15)
