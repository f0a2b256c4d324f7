"""Slash-command ack latency: 50 people type ``/run`` at once; how soon does each get its 200?

Why: Slack gives an app 3 s to acknowledge and shows the person "operation_timeout" after
that; a bot that is slow to ack under a burst (an incident, when everyone types at once) looks
broken exactly when it matters. The ack is measured as Slack sees it: the sandbox delivers a
signed HTTP POST to the bot's ``/slack/events`` and times it until the 200 arrives (its
delivery record's ``latency_ms``).

The bot is ``shepherd serve`` in its own process (bot, notifier and an engine worker, as
deployed) in HTTP mode; Slack is the sandbox in this process; Redis is the session's. Every
acked command must also have started its run, so a fast refusal cannot pass for an ack.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.harness import Harness, log, summary, wait_until
from sandbox import SandboxServer

NAME = "bot_ack_ms"
CONCURRENT = 50
BURSTS = 3
SEQUENTIAL = 20
TARGET_P99_MS = 100.0
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "tests" / "examples"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")


@dataclass
class BotStack:
    """The sandbox (in this process), a control session on it, and the bot process's port."""

    server: SandboxServer
    control: aiohttp.ClientSession
    port: int

    async def act(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to the sandbox's control API (as a person in the workspace)."""
        async with self.control.post(f"{self.server.control_url}{path}", json=body) as resp:
            data = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"sandbox {path} answered {resp.status}: {data}")
            return data

    async def get(self, path: str) -> dict[str, Any]:
        async with self.control.get(f"{self.server.control_url}{path}") as resp:
            return await resp.json()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def bot_stack(h: Harness, *, post_interval: float | None = None) -> AsyncIterator[BotStack]:
    """Sandbox + ``shepherd serve`` (HTTP mode, with its worker) on the session's Redis, torn down on exit.

    ``post_interval`` overrides ``SHEPHERD_SLACK_POST_INTERVAL`` (None: the bot's default)."""
    await h.fresh()
    port = _free_port()
    async with SandboxServer(port=0) as server, aiohttp.ClientSession(trust_env=False) as control:
        server.config.request_url = f"http://127.0.0.1:{port}/slack/events"
        env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS and not k.startswith("SLACK_")}
        env.update(SLACK_BOT_TOKEN=server.bot_token, SLACK_SIGNING_SECRET=server.signing_secret,
                   SLACK_API_URL=server.api_url, PORT=str(port), SHEPHERD_BOT_HOST="127.0.0.1",
                   REDIS_URL=h.url, SHEPHERD_DATA_DIR=str(h.data_dir), SHEPHERD_PROCESSES_PATH=str(EXAMPLES))
        if post_interval is not None:
            env["SHEPHERD_SLACK_POST_INTERVAL"] = str(post_interval)
        log_path = h.data_dir / f"serve-{port}.log"
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen([sys.executable, "-m", "shepherd.cli", "serve"], cwd=ROOT, env=env,
                                    stdout=log_file, stderr=subprocess.STDOUT)
        try:
            await _wait_healthy(control, port, proc, log_path)
            yield BotStack(server, control, port)
        finally:
            proc.terminate()
            try:
                await asyncio.to_thread(proc.wait, 30)
            except subprocess.TimeoutExpired:
                log(f"shepherd serve (pid {proc.pid}) did not stop in 30 s; killing it")
                proc.kill()
                await asyncio.to_thread(proc.wait, 10)


async def _wait_healthy(session: aiohttp.ClientSession, port: int, proc: subprocess.Popen[bytes],
                        log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"shepherd serve exited with {proc.returncode}:\n{log_path.read_text()[-2000:]}")
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                if resp.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"shepherd serve not healthy after 60 s:\n{log_path.read_text()[-2000:]}")


async def _command(stack: BotStack, n: int) -> tuple[float, float]:
    """One ``/run``; (ack latency the sandbox measured, the whole control call), in ms."""
    t0 = time.perf_counter()
    result = await stack.act("/commands", {"user": "U0ALICE", "channel": "C0OPS", "command": "/run",
                                           "text": f"gate-demo bench-{n}"})
    wall = (time.perf_counter() - t0) * 1000
    delivery = result["delivery"]
    if not result["acked"] or len(delivery["attempts"]) != 1:
        raise RuntimeError(f"command {n} was not acked on the first attempt: {delivery}")
    return float(delivery["attempts"][0]["latency_ms"]), wall


async def run(h: Harness) -> dict[str, Any]:
    async with bot_stack(h) as stack:
        for n in range(5):  # warm-up: imports, connection pools, the first run's code paths
            await _command(stack, -1 - n)
        one_at_a_time = [(await _command(stack, 1000 + n))[0] for n in range(SEQUENTIAL)]
        await wait_until(lambda: _runs_at_least(h, 5 + SEQUENTIAL), timeout=30, what="warm-up runs")
        await asyncio.sleep(1.0)
        log(f"{NAME}: {BURSTS} bursts of {CONCURRENT} concurrent /run commands over signed HTTP")
        acks: list[float] = []
        walls: list[float] = []
        burst_p99: list[float] = []
        for burst in range(BURSTS):
            results = await asyncio.gather(*(_command(stack, burst * CONCURRENT + i) for i in range(CONCURRENT)))
            acks += [a for a, _ in results]
            walls += [w for _, w in results]
            burst_p99.append(summary([a for a, _ in results])["p99"])
            await asyncio.sleep(1.0)  # let the bot's after-ack work drain; bursts are separate moments
        total = 5 + SEQUENTIAL + BURSTS * CONCURRENT
        await wait_until(lambda: _runs_at_least(h, total), timeout=60, what=f"{total} runs to be started")
        stats = summary(acks)
        return {
            "what": f"/run acknowledged: sandbox POST -> bot's 200 (signed HTTP, Slack's view); {BURSTS} bursts of "
                    f"{CONCURRENT} concurrent commands; bot = `shepherd serve` process with its worker",
            "p50": stats["median"], **stats,
            "per_burst_p99_ms": burst_p99,
            "one_at_a_time_ms": {k: v for k, v in summary(one_at_a_time).items() if k in ("median", "p99")},
            "control_call_ms": {k: v for k, v in summary(walls).items() if k in ("median", "p99")},
            "runs_started": total,
            "target": f"p99 <= {TARGET_P99_MS} ms",
            "meets_target": stats["p99"] <= TARGET_P99_MS,
        }


async def _runs_at_least(h: Harness, n: int) -> bool:
    return len(await h.client.list_runs(limit=n + 10)) >= n
