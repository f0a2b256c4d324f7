"""The bot's background tasks, supervised: a crash is logged and the task restarted with backoff,
and ``/healthz`` says which task is down.

A background task that dies silently is the worst failure a chat-ops bot has: Slack stops
changing while everything else looks fine (the notifier once died of one expired lock and no
card moved until a manual restart). So every long-running task of the bot runs under
``Supervisor``. A task that ``beats`` (reports progress, as the notifier does after each read of
its stream) stays unhealthy after a crash until it beats again, i.e. until it has proved it works
again, not merely been restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)


@dataclass
class TaskHealth:
    name: str
    beats: bool
    state: str = "running"
    """running, backoff (crashed, waiting to restart) or stopped."""
    crashes: int = 0
    last_error: str = ""
    proving: bool = False
    """Crashed and restarted, but has not beaten since."""

    @property
    def healthy(self) -> bool:
        return self.state == "running" and not self.proving

    def to_json(self) -> dict[str, Any]:
        return {"healthy": self.healthy, "state": self.state, "crashes": self.crashes, "last_error": self.last_error}


class Supervisor:
    """Runs named coroutines and restarts each one that raises, after ``backoff_base`` seconds,
    doubling up to ``backoff_cap``; a beat resets the backoff. A coroutine that returns has
    finished on purpose (it was asked to stop) and is not restarted."""

    def __init__(self, *, backoff_base: float = 0.5, backoff_cap: float = 30.0) -> None:
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.tasks: dict[str, TaskHealth] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._graceful: set[str] = set()
        self._stops: list[Callable[[], None]] = []
        self._delay: dict[str, float] = {}
        self._stopping = asyncio.Event()

    def spawn(self, name: str, factory: Callable[[], Awaitable[None]], *, stop: Callable[[], None] | None = None,
              beats: bool = False, graceful: bool = True) -> asyncio.Task[None]:
        """Run ``factory()`` as ``name``. ``stop`` asks it to finish; ``beats``: it calls
        ``beat(name)`` when it works; ``graceful``: on stop it may finish (else it is cancelled)."""
        health = self.tasks[name] = TaskHealth(name, beats)
        if stop is not None:
            self._stops.append(stop)
        self._delay[name] = self.backoff_base
        if graceful:
            self._graceful.add(name)
        task = self._running[name] = asyncio.create_task(self._supervise(health, factory), name=f"shepherd-{name}")
        return task

    def beat(self, name: str) -> None:
        """``name`` made progress: healthy again if it had crashed, and its backoff starts over."""
        health = self.tasks.get(name)
        if health is not None and health.proving:
            health.proving = False
            self._delay[name] = self.backoff_base
            log.info("%s is working again after %d crash(es)", name, health.crashes)

    @property
    def healthy(self) -> bool:
        return all(t.healthy for t in self.tasks.values())

    def report(self) -> dict[str, Any]:
        return {"ok": self.healthy, "tasks": {name: t.to_json() for name, t in self.tasks.items()}}

    async def _supervise(self, health: TaskHealth, factory: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await factory()
                break
            except asyncio.CancelledError:
                health.state = "stopped"
                raise
            except Exception as exc:
                if self._stopping.is_set():
                    log.warning("%s failed while stopping: %s", health.name, exc)
                    break
                delay = self._delay[health.name]
                health.crashes += 1
                health.last_error = f"{type(exc).__name__}: {exc}"[:300]
                health.state, health.proving = "backoff", health.beats
                log.exception("%s crashed (crash %d); restarting in %.1f s", health.name, health.crashes, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                if self._stopping.is_set():
                    break
                self._delay[health.name] = min(self.backoff_cap, delay * 2)
                health.state = "running"
        health.state = "stopped"

    async def stop(self, timeout: float = 30.0) -> None:
        """Ask every task to finish, wait up to ``timeout``, then cancel the rest."""
        self._stopping.set()
        for stop in self._stops:
            stop()
        for name, task in self._running.items():
            if name not in self._graceful:
                task.cancel()
        running = [t for t in self._running.values() if not t.done()]
        if running:
            _, late = await asyncio.wait(running, timeout=timeout)
            for task in late:
                task.cancel()
            if late:
                await asyncio.gather(*late, return_exceptions=True)


def healthz_handler(supervisor: Supervisor) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``GET /healthz``: 200 and ``{"ok": true, ...}`` while every background task works, else 503."""

    async def healthz(_: web.Request) -> web.Response:
        report = supervisor.report()
        return web.json_response(report, status=200 if report["ok"] else 503)

    return healthz
