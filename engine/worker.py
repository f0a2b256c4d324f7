"""``shepherd worker``: runs tasks, fires timers and advances runs.

A short loop over Redis, in the manner of arq: read entries from the ``wake``
and ``tasks`` streams, handle each in a tracked asyncio task under a
concurrency limit, acknowledge only after the result is committed. Side loops
reclaim entries of dead workers, fire due timers (sleeps, gate timeouts, retries, and the
sweeps that find wakes lost to a crashed front end: ``engine.sweeper``) and announce this worker.
When Redis goes away every loop backs off and carries on when it returns; a
finished task's result is held and committed then, never run again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from engine.cancellation import CLEANUP_KEY
from engine.errors import MissingDefinition
from engine.executors import TaskContext, run_shell, run_task
from engine.failpoints import failpoint
from engine.handoff import HandOff
from engine.journal import now_iso
from engine.policy import load_gate_policy
from engine.registry import TASKS
from engine.runtime import Orchestrator, retry_due_ms
from engine.settings import Settings
from engine.sweeper import SWEEP
from state import keys
from state.connection import UNAVAILABLE
from state.queue import Entry, WorkQueue, handoffs
from state.store import RunStore
from state.timers import Timers, member, now_ms, parse

log = logging.getLogger(__name__)

WAKE_RETRY_MS = 100


def describe_exception(exc: BaseException, timeout: Any = None) -> dict[str, str]:
    if isinstance(exc, TimeoutError) and not str(exc):
        return {"type": "TimeoutError", "message": f"timed out after {timeout}s" if timeout else "timed out"}
    return {"type": exc.__class__.__name__, "message": str(exc) or exc.__class__.__name__,
            "trace": "".join(traceback.format_exception(exc, limit=-3))[-2000:]}


class _Heartbeat:
    """Renews a task's lease every ``interval`` while it runs.

    A timer, not a task: most tasks end before the first beat, and the hot path
    should not pay for a coroutine it never needs.
    """

    def __init__(self, heartbeat: Callable[[], Awaitable[None]], interval: float) -> None:
        self._heartbeat, self._interval = heartbeat, interval
        self._loop = asyncio.get_running_loop()
        self._task: asyncio.Task[None] | None = None
        self._handle: asyncio.TimerHandle | None = self._loop.call_later(interval, self._start)

    def _start(self) -> None:
        self._handle = None
        self._task = self._loop.create_task(self._run())

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(*UNAVAILABLE):
                await self._heartbeat()
            await asyncio.sleep(self._interval)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if self._task is not None:
            self._task.cancel()


class Worker:
    def __init__(self, redis: Redis, settings: Settings, *, name: str | None = None,
                 handle_signals: bool = False) -> None:
        self.handle_signals = handle_signals
        self.redis = redis
        self.settings = settings
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"
        self.store = RunStore(redis, gate_policy=load_gate_policy(settings.permissions))
        self.queue = WorkQueue(redis)
        self.timers = Timers(redis, self.store.scripts)
        self.orchestrator = Orchestrator(self.store, self.queue, self.timers, lock_ttl=settings.lock_ttl,
                                         cache_size=settings.replay_cache_size)
        self.slots = asyncio.Semaphore(settings.concurrency)
        self.inflight: set[asyncio.Task[None]] = set()
        self.running_tasks = 0  # task entries being handled (wakes do not count against concurrency)
        self.held: set[str] = set()  # task entries this worker is handling: never reclaimed by itself
        self.last_outage = -settings.visibility_timeout  # monotonic time Redis was last unreachable
        self.slot_freed = asyncio.Event()
        self.stopping = asyncio.Event()
        self.visibility_ms = int(settings.visibility_timeout * 1000)
        self.handoff = HandOff(self.name, self.queue, self.stopping, settings.visibility_timeout, self._retrying)

    # -- lifecycle ------------------------------------------------------------

    def stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        if self.handle_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop)
        await self._retrying(self.queue.ensure_groups)
        await self._retrying(self.store.scripts.load_all)  # pipelines send bare EVALSHA
        log.info("worker %s started (concurrency %d)", self.name, self.settings.concurrency)
        loops = [asyncio.create_task(coro) for coro in
                 (self._read_loop(), self._reclaim_loop(), self._timer_loop(), self._announce_loop())]
        await self.stopping.wait()
        log.info("worker %s stopping; waiting for %d task(s)", self.name, len(self.inflight))
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        if self.inflight:
            _, still = await asyncio.wait(self.inflight, timeout=self.settings.shutdown_grace)
            for task in still:  # left unacknowledged: another worker reclaims them
                task.cancel()
            await asyncio.gather(*still, return_exceptions=True)
        with contextlib.suppress(*UNAVAILABLE):
            await self.redis.zrem(keys.WORKERS, self.name)
        log.info("worker %s stopped", self.name)

    async def _retrying(self, op: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``op`` until Redis answers (or the worker is stopping)."""
        delay = 0.1
        while True:
            try:
                return await op()
            except UNAVAILABLE as exc:
                self.last_outage = time.monotonic()
                if self.stopping.is_set():
                    raise
                log.warning("redis unavailable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _guarded_loop(self, name: str, body: Callable[[], Awaitable[float | None]]) -> None:
        delay = 0.1
        while not self.stopping.is_set():
            try:
                pause = await body()
                delay = 0.1
            except asyncio.CancelledError:
                raise
            except UNAVAILABLE as exc:
                self.last_outage = time.monotonic()
                log.warning("%s: redis unavailable (%s); backing off %.1fs", name, exc, delay)
                pause, delay = delay, min(delay * 2, 5.0)
            except Exception:
                log.exception("%s failed; continuing", name)
                pause = 1.0
            if pause:
                await asyncio.sleep(pause)

    # -- reading and dispatching ------------------------------------------------

    async def _read_loop(self) -> None:
        async def body() -> float | None:
            free = self.settings.concurrency - self.running_tasks
            if free > 0:
                entries = await self.queue.read(self.name, count=free, block_ms=1000)
            else:  # every slot busy: keep advancing runs, and look for tasks again as soon as one ends
                self.slot_freed.clear()
                entries = await self.queue.read(self.name, count=10, block_ms=20, wake_only=True)
                if not entries:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.slot_freed.wait(), 1.0)
            for entry in entries:
                self._spawn(entry)
            return None

        await self._guarded_loop("reader", body)

    def _spawn(self, entry: Entry) -> None:
        task = asyncio.create_task(self._handle(entry))
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)

    async def _handle(self, entry: Entry) -> None:
        try:
            if entry.stream == keys.WAKE_STREAM:
                await self._retrying(lambda: self._wake(entry.fields["run"], handoffs(entry)))
                await self._retrying(lambda: self.queue.ack(entry))
            else:
                self.running_tasks += 1
                self.held.add(entry.id)
                try:
                    async with self.slots:
                        await self._run_effect(entry)
                finally:
                    self.held.discard(entry.id)
                    self.running_tasks -= 1
                    self.slot_freed.set()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("handling %s %s failed; it will be redelivered", entry.stream, entry.id)

    async def _wake(self, run_id: str, handed_off: int = 0) -> None:
        try:
            advanced = await self.orchestrator.advance(run_id)
        except MissingDefinition as exc:
            await self.handoff.leave_run(run_id, exc, handed_off)
            return
        if not advanced:
            # Someone else is advancing it; look again shortly in case they missed this.
            await self.timers.add(member("wake", run_id), now_ms() + WAKE_RETRY_MS)

    async def _wake_soon(self, run_id: str) -> None:
        """Advance here if possible: the common case needs no round trip through the queue."""
        await self._retrying(lambda: self._wake(run_id))

    # -- tasks ---------------------------------------------------------------------

    async def _run_effect(self, entry: Entry) -> None:
        fields = entry.fields
        run_id, key, kind, name = fields["run"], fields["key"], fields["kind"], fields["name"]
        args = json.loads(fields.get("args") or "{}")
        if kind == "task" and TASKS.find(name) is None:
            await self.handoff.leave_task(entry, name)  # before start_task: no attempt is used up
            return
        verdict, detail, owner = await self._retrying(
            lambda: self.store.start_task(run_id, key, self.name, self.visibility_ms, entry.id))
        if verdict == "busy" and owner == entry.id:
            # Reclaimed before the attempt's lease ran out: leave it pending. If that attempt's
            # worker is alive it keeps the entry; if not, the next reclaim finds the lease expired.
            return
        if verdict != "go":
            if verdict == "done":
                await self._wake_soon(run_id)  # its result may not have woken the run yet
            await self._retrying(lambda: self.queue.ack(entry))
            return
        attempt = int(detail)
        failpoint("task_started")
        holder: dict[str, asyncio.Task[Any]] = {}

        async def heartbeat() -> None:
            alive = await self.store.heartbeat(run_id, key, self.name, self.visibility_ms)
            await self.queue.touch(entry, self.name)
            if not alive and "work" in holder:  # cancelled, or taken over after a lost lease
                holder["work"].cancel()

        tctx = TaskContext(run_id=run_id, step=key, attempt=attempt, heartbeat=heartbeat, redis=self.redis)
        work = asyncio.create_task(run_shell(args) if kind == "shell" else run_task(name, args, tctx))
        holder["work"] = work
        beat = self._beat(heartbeat)
        try:
            value = await work
            event = {"type": "effect_resolved", "key": key, "ok": True, "value": value, "at": now_iso()}
            if attempt > 1:
                event["attempt"] = attempt
        except asyncio.CancelledError:
            if self.stopping.is_set() or not work.cancelled():
                raise
            beat.cancel()
            log.info("run %s step %s: task cancelled", run_id, key)
            await self._retrying(lambda: self.queue.ack(entry))
            return
        except Exception as exc:
            retries = int(args.get("retries") or 0)
            if attempt <= retries:
                beat.cancel()
                due = retry_due_ms(attempt, float(args.get("backoff") or 1.0))
                log.info("run %s step %s attempt %d failed (%s); retrying", run_id, key, attempt, exc)
                if await self._retrying(lambda: self.store.backoff(run_id, key, self.name, due - now_ms())):
                    await self._retrying(lambda: self.timers.add(member("retry", run_id, key), due))
                await self._retrying(lambda: self.queue.ack(entry))
                return
            event = {"type": "effect_resolved", "key": key, "ok": False, "at": now_iso(), "attempt": attempt,
                     "error": describe_exception(exc, args.get("timeout"))}
        except BaseException:
            beat.cancel()
            raise
        # Keep heartbeating until the result is committed: a result held through an outage
        # must be committed when Redis returns, not run again by a reclaimer.
        try:
            failpoint("task_finished")
            # Commit, and advance the run here in the same round trip when nobody else is.
            try:
                advanced = await self._retrying(lambda: self.orchestrator.advance(
                    run_id, resolve=(key, event), then=lambda pipe: self.queue.queue_ack(pipe, entry)))
            except MissingDefinition as exc:  # the task is here, its process is not: committed and acked
                await self.handoff.leave_run(run_id, exc, 0)
                advanced = True
        finally:
            beat.cancel()
        if not advanced:  # someone else holds the run: committed, but not yet acknowledged
            await self._wake_soon(run_id)
            await self._retrying(lambda: self.queue.ack(entry))
        if key == CLEANUP_KEY:  # the run has ended, so no append will tell the front ends
            await self._retrying(lambda: self.queue.notify(run_id))

    def _beat(self, heartbeat: Callable[[], Awaitable[None]]) -> _Heartbeat:
        return _Heartbeat(heartbeat, max(self.settings.visibility_timeout / 3, 0.05))

    # -- reclaiming, dead letters ----------------------------------------------------

    async def _reclaim_loop(self) -> None:
        async def body() -> float | None:
            quiet = time.monotonic() - self.last_outage
            if quiet < self.settings.visibility_timeout:
                # Just back from an outage: give live workers a visibility timeout to renew
                # their leases before taking their entries.
                return self.settings.visibility_timeout - quiet
            for stream in (keys.TASKS_STREAM, keys.WAKE_STREAM):
                for entry in await self.queue.reclaim(stream, self.name, self.visibility_ms):
                    if entry.id in self.held:
                        continue  # ours, still being handled (e.g. committing after an outage)
                    if entry.deliveries > self.settings.max_deliveries:
                        await self._dead_letter(entry)
                    else:
                        log.info("reclaimed %s %s (delivery %d)", stream, entry.id, entry.deliveries)
                        self._spawn(entry)
            return max(self.settings.visibility_timeout / 4, 0.05)

        await self._guarded_loop("reclaimer", body)

    async def _dead_letter(self, entry: Entry) -> None:
        reason = f"abandoned after {entry.deliveries} deliveries: the worker running it kept dying"
        log.error("dead letter %s %s: %s", entry.stream, entry.id, reason)
        run_id = entry.fields.get("run", "")
        if entry.stream == keys.TASKS_STREAM and run_id:
            event = {"type": "effect_resolved", "key": entry.fields["key"], "ok": False, "at": now_iso(),
                     "error": {"type": "DeadLetter", "message": reason}}
            await self.store.resolve(run_id, entry.fields["key"], event)
            await self.queue.enqueue_wake(run_id)
        await self.queue.dead_letter(entry, reason)

    # -- timers ------------------------------------------------------------------------

    async def _timer_loop(self) -> None:
        lease_ms = self.visibility_ms

        async def body() -> float | None:
            due, leased = await self.timers.claim(lease_ms)
            for name in due:
                await self._fire(name)
                await self.timers.done(name, leased)
            if due:
                return None
            nxt = await self.timers.next_due_ms()
            wait = self.settings.timer_poll if nxt is None else (nxt - now_ms()) / 1000
            return min(max(wait, 0.01), self.settings.timer_poll)

        await self._guarded_loop("timers", body)

    async def _fire(self, name: str) -> None:
        kind, run_id, key = parse(name)
        if kind == "sleep":
            event = {"type": "effect_resolved", "key": key, "ok": True, "value": None, "at": now_iso()}
            await self.store.resolve(run_id, key, event)
            await self._wake(run_id)
        elif kind == "gate":
            verdict, deadline = await self.store.gate_timeout(run_id, key, now_ms(), now_iso())
            if verdict in ("escalated", "not_due") and deadline:
                await self.timers.add(member("gate", run_id, key), deadline)
            if verdict == "escalated":
                await self.queue.notify(run_id)  # new approvers to mention
            if verdict == "applied":
                await self._wake(run_id)
        elif kind == "retry":
            if await self.store.requeue(run_id, key):
                request = next((e for e in await self.store.read_journal(run_id)
                                if e["type"] == "effect_requested" and e["key"] == key), None)
                if request is not None:
                    await self.queue.enqueue_task(run_id, request)
        elif kind == "wake":
            await self._wake(run_id)
        elif kind == SWEEP:
            await self._sweep(run_id)

    async def _sweep(self, run_id: str) -> None:
        """A front end's write is ``sweep_after`` old: if the run still has undispatched work, its
        wake was lost (``engine.sweeper``). Advance it from a cold replay, which dispatches leftovers."""
        if not await self.store.has_undispatched(run_id):
            return
        log.warning("run %s: work written for it was never picked up (its wake was lost); waking it", run_id)
        self.orchestrator.forget(run_id)
        await self._wake(run_id)
        await self.queue.notify(run_id)  # the lost write never told the front ends either (a cancel)

    async def _announce_loop(self) -> None:
        async def body() -> float | None:
            await self.redis.zadd(keys.WORKERS, {self.name: time.time()})
            return 5.0

        await self._guarded_loop("announce", body)
