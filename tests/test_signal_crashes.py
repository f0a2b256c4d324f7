"""Signals, ``ctx.first`` and ``ctx.patched`` with a process killed (SIGKILL) at an exact moment.

Workers are ``shepherd worker`` subprocesses stopped by a failpoint (``engine.failpoints``); a
front end is the ``shepherd signal`` command stopped between its write and its wake. After each
crash a fresh worker finishes the run, and the journal shows every signal consumed once, in order,
and the same winner and the same version branch as an uninterrupted run would have.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from engine.client import ShepherdClient
from engine.journal import JournalView
from engine.settings import Settings
from engine.worker import Worker
from state import keys
from state.timers import member
from tests.helpers import EXAMPLES, ROOT, check_journal, start_worker, worker_env
from tests.test_patched import V1, V2, deploy
from tests.test_signals import SIGNAL_EXAMPLES

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

KILLED = -9
Spawn = Callable[[str, str], subprocess.Popen[bytes]]


@pytest.fixture
def spawn(redis_url: str, tmp_path: Path, redis: Redis) -> Iterator[Spawn]:
    """``spawn(failpoints, processes_path)``: a worker subprocess; any left alive is killed at the end."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(failpoints: str = "", processes: str = f"{SIGNAL_EXAMPLES}:{EXAMPLES}") -> subprocess.Popen[bytes]:
        env = worker_env(redis_url, tmp_path / "data", failpoints=failpoints, processes_path=processes)
        proc = start_worker(env, tmp_path / f"worker-{len(procs)}.log")
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def logs(tmp_path: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(tmp_path.glob("*.log")))


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def killed(proc: subprocess.Popen[bytes], tmp_path: Path) -> None:
    async def gone() -> bool:
        return proc.poll() is not None

    await eventually(gone, f"the worker to die\n{logs(tmp_path)}")
    assert proc.returncode == KILLED, logs(tmp_path)


async def pending(client: ShepherdClient, run_id: str, key: str) -> bool:
    return key in JournalView(await client.store.read_journal(run_id)).pending


async def status(client: ShepherdClient, run_id: str, wanted: str, tmp_path: Path) -> None:
    async def reached() -> bool:
        return (await client.store.meta(run_id)).get("status") == wanted

    await eventually(reached, f"run {run_id} to be {wanted}: {await client.store.meta(run_id)}\n{logs(tmp_path)}")


def one_outcome_each(events: list[dict]) -> dict[str, str]:
    """Every step requested once and settled once (resolved, or cancelled as a loser)."""
    requested = [e["key"] for e in events if e["type"] == "effect_requested"]
    settled = [(e["key"], e["type"]) for e in events if e["type"] in ("effect_resolved", "effect_cancelled")]
    assert len(requested) == len(set(requested)) and sorted(requested) == sorted(k for k, _ in settled), events
    return dict(settled)


# -- signals ------------------------------------------------------------------------------


async def test_a_worker_killed_while_taking_signals_loses_and_doubles_none(
        redis: Redis, tmp_path: Path, spawn: Spawn) -> None:
    client = ShepherdClient(redis)
    run_id = await client.start("signal-inbox", {"count": 3, "hold": False}, requester="alice")
    first = spawn("replay:2")  # the replay after the run's first wake: the one that takes the signals
    await eventually(lambda: pending(client, run_id, "update-0"), "the first wait")
    for text in ("one", "two", "three"):
        await client.signal(run_id, "update", {"text": text}, sender="alice")
    await killed(first, tmp_path)
    events = await client.store.read_journal(run_id)
    assert [e["type"] for e in events if e["type"] == "effect_resolved"] == []  # died before its append
    assert len([e for e in events if e["type"] == "signal_received"]) == 3

    spawn()
    await status(client, run_id, "completed", tmp_path)
    events = await client.store.read_journal(run_id)
    check_journal(events)
    assert events[-1]["result"] == {"received": ["one/1", "two/1", "three/1"]}


