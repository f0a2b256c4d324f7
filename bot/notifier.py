"""The notifier: follows ``state.keys.NOTIFY_STREAM`` and keeps every run's Slack view current.

Engine writes XADD ``{run: id}`` to the stream after each change; this loop reads it through
the consumer group ``notifiers`` (replicas share the work), syncs each named run once per batch
(a burst of changes becomes one sync) and acknowledges only afterwards, so a crash leaves the
entries pending for the next start. The stream is a hint: the journal is the truth, and a sync
shows everything not yet shown, in order, whatever entries were lost or repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ledger import LedgerStore, lock_key
from bot.pacer import ChannelPacer
from bot.sync import RunSync
from engine.client import ShepherdClient
from state import keys
from state.connection import UNAVAILABLE

log = logging.getLogger(__name__)

GROUP = "notifiers"
RECLAIM_IDLE_MS = 60_000


class Notifier:
    def __init__(self, redis: Redis, web: AsyncWebClient, *, post_interval: float = 1.0,
                 consumer: str | None = None, block_ms: int = 500,
                 on_synced: Callable[[str], Awaitable[None]] | None = None) -> None:
        self.redis = redis
        self.on_synced = on_synced
        """Called with a run id after each sync (the App Home refreshes the people it concerns)."""
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.block_ms = block_ms
        self.sync = RunSync(web, ShepherdClient(redis), LedgerStore(redis), ChannelPacer(post_interval))
        self.stopping = asyncio.Event()
        self._local: dict[str, asyncio.Lock] = {}

    def stop(self) -> None:
        self.stopping.set()

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(keys.NOTIFY_STREAM, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self) -> None:
        """Catch up on active runs, then follow the stream until ``stop()``. A Redis outage, at
        start or later, is waited out: the notifier must outlive it, not die with it."""
        caught_up = False
        pending = True  # first our own unacknowledged entries (a previous life's), then new ones
        while not self.stopping.is_set():
            try:
                if not caught_up:
                    await self._catch_up()
                    caught_up = True
                pending = await self._step(pending)
            except UNAVAILABLE as exc:
                log.warning("notifier: Redis unavailable (%s); retrying", type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), 1.0)

    async def _catch_up(self) -> None:
        await self.ensure_group()
        runs = self.sync.engine
        active = await runs.run_ids("running", limit=500) + await runs.run_ids("waiting", limit=500)
        await self.sync_runs(active)

    async def _step(self, pending: bool) -> bool:
        start = "0" if pending else ">"
        reply = await self.redis.xreadgroup(GROUP, self.consumer, {keys.NOTIFY_STREAM: start}, count=200,
                                            block=None if pending else self.block_ms)
        entries = [(entry_id, fields) for _, items in reply or [] for entry_id, fields in items]
        if pending and not entries:
            claimed = await self.redis.xautoclaim(keys.NOTIFY_STREAM, GROUP, self.consumer,
                                                  RECLAIM_IDLE_MS, "0-0", count=200)
            entries = [(entry_id, fields) for entry_id, fields in claimed[1] if fields]
            if not entries:
                return False
        runs = list(dict.fromkeys(fields["run"] for _, fields in entries if fields and "run" in fields))
        await self.sync_runs(runs)
        if entries:
            await self.redis.xack(keys.NOTIFY_STREAM, GROUP, *[entry_id for entry_id, _ in entries])
        return pending

    async def sync_runs(self, runs: list[str]) -> None:
        await asyncio.gather(*(self.sync_one(run_id) for run_id in runs))

    async def sync_one(self, run_id: str) -> None:
        """Sync a run under its lock (one syncer per run across replicas); log, never raise:
        one broken channel or run must not stop the others."""
        local = self._local.setdefault(run_id, asyncio.Lock())
        async with local, self.redis.lock(lock_key(run_id), timeout=60, blocking_timeout=60):
            try:
                await self.sync.sync(run_id)
            except SlackApiError as exc:
                log.warning("notifier: Slack refused an update of run %s: %s", run_id, exc.response.get("error"))
            except Exception:  # the next change of the run (or a restart) syncs it again, intent first
                log.exception("notifier: could not sync run %s", run_id)
        if not local.locked():
            self._local.pop(run_id, None)
        if self.on_synced is not None:
            try:
                await self.on_synced(run_id)
            except Exception:
                log.exception("notifier: after-sync hook failed for run %s", run_id)
