"""The engine's behaviour through its public surfaces, with an in-process worker."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis

from engine.arguments import ArgumentError
from engine.cancellation import cleanup_request
from engine.client import ShepherdClient
from engine.errors import GateClosed, NotAllowed, RunClosed, UnknownGate, UnknownProcess, UnknownRun
from engine.journal import now_iso
from engine.registry import get_process
from shepherd.discovery import load_processes
from state import keys
from state.store import RunStore
from tests.helpers import wait_for, wait_for_gate

BEHAVIOURS = Path(__file__).parent / "engine_examples"
load_processes(str(BEHAVIOURS))


@pytest.fixture(autouse=True)
def behaviours_redis(redis_url: str) -> None:
    sys.modules["shepherd_custom.behaviours"].REDIS_URL["url"] = redis_url


async def journal_checks(redis: Redis, run_id: str) -> list[dict]:
    """No duplicated or missing entries: one request and at most one resolution per key."""
    events = await RunStore(redis).read_journal(run_id)
    requested = [e["key"] for e in events if e["type"] == "effect_requested"]
    resolved = [e["key"] for e in events if e["type"] in ("effect_resolved", "effect_cancelled")]
    assert len(requested) == len(set(requested)), requested
    assert len(resolved) == len(set(resolved)), resolved
    assert set(resolved) <= set(requested)
    assert [e["type"] for e in events].count("run_created") == 1
    return events


# -- every intrinsic, end to end ---------------------------------------------------------


async def test_approval_demo_exercises_every_intrinsic(client: ShepherdClient, worker, redis: Redis) -> None:
    run_id = await client.start("approval-demo", {"service": "checkout", "approvers": ["bob", "carol"]},
                                requester="alice")
    gate = await wait_for_gate(client, run_id)
    assert gate["title"] == "Deploy checkout 1.0.0?"
    with pytest.raises(NotAllowed, match="not one of the approvers"):
        await client.decide(run_id, gate["key"], user="mallory", approve=True)
    assert (await client.decide(run_id, gate["key"], user="bob", approve=True)).applied

    ask = await wait_for_gate(client, run_id)
    assert ask["kind"] == "ask" and ask["title"] == "Release notes"
    with pytest.raises(ArgumentError, match="input 'risky': expected yes or no"):
        await client.answer(run_id, ask["key"], user="bob", values=["risky=maybe"])
    with pytest.raises(ArgumentError, match="input 'summary': required"):
        await client.answer(run_id, ask["key"], user="bob", values=["risky=yes"])
    assert "answered" in await client.answer(run_id, ask["key"], user="bob",
                                             values=["summary=Faster checkout", "risky=no"])
    run = await wait_for(client, run_id)
    assert run.status == "completed", run.meta.get("error")

    events = await journal_checks(redis, run_id)
    result = events[-1]["result"]
    assert result["deployed"] and result["approved_by"] == "bob" and result["summary"] == "Faster checkout"
    assert result["results"] == ["deployed to staging", "deployed to prod"]
    recorded = {e["kind"]: e["value"] for e in events if e["type"] == "recorded"}
    assert result["release"] == recorded["uuid"]
    assert datetime.fromisoformat(result["started"]) == datetime.fromisoformat(recorded["now"])
    assert run.notes == ["Built checkout-1.0.0.tar.gz"]
    [artifact] = run.artifacts
    content = await RunStore(redis).artifact(run_id, artifact["key"])
    assert content is not None and b"Deploy checkout 1.0.0" in content
    kinds = {s.kind for s in run.steps}
    assert kinds == {"task", "shell", "breakpoint", "ask", "sleep"}
    build = next(e for e in events if e["type"] == "effect_resolved" and e["key"] == "3")
    assert build["value"]["idempotency_key"] == f"{run_id}:3"


async def test_rejection_reaches_the_process_with_its_reason(client: ShepherdClient, worker) -> None:
    run_id = await client.start("approval-demo", {"service": "api"}, requester="alice")
    gate = await wait_for_gate(client, run_id)
    await client.decide(run_id, gate["key"], user="bob", approve=False, comment="freeze until Monday")
    run = await wait_for(client, run_id)
    assert run.status == "completed"
    assert run.notes[-1] == "Deploy rejected by bob: freeze until Monday"
    assert [s.detail for s in run.steps if s.kind == "breakpoint"] == ["rejected by bob: freeze until Monday"]


async def test_replay_without_warm_cache_gives_the_same_journal(client: ShepherdClient, redis: Redis,
                                                                settings, worker) -> None:
    worker.orchestrator.cache_size = 0
    run_id = await client.start("parallel-barrier", {"n": 6}, requester="alice")
    run = await wait_for(client, run_id)
    assert run.status == "completed"
    events = await journal_checks(redis, run_id)
    assert events[-1]["result"] == {"results": [0, 1, 2, 3, 4, 5]}


# -- gates ------------------------------------------------------------------------------


async def test_fifty_concurrent_clicks_give_exactly_one_decision(client: ShepherdClient, worker,
                                                                 redis: Redis) -> None:
    run_id = await client.start("configurable-gate", {}, requester="alice")
    await wait_for_gate(client, run_id)
    users = ["bob"] * 25 + [f"user{i}" for i in range(25)]  # a double-tapper and a crowd
    outcomes = await asyncio.gather(
        *(client.decide(run_id, "proceed", user=u, approve=i % 2 == 0) for i, u in enumerate(users)),
        return_exceptions=True)
    applied = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(applied) == 1 and applied[0].applied
    assert len(refused) == 49 and all(isinstance(o, GateClosed) for o in refused)
    run = await wait_for(client, run_id)
    decider = (await journal_checks(redis, run_id))[-1]["result"]["by"]
    assert all(f"by {decider} at " in str(o) for o in refused)
    assert run.status == "completed"


async def test_four_eyes_refuses_the_requester(client: ShepherdClient, worker) -> None:
    run_id = await client.start("configurable-gate", {"four_eyes": True}, requester="alice")
    await wait_for_gate(client, run_id)
    with pytest.raises(NotAllowed, match="four-eyes"):
        await client.decide(run_id, "proceed", user="alice", approve=True)
    assert (await client.decide(run_id, "proceed", user="bob", approve=True)).applied


async def test_group_members_may_approve(client: ShepherdClient, worker) -> None:
    run_id = await client.start("configurable-gate", {"groups": ["sre"]}, requester="alice")
    await wait_for_gate(client, run_id)
    with pytest.raises(NotAllowed):
        await client.decide(run_id, "proceed", user="bob", approve=True, groups=["frontend"])
    assert (await client.decide(run_id, "proceed", user="bob", approve=True, groups=["sre"])).applied


async def test_quorum_needs_distinct_approvers(client: ShepherdClient, worker, redis: Redis) -> None:
    run_id = await client.start("configurable-gate", {"quorum": 2}, requester="alice")
    await wait_for_gate(client, run_id)
    first = await client.decide(run_id, "proceed", user="bob", approve=True)
    assert not first.applied and first.votes == 1 and first.quorum == 2
    with pytest.raises(GateClosed, match="already approved"):
        await client.decide(run_id, "proceed", user="bob", approve=True)
    assert (await client.decide(run_id, "proceed", user="carol", approve=True, comment="lgtm")).applied
    await wait_for(client, run_id)
    result = (await journal_checks(redis, run_id))[-1]["result"]
    assert result["approved"] and [v["by"] for v in result["votes"]] == ["bob", "carol"]


@pytest.mark.parametrize(("policy", "approved"), [("reject", False), ("approve", True)])
async def test_gate_timeout_applies_its_explicit_default(client: ShepherdClient, worker, redis: Redis,
                                                         policy: str, approved: bool) -> None:
    run_id = await client.start("configurable-gate", {"timeout": 0.3, "on_timeout": policy}, requester="alice")
    run = await wait_for(client, run_id)
    result = (await journal_checks(redis, run_id))[-1]["result"]
    assert run.status == "completed"
    assert result["approved"] is approved and result["timed_out"] and result["by"] == "timeout"
    with pytest.raises(GateClosed, match="closed by its timeout"):
        await client.decide(run_id, "proceed", user="bob", approve=True)


async def test_gate_timeout_escalates_to_the_second_list(client: ShepherdClient, worker, redis: Redis) -> None:
    run_id = await client.start("configurable-gate", {"timeout": 0.3, "on_timeout": "escalate",
                                                      "approvers": ["bob"], "escalate_to": ["manager"]},
                                requester="alice")
    for _ in range(200):
        gates = await RunStore(redis).gates(run_id)
        if gates.get("proceed", {}).get("escalated"):
            break
        await asyncio.sleep(0.02)
    assert gates["proceed"]["users"] == ["manager"]
    with pytest.raises(NotAllowed):
        await client.decide(run_id, "proceed", user="bob", approve=True)
    assert (await client.decide(run_id, "proceed", user="manager", approve=True)).applied
    await wait_for(client, run_id)
    result = (await journal_checks(redis, run_id))[-1]["result"]
    assert result["approved"] and result["escalated"] and result["by"] == "manager"


async def test_deciding_unknown_or_closed_gates(client: ShepherdClient, worker) -> None:
    with pytest.raises(UnknownRun, match="no run with id 'nope'"):
        await client.decide("nope", "1", user="bob", approve=True)
    run_id = await client.start("configurable-gate", {}, requester="alice")
    await wait_for_gate(client, run_id)
    with pytest.raises(UnknownGate, match="open: proceed"):
        await client.decide(run_id, "prceed", user="bob", approve=True)
    await client.decide(run_id, "proceed", user="bob", approve=True)
    with pytest.raises(GateClosed, match="already approved by bob"):
        await client.decide(run_id, "proceed", user="carol", approve=False)


# -- tasks, retries, failures, parallel --------------------------------------------------------


async def test_parallel_of_twenty_tasks_runs_them_concurrently(client: ShepherdClient, worker) -> None:
    run_id = await client.start("parallel-barrier", {"n": 20}, requester="alice")
    run = await wait_for(client, run_id, timeout=30)
    assert run.status == "completed", run.meta.get("error")
    assert run.meta["result"] == '{"results": [' + ", ".join(str(i) for i in range(20)) + "]}"


async def test_parallel_failure_lets_every_branch_settle_then_raises(client: ShepherdClient, worker,
                                                                     redis: Redis) -> None:
    run_id = await client.start("parallel-barrier", {"n": 5, "fail": 2}, requester="alice")
    await wait_for(client, run_id)
    result = (await journal_checks(redis, run_id))[-1]["result"]
    assert result == {"failed": [2], "succeeded": [0, 1, 3, 4]}


async def test_task_retries_with_backoff(client: ShepherdClient, worker, redis: Redis) -> None:
    run_id = await client.start("retries", {"n": 2}, requester="alice")
    run = await wait_for(client, run_id)
    assert run.status == "completed" and run.meta["result"] == '{"attempts": 3}'


async def test_task_error_is_raised_inside_the_process(client: ShepherdClient, worker) -> None:
    run_id = await client.start("caught-failure", {}, requester="alice")
    run = await wait_for(client, run_id)
    assert run.meta["result"] == '{"caught": "ConnectionError", "step": "1"}'


async def test_uncaught_error_fails_the_run_naming_the_step(client: ShepherdClient, worker) -> None:
    run_id = await client.start("uncaught-failure", {}, requester="alice")
    run = await wait_for(client, run_id)
    assert run.status == "failed"
    assert run.meta["error"].startswith("step fragile-step (")
    assert "ConnectionError: attempt 1 failed" in run.meta["error"]


async def test_retries_exhausted_fail_the_step(client: ShepherdClient, worker) -> None:
    run_id = await client.start("retries", {"n": 3}, requester="alice")
    run = await wait_for(client, run_id)
    assert run.status == "failed" and "attempt 3 failed" in run.meta["error"]


async def test_awaiting_real_io_in_process_code_fails_clearly(client: ShepherdClient, worker) -> None:
    run_id = await client.start("not-deterministic-io", {}, requester="alice")
    run = await wait_for(client, run_id)
    assert run.status == "failed" and "only ctx intrinsics may be awaited" in run.meta["error"]


async def test_nested_parallel_branches_have_their_own_keys(client: ShepherdClient, worker,
                                                            redis: Redis) -> None:
    run_id = await client.start("nested-parallel", {}, requester="alice")
    for _ in range(2):
        gate = await wait_for_gate(client, run_id)
        await client.decide(run_id, gate["key"], user="bob", approve=gate["key"].startswith("1.0/"))
    run = await wait_for(client, run_id)
    assert run.meta["result"] == '["dev:yes", "prod:no"]'
    keys = [e["key"] for e in await journal_checks(redis, run_id) if e["type"] == "effect_requested"]
    assert sorted(keys) == ["1.0/1", "1.0/promote", "1.1/1", "1.1/promote"]


# -- cancelling, starting ------------------------------------------------------------------------


async def test_cancel_closes_pending_effects_and_gates(client: ShepherdClient, worker, redis: Redis) -> None:
    run_id = await client.start("configurable-gate", {}, requester="alice")
    await wait_for_gate(client, run_id)
    assert "cancelled" in await client.cancel(run_id, by="alice", reason="wrong service")
    events = await journal_checks(redis, run_id)
    assert [e["type"] for e in events][-2:] == ["effect_cancelled", "run_cancelled"]
    with pytest.raises(GateClosed, match="cancelled"):
        await client.decide(run_id, "proceed", user="bob", approve=True)
    with pytest.raises(RunClosed, match="already cancelled"):
        await client.cancel(run_id, by="alice")
    assert run_id in await RunStore(redis).list_runs(status="cancelled")


async def test_cancel_runs_the_processes_cleanup_once_after_the_run_ended(client: ShepherdClient, worker,
                                                                          redis: Redis) -> None:
    """on_cancel: journaled with the cancel, run by a worker (with retries) after the run ended."""
    await redis.delete("test:closed")
    run_id = await client.start("cleanup-on-cancel", {"name": "env-7"}, requester="carol")
    await wait_for_gate(client, run_id)
    reply = await client.cancel(run_id, by="alice", reason="declared by mistake")
    assert reply == f"cancelled run {run_id} (its clean-up step is queued)"
    for _ in range(150):
        events = await journal_checks(redis, run_id)
        if events[-1]["type"] == "effect_resolved" and events[-1]["key"] == "@on_cancel":
            break
        await asyncio.sleep(0.05)
    tail = [(e["type"], e.get("key")) for e in events][-4:]
    assert tail == [("effect_cancelled", "2"), ("run_cancelled", None), ("effect_requested", "@on_cancel"),
                    ("effect_resolved", "@on_cancel")], tail
    assert events[-1]["ok"] and events[-1]["value"] == "closed opened:env-7" and events[-1]["attempt"] == 2
    records = [json.loads(r) for r in await redis.lrange("test:closed", 0, -1)]
    assert records == [{"key": f"{run_id}:@on_cancel", "by": "alice", "reason": "declared by mistake",
                        "opened": "opened:env-7", "inputs": {"name": "env-7"}, "requester": "carol",
                        "attempt": 2}]
    run = await client.view(run_id)
    assert run.status == "cancelled"
    assert [s.state for s in run.steps if s.key == "@on_cancel"] == ["done"]
    with pytest.raises(RunClosed, match="already cancelled"):
        await client.cancel(run_id, by="alice")
    await asyncio.sleep(0.3)  # a second cancel queues nothing: still exactly one cleanup
    assert await redis.llen("test:closed") == 1


async def test_a_cleanup_step_left_undispatched_is_queued_by_the_next_load(client: ShepherdClient, worker,
                                                                           redis: Redis) -> None:
    """A front end that died between the cancel and queueing its cleanup: the next wake queues it."""
    await redis.delete("test:closed")
    run_id = await client.start("cleanup-on-cancel", {"name": "env-8"}, requester="carol")
    await wait_for_gate(client, run_id)
    store = RunStore(redis)
    definition = get_process("cleanup-on-cancel")
    created = (await store.read_journal(run_id))[0]
    cleanup = cleanup_request(definition, run_id, created, "alice", "crashed front end", now_iso())
    assert (await store.cancel(run_id, "alice", "crashed front end", now_iso(), cleanup))[0] == "cancelled"
    assert await store.undispatched(run_id) == {"@on_cancel", keys.WAKE_MARK}
    await client.queue.enqueue_wake(run_id)  # any later wake of the run (or the sweep: tests/test_kill_matrix.py)
    for _ in range(150):
        if await redis.llen("test:closed"):
            break
        await asyncio.sleep(0.05)
    assert json.loads((await redis.lrange("test:closed", 0, -1))[0])["opened"] == "opened:env-8"
    assert await store.undispatched(run_id) == set()


async def test_start_validates_and_deduplicates(client: ShepherdClient, worker) -> None:
    with pytest.raises(UnknownProcess, match="unknown process 'nope'"):
        await client.start("nope", {}, requester="alice")
    with pytest.raises(ArgumentError, match="quorum"):
        await client.start("configurable-gate", {"quorum": "many"}, requester="alice")
    first = await client.start("gate-demo", {}, requester="alice", dedup="slack-retry-1")
    again = await client.start("gate-demo", {}, requester="alice", dedup="slack-retry-1")
    assert first == again
    assert [r["id"] for r in await client.list_runs()] == [first]
