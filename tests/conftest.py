"""Fixtures: a real Redis (embedded by default, REDIS_URL if set), workers, a client.

Tests flush the Redis database they use: point REDIS_URL only at a Redis you
can spare.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from redis.asyncio import Redis

from engine.client import ShepherdClient
from engine.settings import Settings
from engine.worker import Worker
from shepherd.discovery import load_processes
from state.connection import connect
from state.embedded import ensure_embedded_redis
from tests.helpers import EXAMPLES, start_worker
from tests.killing import Spawn

pytest_plugins = ["tests.preflight"]  # one line, before anything runs, when a needed tool is missing

for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
    os.environ.pop(proxy, None)

# Property tests: a fixed, reproducible budget in `make test` (derandomized: the same examples on
# every run, so a failure is never a fluke of the seed), and a longer randomized one in CI's slow
# pass (SHEPHERD_HYPOTHESIS_PROFILE=ci). No deadline: end-to-end examples go through Redis and the
# sandbox, where one slow example is load on a shared machine, not a bug.
hypothesis_settings.register_profile("make-test", max_examples=100, deadline=None, derandomize=True, database=None)
hypothesis_settings.register_profile("ci", max_examples=400, deadline=None)
hypothesis_settings.load_profile(os.environ.get("SHEPHERD_HYPOTHESIS_PROFILE", "make-test"))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return os.environ.get("REDIS_URL") or ensure_embedded_redis(tmp_path_factory.mktemp("redis"))


@pytest.fixture(scope="session", autouse=True)
def example_processes() -> None:
    load_processes(str(EXAMPLES))


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = await connect(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def settings(tmp_path: Path, redis_url: str) -> Settings:
    return Settings(redis_url=redis_url, data_dir=tmp_path, visibility_timeout=1.0, timer_poll=0.05,
                    lock_ttl=5.0, processes_path=str(EXAMPLES), max_deliveries=3, shutdown_grace=5.0,
                    concurrency=32)


@pytest.fixture
def client(redis: Redis) -> ShepherdClient:
    return ShepherdClient(redis)


@pytest.fixture
async def worker(redis: Redis, settings: Settings) -> AsyncIterator[Worker]:
    """An in-process worker on the test's event loop."""
    w = Worker(redis, settings)
    task = asyncio.create_task(w.run())
    yield w
    w.stop()
    await asyncio.wait_for(task, 15)


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    """Start worker processes; whatever is still alive at the end is killed."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
        proc = start_worker(env, tmp_path / f"{name}.log")
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
