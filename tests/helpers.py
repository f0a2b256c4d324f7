"""Shared test helpers: waiting on runs, and workers in separate processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from engine.client import RunView, ShepherdClient
from engine.journal import TERMINAL as TERMINAL_EVENTS
from engine.journal import Event

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "tests" / "examples"
TERMINAL = ("completed", "failed", "cancelled")


async def wait_for(client: ShepherdClient, run_id: str, *statuses: str, timeout: float = 15.0) -> RunView:
    """Wait until the run reaches one of ``statuses`` (default: any end state)."""
    wanted = statuses or TERMINAL
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        run = await client.view(run_id)
        if run.status in wanted:
            return run
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"run {run_id} is {run.status}, not {wanted}, after {timeout}s:\n{run}")
        await asyncio.sleep(0.02)


async def wait_for_gate(client: ShepherdClient, run_id: str, timeout: float = 15.0) -> dict:
    """Wait until the run has an open gate or question; return the first."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        run = await client.view(run_id)
        if run.open_gates:
            return run.open_gates[0]
        if run.status in TERMINAL or asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"run {run_id} has no open gate ({run.status}):\n{run}")
        await asyncio.sleep(0.02)


def worker_env(redis_url: str, data_dir: Path, *, failpoints: str = "", processes_path: str = "",
               **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_PROXY") and not k.endswith("_proxy")}
    env.update({
        "REDIS_URL": redis_url, "SHEPHERD_DATA_DIR": str(data_dir),
        "SHEPHERD_PROCESSES_PATH": processes_path or str(EXAMPLES),
        "SHEPHERD_VISIBILITY_TIMEOUT": "1", "SHEPHERD_TIMER_POLL": "0.05", "SHEPHERD_LOCK_TTL": "2",
        "SHEPHERD_SHUTDOWN_GRACE": "5", "SHEPHERD_FAILPOINTS": failpoints, "PYTHONPATH": str(ROOT),
    })
    env.update(extra)
    return env


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """A real ``shepherd worker`` process (so it can be killed with SIGKILL)."""
    log = open(log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
    return subprocess.Popen([sys.executable, "-m", "shepherd.cli", "worker"], env=env, cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)


def stop_worker(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def read_ledger(path: Path) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Task executions recorded by the crash examples, by (run, step)."""
    by_step: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    if path.exists():
        for line in path.read_text().splitlines():
            record = json.loads(line)
            by_step[(record["run"], record["step"])].append(record)
    return by_step


def check_journal(events: list[Event], outcome: str = "run_completed") -> dict[str, Event]:
    """No duplicated or missing entries. Returns the resolution of every effect by key."""
    types = [e["type"] for e in events]
    assert types[0] == "run_created" and types.count("run_created") == 1, types
    assert types[-1] == outcome and sum(t in TERMINAL_EVENTS for t in types) == 1, types
    requested = Counter(e["key"] for e in events if e["type"] == "effect_requested")
    resolved = Counter(e["key"] for e in events if e["type"] == "effect_resolved")
    assert [k for k, n in requested.items() if n != 1] == [], f"requested more than once: {requested}"
    assert [k for k, n in resolved.items() if n != 1] == [], f"resolved more than once: {resolved}"
    assert set(resolved) == set(requested), f"requested {set(requested)} but resolved {set(resolved)}"
    keyed = Counter(e["key"] for e in events if "key" in e and e["type"] in ("recorded", "note", "artifact"))
    assert all(n == 1 for n in keyed.values()), keyed
    first_seen: dict[str, int] = {}
    for i, event in enumerate(events):
        if event["type"] == "effect_requested":
            first_seen[event["key"]] = i
        elif event["type"] == "effect_resolved":
            assert first_seen.get(event["key"], len(events)) < i, f"{event['key']} resolved before requested"
    return {e["key"]: e for e in events if e["type"] == "effect_resolved"}


def shepherd(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The terminal front end as a person runs it: a fresh process, its output captured."""
    return subprocess.run([sys.executable, "-m", "shepherd.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