async def test_a_signal_whose_sender_died_before_the_wake_is_swept(redis: Redis, redis_url: str, tmp_path: Path,
                                                                   client: ShepherdClient, worker: Worker) -> None:
    run_id = await client.start("signal-inbox", {"count": 1, "hold": False}, requester="alice")
    await eventually(lambda: pending(client, run_id, "update-0"), "the wait")

    async def quiet() -> bool:
        return not await redis.exists(keys.lock(run_id)) and await redis.xlen(keys.WAKE_STREAM) == 0

    await eventually(quiet, "the run to settle")
    wakes = await redis.xlen(keys.WAKE_STREAM)
    env = worker_env(redis_url, tmp_path / "data", failpoints="after_signal",
                     processes_path=f"{SIGNAL_EXAMPLES}:{EXAMPLES}", SHEPHERD_SWEEP_AFTER="0.3")
    died = subprocess.run([sys.executable, "-m", "shepherd.cli", "signal", run_id, "update", "text=late night",
                           "--as", "alice"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert died.returncode == KILLED, died.stderr
    assert await redis.xlen(keys.WAKE_STREAM) == wakes  # no wake was queued ...
    assert keys.WAKE_MARK in await client.store.undispatched(run_id)  # ... but the write left its mark
    await status(client, run_id, "completed", tmp_path)  # and the sweep found it
    events = await client.store.read_journal(run_id)
    assert events[-1]["result"] == {"received": ["late night/1"]}
    assert await client.store.undispatched(run_id) == set()


# -- ctx.first ------------------------------------------------------------------------------


async def test_a_worker_killed_after_journaling_a_winner_keeps_it(redis: Redis, tmp_path: Path, spawn: Spawn,
                                                                  settings: Settings) -> None:
    client = ShepherdClient(redis)
    run_id = await client.start("status-loop", {"cadences": [30, 0.05]}, requester="alice")
    first = spawn("after_append:2")  # the append that journals round 0's winner and cancels its loser
    await eventually(lambda: pending(client, run_id, "update-0"), "round 0")
    await client.signal(run_id, "update", {"text": "mitigated"}, sender="carol")
    await killed(first, tmp_path)
    events = await client.store.read_journal(run_id)
    assert [e["key"] for e in events if e["type"] == "effect_cancelled"] == ["tick-0"]
    tick = member("sleep", run_id, "tick-0")
    assert await redis.zscore(keys.TIMERS, tick) is not None  # died before removing the loser's timer

    spawn()
    await status(client, run_id, "completed", tmp_path)
    before = await client.store.read_journal(run_id)
    await Worker(redis, settings)._fire(tick)  # the stale timer fires after all: nothing changes
    assert await client.store.read_journal(run_id) == before
    assert before[-1]["result"] == {"rounds": ["update:mitigated", "tick"]}
    assert one_outcome_each(before) == {"tick-0": "effect_cancelled", "update-0": "effect_resolved",
                                        "tick-1": "effect_resolved", "update-1": "effect_cancelled"}


# -- ctx.patched ----------------------------------------------------------------------------


async def test_workers_killed_mid_replay_keep_each_runs_version(redis: Redis, tmp_path: Path,
                                                                spawn: Spawn) -> None:
    client = ShepherdClient(redis)
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    v1.mkdir()
    v2.mkdir()
    deploy(v1 / "patch_flow.py", V1)
    old_worker = spawn("", str(v1))
    old = await client.start("patch-flow", {}, requester="alice")
    await status(client, old, "waiting", tmp_path)
    old_worker.terminate()
    old_worker.wait(15)

    deploy(v2 / "patch_flow.py", V2)  # the deploy
    new = await client.start("patch-flow", {}, requester="alice")
    await client.decide(old, "2", user="bob", approve=True)
    dying = spawn("replay:1", str(v2))  # dies in the first replay of either run, before its append
    await killed(dying, tmp_path)
    dying = spawn("after_append:1", str(v2))  # and the next dies just after appending one
    await killed(dying, tmp_path)
    spawn("", str(v2))
    await status(client, old, "completed", tmp_path)
    await status(client, new, "waiting", tmp_path)
    await client.decide(new, "3", user="bob", approve=True)
    await status(client, new, "completed", tmp_path)
    old_events, new_events = await client.store.read_journal(old), await client.store.read_journal(new)
    assert old_events[-1]["result"] == {"path": "old", "again": False}
    assert new_events[-1]["result"] == {"path": "new", "again": True}
    check_journal(old_events)
    check_journal(new_events)
