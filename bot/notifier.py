"""The notifier: follows ``state.keys.NOTIFY_STREAM`` and keeps every run's Slack view current.

Engine writes XADD ``{run: id}`` to the stream after each change; this loop reads it through
the consumer group ``notifiers`` (replicas share the work) and hands each named run to that
run's own follower task, which syncs it (a burst of changes becomes one sync) and acknowledges
the entries only afterwards. The stream is a hint: the journal is the truth, and a sync shows
everything not yet shown, in order, whatever entries were lost or repeated.

What must never happen again (issue 10, items 5, 13, 14):

- One slow run must not hold up the others. Reading never waits for a sync, and each run is
  synced by its own task, so a channel busy behind its 1 post/s pacer, or a run waiting out a
  30 s ``Retry-After``, delays only itself.
- A sync may take longer than its lock's TTL. The lock is renewed while the sync runs; a lock
  lost anyway (another replica took it) cancels the sync, whose ledger intent keeps what it did
  safe, and the run is synced again later.
- A failed sync is retried. Its entries stay un-acknowledged; the run is retried with backoff,
  and after any Redis error (and at start) the notifier re-reads its own pending entries from
  the stream and reclaims entries other consumers left idle (XAUTOCLAIM), then catches up on
  every active run, so a Redis restart leaves no card or gate behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import aiohttp
from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError, LockNotOwnedError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import failpoints
from bot.ledger import LedgerStore, lock_key
from bot.pacer import ChannelPacer
from bot.sync import RunSync
from engine.client import ShepherdClient
from state import keys
from state.connection import UNAVAILABLE

log = logging.getLogger(__name__)

GROUP = "notifiers"
RECLAIM_IDLE_MS = 60_000
"""Entries another consumer has held this long are taken over (it has probably died)."""
RECLAIM_EVERY_S = 30.0
READ_COUNT = 200
TRANSIENT_SLACK_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                          "request_timeout", "team_added_to_org"}
"""Slack refusals worth retrying (https://api.slack.com/methods/chat.postMessage#errors); any
other refusal is final for this change of the run, logged, and its entries acknowledged."""


REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)


class LockLost(Exception):
    """The run's lock expired or was taken while its sync ran."""


@dataclass
class _Follow:
    """One run's follower: the entries to acknowledge once synced, and whether to sync again."""

    ids: set[str] = field(default_factory=set)
    dirty: bool = True
    task: asyncio.Task[None] | None = None
    failures: int = 0
    retry_at: float | None = None
    """Set after a failed sync: when to try again (the follower task has ended)."""


class Notifier:
    def __init__(self, redis: Redis, web: AsyncWebClient, *, post_interval: float = 1.0,
                 update_interval: float | None = None, consumer: str | None = None, block_ms: int = 500,
                 on_synced: Callable[[str], Awaitable[None]] | None = None, lock_ttl: float = 60.0,
                 retry_base: float = 1.0, retry_cap: float = 30.0,
                 heartbeat: Callable[[], None] | None = None) -> None:
        self.redis = redis
        self.on_synced = on_synced
        """Called with a run id after each sync; must return at once (the App Home queues a refresh)."""
        self.heartbeat = heartbeat or (lambda: None)
        """Called after each read of the stream: the supervisor's sign that the notifier works."""
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.block_ms = block_ms
        self.lock_ttl = lock_ttl
        self.retry_base, self.retry_cap = retry_base, retry_cap
        self.sync = RunSync(web, ShepherdClient(redis), LedgerStore(redis),
                            ChannelPacer(post_interval, update_interval))
        self.stopping = asyncio.Event()
        self._follows: dict[str, _Follow] = {}
        self._unreleased: dict[str, Lock] = {}
        self._fresh = True
        self._last_reclaim = 0.0

    def stop(self) -> None:
        self.stopping.set()

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(keys.NOTIFY_STREAM, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self) -> None:
        """Catch up, then follow the stream until ``stop()``. A Redis outage, at start or later,
        is waited out, and afterwards everything pending or active is looked at again."""
        self._fresh = True  # (re)started, perhaps by the supervisor after a crash: look at everything
        try:
            while not self.stopping.is_set():
                try:
                    await self._step()
                    self.heartbeat()
                except UNAVAILABLE as exc:
                    log.warning("notifier: Redis unavailable (%s); retrying", type(exc).__name__)
                    self._fresh = True
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stopping.wait(), 1.0)
                except ResponseError as exc:
                    if "NOGROUP" not in str(exc):  # the stream or group is gone (Redis lost its data)
                        raise
                    log.warning("notifier: the notify stream's group is gone; creating it again")
                    self._fresh = True
        finally:
            await self._stop_follows()

    async def _step(self) -> None:
        failpoints.check("notifier.step")
        loop = asyncio.get_running_loop()
        if self._fresh:
            await self.ensure_group()
            await self._read_own_pending()
            await self._reclaim()
            await self._catch_up()
            self._retry_due(loop.time(), all_now=True)  # Redis is back: no need to wait out backoffs
            self._fresh = False
        elif loop.time() - self._last_reclaim >= RECLAIM_EVERY_S:
            await self._reclaim()
        self._retry_due(loop.time())
        block = self.block_ms
        due = [f.retry_at for f in self._follows.values() if f.retry_at is not None]
        if due:
            block = max(1, min(block, int((min(due) - loop.time()) * 1000)))
        reply = await self.redis.xreadgroup(GROUP, self.consumer, {keys.NOTIFY_STREAM: ">"}, count=READ_COUNT,
                                            block=block)
        self._take(entry for _, items in reply or [] for entry in items)

    async def _catch_up(self) -> None:
        """Every active run, whatever the stream says: entries may have been lost with Redis."""
        runs = self.sync.engine
        for status in ("running", "waiting"):
            for run_id in await runs.run_ids(status, limit=500):
                self.follow(run_id)

    async def _read_own_pending(self) -> None:
        """Entries delivered to this consumer and never acknowledged (a previous life's, or ones
        whose sync or acknowledgement failed): read again from the start of the pending list."""
        start = "0"
        while True:
            reply = await self.redis.xreadgroup(GROUP, self.consumer, {keys.NOTIFY_STREAM: start}, count=READ_COUNT)
            entries = [entry for _, items in reply or [] for entry in items]
            if not entries:
                return
            self._take(entries)
            start = entries[-1][0]

    async def _reclaim(self) -> None:
        """Take over entries other consumers (dead replicas) have left idle."""
        self._last_reclaim = asyncio.get_running_loop().time()
        cursor = "0-0"
        while True:
            reply = await self.redis.xautoclaim(keys.NOTIFY_STREAM, GROUP, self.consumer, RECLAIM_IDLE_MS, cursor,
                                                count=READ_COUNT)
            cursor, claimed = reply[0], reply[1]
            self._take(claimed)
            if cursor in ("0-0", b"0-0"):
                return

    def _take(self, entries: Iterable[tuple[str, dict[str, str] | None]]) -> None:
        for entry_id, fields in entries:
            run_id = (fields or {}).get("run")
            if run_id:
                self.follow(run_id, entry_id)
            else:  # deleted or malformed: nothing to sync, never to be read again
                self.follow("", entry_id)

    def follow(self, run_id: str, entry_id: str | None = None) -> None:
        """Have ``run_id`` synced (again), acknowledging ``entry_id`` afterwards."""
        follow = self._follows.setdefault(run_id, _Follow())
        if entry_id is not None:
            follow.ids.add(entry_id)
        follow.dirty = True
        if follow.task is None and follow.retry_at is None:
            follow.task = asyncio.create_task(self._follow(run_id, follow), name=f"shepherd-sync-{run_id}")

    def _retry_due(self, now: float, *, all_now: bool = False) -> None:
        for run_id, follow in list(self._follows.items()):
            if follow.retry_at is not None and (all_now or follow.retry_at <= now):
                follow.retry_at = None
                self.follow(run_id)

    async def _follow(self, run_id: str, follow: _Follow) -> None:
        """Sync ``run_id`` until no change is left, acknowledging what each sync covered; on a
        failure, leave its entries pending and come back after a backoff."""
        try:
            while follow.dirty and not self.stopping.is_set():
                follow.dirty = False
                ids = set(follow.ids)
                if not await self.sync_one(run_id):
                    self._retry_later(run_id, follow)
                    return
                follow.failures = 0
                if ids:
                    await self.redis.xack(keys.NOTIFY_STREAM, GROUP, *ids)
                    follow.ids -= ids
                await self._after_sync(run_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # xack met Redis down (entries still pending), or a bug: try again later
            log.warning("notifier: following run %s failed (%s: %s)", run_id, type(exc).__name__, exc)
            self._fresh = self._fresh or isinstance(exc, REDIS_DOWN)
            self._retry_later(run_id, follow)
        finally:
            follow.task = None
            if follow.retry_at is None and (not follow.dirty or self.stopping.is_set()):
                self._follows.pop(run_id, None)

    def _retry_later(self, run_id: str, follow: _Follow) -> None:
        follow.failures += 1
        delay = min(self.retry_cap, self.retry_base * 2 ** (follow.failures - 1))
        follow.retry_at = asyncio.get_running_loop().time() + delay
        log.info("notifier: run %s will be synced again in %.1f s", run_id, delay)

    async def _after_sync(self, run_id: str) -> None:
        if self.on_synced is None or not run_id:
            return
        try:
            await self.on_synced(run_id)
        except Exception:
            log.exception("notifier: after-sync hook failed for run %s", run_id)

    async def sync_one(self, run_id: str) -> bool:
        """Sync a run under its lock (one syncer per run across replicas). Never raises: True when
        done (or refused for good by Slack), False when it should be tried again later."""
        if not run_id:
            return True
        lock = self._unreleased.pop(run_id, None)  # ours still, if Redis died before we could free it
        if lock is not None:
            with contextlib.suppress(LockError, *UNAVAILABLE):
                await lock.release()
        lock = self.redis.lock(lock_key(run_id), timeout=self.lock_ttl, blocking_timeout=self.lock_ttl)
        try:
            if not await lock.acquire():
                log.info("notifier: run %s is being synced elsewhere; trying later", run_id)
                return False
        except UNAVAILABLE as exc:
            log.warning("notifier: could not lock run %s: Redis unavailable (%s)", run_id, type(exc).__name__)
            self._fresh = True
            return False
        try:
            await self._sync_renewing(run_id, lock)
            return True
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in TRANSIENT_SLACK_ERRORS or exc.response.status_code >= 500:
                log.warning("notifier: Slack could not take an update of run %s now (%s)", run_id, error)
                return False
            log.warning("notifier: Slack refused an update of run %s: %s", run_id, error)
            return True
        except LockLost:
            log.warning("notifier: lost the lock of run %s mid-sync; syncing it again later", run_id)
            return False
        except (*UNAVAILABLE, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("notifier: could not sync run %s (%s: %s)", run_id, type(exc).__name__, exc)
            self._fresh = self._fresh or isinstance(exc, REDIS_DOWN)  # then re-read what is pending
            return False
        except Exception:  # the ledger's intent keeps what was done; the retry does the rest
            log.exception("notifier: could not sync run %s", run_id)
            return False
        finally:
            try:
                await lock.release()
            except LockError:
                pass  # expired or lost (the sync was cancelled then): nothing to free
            except UNAVAILABLE:  # kept by Redis (an AOF restores it): freed before the run's next sync
                self._unreleased[run_id] = lock

    async def _sync_renewing(self, run_id: str, lock: Lock) -> None:
        """Run the sync, renewing the lock every third of its TTL for as long as it takes."""
        sync = asyncio.create_task(self.sync.sync(run_id))
        try:
            while True:
                done, _ = await asyncio.wait({sync}, timeout=self.lock_ttl / 3)
                if done:
                    return sync.result()
                try:
                    await lock.reacquire()
                except LockNotOwnedError:
                    raise LockLost(run_id) from None
                except UNAVAILABLE:
                    pass  # the sync will meet the outage too; the lock may yet be renewed next time
        finally:
            if not sync.done():
                sync.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sync

    async def _stop_follows(self, grace: float = 5.0) -> None:
        """Let syncs in progress finish for ``grace`` seconds, then cancel them (a cancelled sync
        leaves its intent in the ledger, and the next start finds the post by its metadata)."""
        tasks = [f.task for f in self._follows.values() if f.task is not None]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self._follows.clear()
