"""``retry``: a failed run starts again from its last good step.

What succeeded keeps its recorded result (its task does not run again); the steps whose
failure ended the run run again with fresh attempts; the journal stays append-only.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from redis.asyncio import Redis

from engine.client import ShepherdClient
from engine.errors import RunClosed, UnknownRun
from shepherd.discovery import load_processes
from state.store import RunStore
from tests.helpers import wait_for, wait_for_gate

load_processes(str(Path(__file__).parent / "retry_examples"))
FLOWS = sys.modules["shepherd_custom.retry_flows"]


async def ran(redis: Redis, run_id: str, name: str) -> int:
    return int(await redis.get(f"test:ran:{run_id}:{name}") or 0)


async def fix(redis: Redis, run_id: str, *names: str) -> None:
    for name in names:
        await redis.set(f"test:fixed:{run_id}:{name}", 1)


async def test_retry_reruns_only_the_failed_step(client: ShepherdClient, worker, redis: Redis) -> None:
    run_id = await client.start("retry-linear", {}, requester="alice")
    failed = await wait_for(client, run_id)
    assert failed.status == "failed" and "deploy: upstream unavailable" in failed.meta["error"]
    await fix(redis, run_id, "deploy")

    message = await client.retry(run_id, by="alice")
    assert message == f"retrying run {run_id} from step 2"
    done = await wait_for(client, run_id, "completed", "failed", "cancelled")
    assert done.status == "completed", done
    assert (await ran(redis, run_id, "prepare"), await ran(redis, run_id, "deploy"),
            await ran(redis, run_id, "finish")) == (1, 2, 1)
    events = await RunStore(redis).read_journal(run_id)
    types = [e["type"] for e in events]
    assert types.count("run_failed") == 1 and types.count("run_retried") == 1 and types[-1] == "run_completed"
    retried = next(e for e in events if e["type"] == "run_retried")
    assert retried["by"] == "alice" and retried["reset"] == ["2"]
    assert "error" not in done.meta and await client.list_runs(status="failed") == []


async def test_retry_reruns_every_failed_parallel_branch(client: ShepherdClient, worker, redis: Redis) -> None:
    run_id = await client.start("retry-parallel", {}, requester="alice")
    assert (await wait_for(client, run_id)).status == "failed"
    await fix(redis, run_id, "east", "west")
    assert "from step 1, 3" in await client.retry(run_id, by="alice")
    done = await wait_for(client, run_id, "completed", "failed")
    assert done.status == "completed", done
    assert [await ran(redis, run_id, n) for n in ("east", "prepare", "west", "finish")] == [2, 1, 2, 1]


async def test_a_handled_failure_stays_handled(client: ShepherdClient, worker, redis: Redis) -> None:
    run_id = await client.start("retry-handled", {}, requester="alice")
    assert (await wait_for(client, run_id)).status == "failed"
    await fix(redis, run_id, "optional", "required")
    await client.retry(run_id, by="alice")
    done = await wait_for(client, run_id, "completed", "failed")
    assert done.status == "completed", done
    assert await ran(redis, run_id, "optional") == 1  # the process had carried on without it
    assert await ran(redis, run_id, "required") == 2
    assert done.notes == ["optional step failed; carrying on"]


async def test_a_failure_in_process_code_replays_with_the_current_code(client: ShepherdClient, worker,
                                                                       redis: Redis) -> None:
    FLOWS.BROKEN["code"] = True
    try:
        run_id = await client.start("retry-code-bug", {}, requester="alice")
        assert (await wait_for(client, run_id)).meta["error"].endswith("ValueError: bug in the process")
        assert "replays with the current code" in await client.retry(run_id, by="alice")
        assert (await wait_for(client, run_id, "failed")).status == "failed"  # still broken: fails again

        FLOWS.BROKEN["code"] = False  # the fix is deployed
        await client.retry(run_id, by="alice")
        assert (await wait_for(client, run_id, "completed")).status == "completed"
        assert (await ran(redis, run_id, "prepare"), await ran(redis, run_id, "finish")) == (1, 1)
    finally:
        FLOWS.BROKEN["code"] = True


async def test_only_failed_runs_can_be_retried(client: ShepherdClient, worker, redis: Redis) -> None:
    with pytest.raises(UnknownRun):
        await client.retry("nosuchrun", by="alice")
    waiting = await client.start("gate-demo", {"release": "r1"}, requester="alice")
    await wait_for_gate(client, waiting)
    with pytest.raises(RunClosed, match="is waiting; only a failed run can be retried"):
        await client.retry(waiting, by="alice")
    await client.cancel(waiting, by="alice")
    with pytest.raises(RunClosed, match="is cancelled"):
        await client.retry(waiting, by="alice")


async def test_racing_retries_reopen_the_run_once(client: ShepherdClient, worker, redis: Redis) -> None:
    run_id = await client.start("retry-linear", {}, requester="alice")
    await wait_for(client, run_id)
    outcomes = await asyncio.gather(*(client.retry(run_id, by=f"user{i}") for i in range(10)),
                                    return_exceptions=True)
    assert sum(isinstance(o, str) for o in outcomes) == 1, outcomes
    assert all(isinstance(o, RunClosed) for o in outcomes if not isinstance(o, str))
    events = await RunStore(redis).read_journal(run_id)
    assert [e["type"] for e in events].count("run_retried") == 1
    assert (await wait_for(client, run_id, "failed")).status == "failed"  # not fixed: fails again, once more
    assert await ran(redis, run_id, "deploy") == 2
