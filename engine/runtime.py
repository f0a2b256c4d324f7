"""Advancing a run: replay its process over the journal and commit what it asks for.

One orchestrator at a time per run (a lock with a lease); correctness does not
rest on the lock but on the fenced append: a writer whose journal is stale is
refused, reloads and carries on from the new state. New effects are journaled
first and dispatched (queued, timed) after; a crash in between leaves them in
the run's ``undispatched`` set, which the next cold load dispatches.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from redis.asyncio.client import Pipeline

from engine.context import Execution, describe_error
from engine.errors import MissingDefinition, UnknownProcess
from engine.failpoints import failpoint
from engine.journal import EXTERNAL, HUMAN_KINDS, Event, JournalView, compact, now_iso
from engine.registry import get_process
from state.queue import WorkQueue
from state.store import RunStore
from state.timers import Timers, member, now_ms

log = logging.getLogger(__name__)

DISPATCHED_KINDS = frozenset({"task", "shell", "sleep", "breakpoint", "ask"})


def _ms(iso: str | None) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000) if iso else 0


def gate_record(request: Event, requester: str) -> dict[str, Any]:
    """The mutable state of a breakpoint or ask, created with its request (defaults left out)."""
    args = request["args"]
    escalation = args.get("escalation_timeout")
    return {"kind": request["kind"], "key": request["key"], "title": args["title"], "status": "open",
            "requester": requester, "quorum": int(args.get("quorum", 1)), **compact({
                "users": args.get("users"), "groups": args.get("groups"), "four_eyes": args.get("four_eyes"),
                "deadline_ms": _ms(args.get("deadline")) or None, "on_timeout": args.get("on_timeout"),
                "escalate_users": args.get("escalate_users"), "escalate_groups": args.get("escalate_groups"),
                "escalation_timeout_ms": int(escalation * 1000) if escalation else None})}


class Orchestrator:
    def __init__(self, store: RunStore, queue: WorkQueue, timers: Timers, *, lock_ttl: float = 30.0,
                 cache_size: int = 256) -> None:
        self.store, self.queue, self.timers = store, queue, timers
        self.lock_ttl = lock_ttl
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Execution] = OrderedDict()

    async def advance(self, run_id: str, resolve: tuple[str, Event] | None = None,
                      then: Callable[[Pipeline], object] | None = None) -> bool:
        """Advance the run as far as it can go now. False if another orchestrator holds it.

        A worker's hot path in two round trips around the replay: ``resolve`` (a step key
        and its effect_resolved event) is committed in the same round trip that takes the
        lock and reads the journal; the new effects' dispatch, the unlock and ``then``
        (e.g. acknowledging the task's queue entry) share the last one.
        """
        for _ in range(100):
            token = uuid.uuid4().hex
            cached = self._cache.get(run_id)
            start = cached.journal.seq if cached is not None else 0
            locked, fresh = await self.store.lock_and_read(run_id, token, self.lock_ttl, start, resolve)
            if resolve is not None:
                failpoint("after_commit")  # committed; its queue entry not yet acknowledged
                resolve = None
            if not locked:
                return False
            seq: int | None = -1
            prefetched: tuple[int, list[Event]] | None = (start, fresh)
            pipe = self.store.redis.pipeline(transaction=False)
            try:
                while seq == -1:  # -1: fenced by another writer; reload and go again
                    seq = await self._iterate(run_id, prefetched, pipe)
                    prefetched = None
            finally:
                unlock_at = self.store.queue_unlock(pipe, run_id, token, seq)
                if then is not None:
                    then(pipe)
                    then = None
                length = int((await self.store.execute_with_scripts(pipe))[unlock_at])
            if seq is None or length == seq:
                break  # nothing landed while we held the lock
        return True

    def forget(self, run_id: str) -> None:
        execution = self._cache.pop(run_id, None)
        if execution is not None:
            execution.close()

    async def _load(self, run_id: str, prefetched: tuple[int, list[Event]] | None) -> Execution | None:
        """The run's execution: the warm one brought up to date, or a cold replay of the journal.

        ``prefetched`` is (start, events from start) read under the lock, if any.
        """
        cached = self._cache.pop(run_id, None)
        if cached is not None:
            if prefetched is not None and prefetched[0] == cached.journal.seq:
                newer = prefetched[1]
            else:
                newer = await self.store.read_journal(run_id, cached.journal.seq)
            if all(e["type"] in EXTERNAL for e in newer):
                cached.journal.extend(newer)
                return cached
            cached.close()  # someone else wrote requests: the warm coroutine is stale
            prefetched = None
        if prefetched is not None and prefetched[0] == 0:
            events = prefetched[1]
        else:
            events = await self.store.read_journal(run_id)
        if not events:
            return None
        journal = JournalView(events)
        await self._dispatch_leftovers(run_id, journal)  # of an ended run: its on_cancel step, if any
        if journal.terminal is not None:  # a crash may have come between the final append and its index update
            await self.store.reindex_status(run_id)
            return None  # an ended run is not replayed, so it needs no definition here
        try:
            definition = get_process(journal.created["process"])  # type: ignore[index]
        except UnknownProcess:
            # Not this worker's to fail: another one may have the process (engine.worker leaves it).
            raise MissingDefinition("process", journal.created["process"]) from None  # type: ignore[index]
        return Execution(definition, run_id, journal)

    async def _iterate(self, run_id: str, prefetched: tuple[int, list[Event]] | None = None,
                       pipe: Pipeline | None = None) -> int | None:
        """One replay and commit. Returns the journal length it left, -1 if fenced, None when done.

        New effects are dispatched on ``pipe``, which the caller then executes (with its own
        pipeline when none is given).
        """
        if pipe is None:
            own = self.store.redis.pipeline(transaction=False)
            try:
                return await self._iterate(run_id, prefetched, own)
            finally:
                await self.store.execute_with_scripts(own)
        execution = await self._load(run_id, prefetched)
        if execution is None:
            return None
        journal = execution.journal
        if journal.terminal is not None:
            execution.close()
            return None
        outcome = execution.drive()
        failpoint("replay")
        ctx = execution.ctx
        events = ctx.take_new_events()
        meta: dict[str, str] = {"updated_at": now_iso(), "waiting_on": ""}
        if outcome.state == "completed":
            events.append({"type": "run_completed", "result": outcome.value, "at": meta["updated_at"]})
            meta.update(status="completed", result=json.dumps(outcome.value, default=str))
        elif outcome.state == "failed":
            assert outcome.error is not None
            error = describe_error(outcome.error, ctx.current_step)
            events.append({"type": "run_failed", "error": error, "at": meta["updated_at"]})
            meta.update(status="failed", error=error["message"])
        if not events:
            self._keep(run_id, execution)
            return journal.seq

        requests = [e for e in events if e["type"] == "effect_requested"]
        resolved, cancelled, channels = settled_by_replay(events)
        requester = (journal.created or {}).get("requester", "")
        gates = {e["key"]: gate_record(e, requester) for e in requests if e["kind"] in HUMAN_KINDS}
        if outcome.state == "suspended":
            pending = [*journal.pending.values(), *requests]
            if resolved or cancelled:
                pending = [e for e in pending if e["key"] not in resolved and e["key"] not in cancelled]
            waiting = [e for e in pending if e["kind"] in HUMAN_KINDS]
            meta["status"] = "waiting" if waiting else "running"
            meta["waiting_on"] = ",".join(e["key"] for e in waiting)  # their titles are in the gates hash
            if requests:
                last = requests[-1]
                meta["step"] = (last["name"].rsplit(".", 1)[-1] if last["kind"] == "task" else last["name"])[:60]
        await self.store.store_artifacts(run_id, ctx.new_artifacts)
        ctx.new_artifacts = {}
        applied, _, previous_status = await self.store.append(
            run_id, journal.seq, events, [(e["key"], e["kind"] in DISPATCHED_KINDS) for e in requests],
            gates, meta, resolved=resolved, cancelled=cancelled, channels=channels)
        if applied != 1:
            execution.close()  # fenced (or the run was closed): reload from the journal
            return -1 if applied == 0 else None
        journal.extend(events)
        failpoint("after_append")
        if cancelled:
            requests = [e for e in requests if e["key"] not in cancelled]
            for key in cancelled:  # a loser's timer: once gone, a crash before this only wastes a no-op firing
                for kind in ("sleep", "gate", "retry"):
                    self.timers.remove(member(kind, run_id, key), client=pipe)
        if requests:
            self._queue_dispatch(pipe, run_id, requests)
        self.queue.notify(run_id, client=pipe)
        if meta.get("status", previous_status) != previous_status:
            await self.store.reindex_status(run_id)  # from meta: a concurrent cancel must win
        if execution.finished:
            execution.close()
        else:
            self._keep(run_id, execution)
        return journal.seq

    def _keep(self, run_id: str, execution: Execution) -> None:
        """Keep a warm coroutine only while the run waits on machines, not on people."""
        if self.cache_size <= 0 or execution.finished or execution.journal.waiting_on_people():
            execution.close()
            return
        self._cache[run_id] = execution
        while len(self._cache) > self.cache_size:
            _, oldest = self._cache.popitem(last=False)
            oldest.close()

    def _queue_dispatch(self, pipe: Pipeline, run_id: str, requests: list[Event]) -> None:
        """Queue tasks, arm timers, then mark them dispatched (a crash before leaves them undispatched)."""
        dispatched = []
        for request in requests:
            kind, key, args = request["kind"], request["key"], request["args"]
            if kind in ("task", "shell"):
                self.queue.enqueue_task(run_id, request, client=pipe)
            elif kind == "sleep":
                self.timers.add(member("sleep", run_id, key), _ms(args["fire_at"]), client=pipe)
            elif kind in HUMAN_KINDS and args.get("deadline"):
                self.timers.add(member("gate", run_id, key), _ms(args["deadline"]), client=pipe)
            if kind in DISPATCHED_KINDS:
                dispatched.append(key)
        if dispatched:
            self.store.queue_script(pipe, "mark_dispatched", run_id, *dispatched)

    async def _dispatch_leftovers(self, run_id: str, journal: JournalView) -> None:
        leftovers = await self.store.undispatched(run_id)
        requests = [journal.pending[k] for k in sorted(leftovers) if k in journal.pending]
        if requests:
            log.info("run %s: dispatching %d effect(s) a previous orchestrator left", run_id, len(requests))
            pipe = self.store.redis.pipeline(transaction=False)
            self._queue_dispatch(pipe, run_id, requests)
            await self.store.execute_with_scripts(pipe)


def settled_by_replay(events: list[Event]) -> tuple[list[str], list[str], dict[str, dict[str, Any]]]:
    """What a replay settled itself: signal waits it served, ``ctx.first``'s losers, and the signal
    channels it declared (their records, for front ends to check against)."""
    resolved: list[str] = []
    cancelled: list[str] = []
    channels: dict[str, dict[str, Any]] = {}
    for event in events:
        kind = event["type"]
        if kind == "effect_resolved":
            resolved.append(event["key"])
        elif kind == "effect_cancelled":
            cancelled.append(event["key"])
        elif kind == "signal_declared":
            channels[event["name"]] = {k: v for k, v in event.items() if k not in ("type", "at")}
    return resolved, cancelled, channels


def retry_due_ms(attempt: int, backoff: float) -> int:
    """Exponential backoff: backoff, 2x, 4x ... seconds after this attempt, capped at 10 minutes."""
    return now_ms() + int(min(backoff * (2 ** max(attempt - 1, 0)), 600) * 1000)
