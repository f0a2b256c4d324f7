"""Worker behaviour: heartbeats, the concurrency limit, graceful shutdown, embedded Redis."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from redis.asyncio import Redis

from engine.client import ShepherdClient
from engine.settings import Settings
from engine.worker import Worker
from shepherd.discovery import load_processes
from state.connection import connect
from state.embedded import ensure_embedded_redis
from tests.helpers import start_worker, wait_for, wait_for_gate, worker_env

BEHAVIOURS = Path(__file__).parent / "engine_examples"
load_processes(str(BEHAVIOURS))


def _point_tasks_at(redis_url: str) -> None:
    sys.modules["shepherd_custom.behaviours"].REDIS_URL["url"] = redis_url


async def test_long_task_heartbeats_and_is_not_reclaimed(client: ShepherdClient, redis: Redis, redis_url: str,
                                                         settings: Settings) -> None:
    """A task running 3x the visibility timeout, with a second idle worker watching: it runs once."""
    _point_tasks_at(redis_url)
    workers = [Worker(redis, settings, name=f"w{i}") for i in range(2)]
    loops = [asyncio.create_task(w.run()) for w in workers]
    try:
        run_id = await client.start("slow-tasks", {"seconds": 3 * settings.visibility_timeout}, requester="a")
        run = await wait_for(client, run_id, timeout=20)
        assert run.status == "completed"
        assert await redis.lrange("test:executions", 0, -1) == [f"{run_id}:slow-0"]
    finally:
        for w in workers:
            w.stop()
        await asyncio.gather(*loops)


async def test_concurrency_limit_caps_tasks_at_once(client: ShepherdClient, redis: Redis, redis_url: str,
                                                    settings: Settings) -> None:
    _point_tasks_at(redis_url)
    worker = Worker(redis, settings.model_copy(update={"concurrency": 2}))
    loop = asyncio.create_task(worker.run())
    try:
        run_id = await client.start("slow-tasks", {"seconds": 0.2, "n": 6}, requester="a")
        assert (await wait_for(client, run_id, timeout=20)).status == "completed"
        assert await redis.get("test:max-running") == "2"
        assert await redis.llen("test:executions") == 6
    finally:
        worker.stop()
        await loop


async def test_sigterm_lets_running_tasks_finish(client: ShepherdClient, redis: Redis, redis_url: str,
                                                 tmp_path: Path) -> None:
    _point_tasks_at(redis_url)
    proc = start_worker(worker_env(redis_url, tmp_path, processes_path=str(BEHAVIOURS)), tmp_path / "w.log")
    try:
        run_id = await client.start("slow-tasks", {"seconds": 1.5}, requester="a")
        for _ in range(500):
            if await redis.get("test:running") == "1":
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the task never started: " + (tmp_path / "w.log").read_text())
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 20)
        assert code == 0, (tmp_path / "w.log").read_text()
        resolved = [e for e in await client.store.read_journal(run_id) if e["type"] == "effect_resolved"]
        assert [e["ok"] for e in resolved] == [True]  # the task finished and was committed before exit
        assert await redis.get("test:running") == "0"
        assert "stopping; waiting for" in (tmp_path / "w.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_embedded_redis_keeps_data_in_the_data_dir_with_aof(tmp_path: Path) -> None:
    url = ensure_embedded_redis(tmp_path / "data")
    assert url.startswith("unix://")
    redis = await connect(url)
    try:
        assert (await redis.config_get("appendonly"))["appendonly"] == "yes"
        assert (await redis.config_get("dir"))["dir"] == str((tmp_path / "data").resolve())
        assert (await redis.info("server"))["redis_version"].startswith("6.2")
        assert ensure_embedded_redis(tmp_path / "data") == url  # joined, not started twice
    finally:
        await redis.aclose()


async def test_runs_are_indexed_by_status_requester_and_channel(client: ShepherdClient, worker) -> None:
    a = await client.start("gate-demo", {}, requester="alice", channel="C1")
    b = await client.start("gate-demo", {}, requester="bob", channel="C2")
    await wait_for(client, a, "waiting")
    await wait_for(client, b, "waiting")
    assert {r["id"] for r in await client.list_runs(status="waiting")} == {a, b}
    assert [r["id"] for r in await client.list_runs(requester="bob")] == [b]
    assert await client.store.list_runs(channel="C1") == [a]
    await client.cancel(a, by="alice")
    assert [r["id"] for r in await client.list_runs(status="waiting")] == [b]
    assert [r["id"] for r in await client.list_runs(status="cancelled")] == [a]


async def test_runs_carry_on_after_redis_loses_its_scripts(client: ShepherdClient, worker, redis: Redis) -> None:
    """A restarted Redis has an empty script cache: pipelined EVALSHAs meet NOSCRIPT and recover."""
    run_id = await client.start("approval-demo", {"service": "svc"}, requester="alice")
    gate = await wait_for_gate(client, run_id)
    await redis.script_flush()
    await client.decide(run_id, gate["key"], user="bob", approve=True)
    ask = await wait_for_gate(client, run_id)
    await redis.script_flush()
    await client.answer(run_id, ask["key"], user="bob", values={"summary": "ok"})
    run = await wait_for(client, run_id)
    assert run.status == "completed", run.meta.get("error")
    assert [s.state for s in run.steps] == ["done"] * len(run.steps)
