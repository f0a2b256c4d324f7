"""Run state in Redis: the journal, effects, gates, locks and indexes of runs.

Every state change of a run goes through one of the Lua scripts in
``state.scripts``; this module only names their arguments and decodes their
replies. Indexes (by status, channel, requester) are global keys, so they are
maintained beside the scripts, idempotently, and the run's meta hash stays the
source of truth.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError

from state import keys
from state.journal import Event, decode, encode
from state.scripts import Scripts


class GateDefaults(Protocol):
    """What the store needs of operators' gate defaults (``engine.policy.GatePolicy`` is one).

    A protocol, not an import: state/ imports nothing of ours.
    """

    def apply(self, process: str, gate: dict[str, Any]) -> dict[str, Any]: ...


STATUSES = ("running", "waiting", "completed", "failed", "cancelled")


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class RunStore:
    def __init__(self, redis: Redis, *, gate_policy: GateDefaults | None = None) -> None:
        self.redis = redis
        self.scripts = Scripts(redis)
        self.gate_policy = gate_policy
        """Operators' gate defaults (``engine.policy``), applied as gate records are first written."""

    async def _run(self, name: str, run_id: str, *args: Any, client: Any = None) -> Any:
        return await self.scripts[name](keys=keys.run_keys(run_id), args=list(args), client=client or self.redis)

    # -- creating and reading -------------------------------------------------

    async def create_run(self, run_id: str, created: Event, meta: dict[str, str],
                         before: Callable[[Pipeline], object] | None = None) -> bool:
        """Create the run (its journal, meta and wake mark in one script).

        The indexes (global keys) are written first, with ``before(pipe)`` (e.g. arming the
        run's sweep), so a crash between the two cannot leave a run nobody can list or find:
        at worst an index names a run that was never created, which listings skip.
        """
        score = time.time()
        pipe = self.redis.pipeline(transaction=False)
        if before is not None:
            before(pipe)
        pipe.zadd(keys.status_index(meta["status"]), {run_id: score})
        pipe.zadd(keys.requester_index(meta["requester"]), {run_id: score})
        if meta.get("channel"):
            pipe.zadd(keys.channel_index(meta["channel"]), {run_id: score})
        await pipe.execute()
        return bool(await self._run("create_run", run_id, encode(created), _json(meta)))

    async def read_journal(self, run_id: str, start: int = 0) -> list[Event]:
        return [decode(raw) for raw in await self.redis.lrange(keys.journal(run_id), start, -1)]

    async def journal_length(self, run_id: str) -> int:
        return int(await self.redis.llen(keys.journal(run_id)))

    async def meta(self, run_id: str) -> dict[str, str]:
        return await self.redis.hgetall(keys.meta(run_id))

    async def gates(self, run_id: str) -> dict[str, dict[str, Any]]:
        raw = await self.redis.hgetall(keys.gates(run_id))
        return {key: _normalize_gate(json.loads(value)) for key, value in raw.items()}

    async def signal_channels(self, run_id: str) -> dict[str, dict[str, Any]]:
        """The signal channels the run's process has declared, by name."""
        raw = await self.redis.hgetall(keys.signals(run_id))
        return {field.removeprefix("channel:"): json.loads(value) for field, value in raw.items()
                if field.startswith("channel:")}

    async def effect_states(self, run_id: str) -> dict[str, str]:
        return await self.redis.hgetall(keys.effects(run_id))

    async def undispatched(self, run_id: str) -> set[str]:
        return set(await self.redis.smembers(keys.undispatched(run_id)))

    async def has_undispatched(self, run_id: str) -> bool:
        """Work written for the run that no orchestrator has dispatched or seen (a step, a wake mark)."""
        return bool(await self.redis.scard(keys.undispatched(run_id)))

    async def artifact(self, run_id: str, key: str) -> bytes | None:
        raw = await self.redis.execute_command("GET", keys.artifact(run_id, key), NEVER_DECODE=True)
        return raw

    async def store_artifacts(self, run_id: str, blobs: dict[str, bytes]) -> None:
        if blobs:
            pipe = self.redis.pipeline(transaction=False)
            for key, data in blobs.items():
                pipe.set(keys.artifact(run_id, key), data)
            await pipe.execute()

    # -- the orchestrator's writes ------------------------------------------------

    async def append(
        self, run_id: str, expected_seq: int, events: list[Event],
        new_effects: list[tuple[str, bool]], gates: dict[str, dict[str, Any]], meta: dict[str, str],
        *, resolved: list[str] | None = None, cancelled: list[str] | None = None,
        channels: dict[str, dict[str, Any]] | None = None,
    ) -> tuple[int, int, str]:
        """Fenced append: (1 ok | 0 fenced | -1 run closed, journal length, status before the append).

        ``resolved`` / ``cancelled``: steps the replay itself settled (signal waits it served,
        ``ctx.first``'s losers); ``channels``: signal channels it declared (``engine.signals``).
        """
        settled: dict[str, Any] = {}
        if resolved:
            settled["resolved"] = resolved
        if cancelled:
            settled["cancelled"] = cancelled
        if channels:
            settled["channels"] = {k: _json(v) for k, v in channels.items()}
        if gates and self.gate_policy is not None:
            process = await self.redis.hget(keys.meta(run_id), "process") or ""
            gates = {key: self.gate_policy.apply(process, gate) for key, gate in gates.items()}
        reply = await self._run(
            "append", run_id, expected_seq, _json([encode(e) for e in events]),
            _json([[k, d] for k, d in new_effects]), _json({k: _json(g) for k, g in gates.items()}) if gates else "{}",
            _json(meta) if meta else "{}", _json(settled) if settled else "",
        )
        return int(reply[0]), int(reply[1]), (reply[2] if len(reply) > 2 else "")

    def queue_script(self, pipe: Pipeline, name: str, run_id: str, *args: Any) -> None:
        """Add a run script to a pipeline as a bare EVALSHA.

        redis-py would otherwise check SCRIPT EXISTS before every such pipeline (one
        more round trip); ``execute_with_scripts`` handles a server that lost its scripts.
        """
        run_keys = keys.run_keys(run_id)
        pipe.evalsha(self.scripts[name].sha, len(run_keys), *run_keys, *args)

    async def execute_with_scripts(self, pipe: Pipeline) -> list[Any]:
        """Execute a pipeline holding bare EVALSHAs. If the server lost its scripts (a restart:
        NOSCRIPT), load them and run again just the scripts that failed, in order; the rest of
        the pipeline already ran and must not run twice."""
        commands = list(pipe.command_stack)
        results = await pipe.execute(raise_on_error=False)
        failed = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if failed:
            await self.scripts.load_all()
            for i in failed:
                args, options = commands[i]
                results[i] = await self.redis.execute_command(*args, **options)
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results

    async def lock_and_read(self, run_id: str, token: str, ttl_s: float, start: int,
                            resolve: tuple[str, Event] | None = None) -> tuple[bool, list[Event]]:
        """One round trip: commit ``resolve`` (if given), take the run lock, read the journal from ``start``."""
        pipe = self.redis.pipeline(transaction=False)
        if resolve is not None:
            self.queue_script(pipe, "resolve", run_id, resolve[0], encode(resolve[1]))
        pipe.set(keys.lock(run_id), token, nx=True, px=int(ttl_s * 1000))
        pipe.lrange(keys.journal(run_id), start, -1)
        results = await pipe.execute(raise_on_error=False)
        if resolve is not None and isinstance(results[0], NoScriptError):
            # A restarted Redis lost its scripts. The lock may be ours already, so do not
            # run the pipeline again: commit now (loading the script), then read again.
            await self.resolve(run_id, resolve[0], resolve[1])
            if results[-2] is True:
                results[-1] = await self.redis.lrange(keys.journal(run_id), start, -1)
        for result in results[-2:] if resolve is not None and isinstance(results[0], NoScriptError) else results:
            if isinstance(result, Exception):
                raise result
        locked = bool(results[-2])
        return locked, [decode(raw) for raw in results[-1]] if locked else []

    async def reindex_status(self, run_id: str, status: str | None = None) -> str:
        """Put the run in the index of its status (read from its meta hash unless given).

        Indexes are scored by the run's start time, so listings are newest first.
        """
        stored, created = await self.redis.hmget(keys.meta(run_id), ["status", "created_at"])
        status = status or stored
        if not status:
            return ""
        score = datetime.fromisoformat(created).timestamp() if created else time.time()
        pipe = self.redis.pipeline(transaction=False)
        for other in STATUSES:
            if other != status:
                pipe.zrem(keys.status_index(other), run_id)
        pipe.zadd(keys.status_index(status), {run_id: score})
        await pipe.execute()
        return status

    async def try_lock(self, run_id: str, token: str, ttl_s: float) -> bool:
        return bool(await self.redis.set(keys.lock(run_id), token, nx=True, px=int(ttl_s * 1000)))

    @staticmethod
    def _unlock_keys(run_id: str) -> list[str]:
        return [keys.lock(run_id), keys.journal(run_id), keys.undispatched(run_id)]

    def queue_unlock(self, pipe: Pipeline, run_id: str, token: str, seen: int | None) -> int:
        """Add the unlock to a pipeline; returns the index of its reply (the journal length).

        ``seen``: the journal length the holder has handled (None: the run is over). When it is the
        whole journal, the run's wake mark is cleared with the lock.
        """
        pipe.evalsha(self.scripts["release_lock"].sha, 3, *self._unlock_keys(run_id), token,
                     "" if seen is None else seen)
        return len(pipe.command_stack) - 1

    async def unlock(self, run_id: str, token: str, seen: int | None) -> int:
        """Release the run's lock (if still ours); returns the journal length."""
        return int(await self.scripts["release_lock"](keys=self._unlock_keys(run_id),
                                                      args=[token, "" if seen is None else seen]))

    # -- workers, timers and people -----------------------------------------------

    async def start_task(self, run_id: str, key: str, worker: str, lease_ms: int,
                         entry_id: str = "") -> tuple[str, str, str]:
        """(go, attempt, '') | (busy, state, owner's entry id) | (done, state, '') | (unknown, '', '')."""
        verdict, detail, owner = await self._run("start_task", run_id, key, worker, lease_ms, entry_id)
        return str(verdict), str(detail), str(owner)

    async def heartbeat(self, run_id: str, key: str, worker: str, lease_ms: int) -> bool:
        return bool(await self._run("heartbeat", run_id, key, worker, lease_ms))

    async def backoff(self, run_id: str, key: str, worker: str, delay_ms: int) -> bool:
        return bool(await self._run("backoff", run_id, key, worker, delay_ms))

    async def requeue(self, run_id: str, key: str) -> bool:
        return bool(await self._run("requeue", run_id, key))

    async def resolve(self, run_id: str, key: str, event: Event) -> tuple[bool, str]:
        applied, detail = await self._run("resolve", run_id, key, encode(event))
        return bool(applied), str(detail)

    async def decide(
        self, run_id: str, key: str, user: str, groups: list[str], approve: bool, comment: str, at: str,
    ) -> list[str]:
        reply = await self._run("decide", run_id, key, user, _json(groups), "1" if approve else "0",
                                comment, at, "breakpoint")
        return [str(x) for x in reply]

    async def answer(self, run_id: str, key: str, user: str, groups: list[str], value: Any, at: str) -> list[str]:
        reply = await self._run("answer", run_id, key, user, _json(groups), _json(value), at)
        return [str(x) for x in reply]

    async def signal(self, run_id: str, name: str, signal_id: str, sender: str, groups: list[str],
                     event: Event, policy_allows: bool = False) -> list[str]:
        """Journal a signal (``state.scripts.SIGNAL``): applied, or why not."""
        reply = await self._run("signal", run_id, name, signal_id, sender, _json(groups), encode(event),
                                "1" if policy_allows else "0")
        return [str(x) for x in reply]

    async def gate_timeout(self, run_id: str, key: str, now_ms: int, at: str) -> tuple[str, int]:
        verdict, deadline = await self._run("gate_timeout", run_id, key, now_ms, at)
        return str(verdict), int(deadline)

    async def cancel(self, run_id: str, by: str, reason: str, at: str,
                     cleanup: Event | None = None) -> list[str]:
        """Cancel the run; ``cleanup`` (an effect_requested event) is journaled after it, atomically."""
        key, event = (cleanup["key"], encode(cleanup)) if cleanup else ("", "")
        return [str(x) for x in await self._run("cancel", run_id, by, reason, at, key, event)]

    async def retry(self, run_id: str, by: str, at: str, reset: list[str], expected_length: int) -> list[str]:
        return [str(x) for x in await self._run("retry", run_id, by, at, _json(reset), expected_length)]

    # -- listing --------------------------------------------------------------------

    async def list_runs(self, status: str | None = None, requester: str | None = None,
                        channel: str | None = None, limit: int = 50) -> list[str]:
        if status:
            index = keys.status_index(status)
        elif requester:
            index = keys.requester_index(requester)
        elif channel:
            index = keys.channel_index(channel)
        else:  # every run is in exactly one status index
            scored = await self.redis.zunion([keys.status_index(s) for s in STATUSES], withscores=True)
            return [run_id for run_id, _ in sorted(scored, key=lambda item: -item[1])[:limit]]
        return list(await self.redis.zrevrange(index, 0, limit - 1))


LIST_FIELDS = ("users", "groups", "votes", "escalate_users", "escalate_groups")


def _normalize_gate(gate: dict[str, Any]) -> dict[str, Any]:
    """Fill in the defaults left out when stored; Lua's cjson writes empty arrays as {}."""
    for name in LIST_FIELDS:
        if gate.get(name) in (None, {}):
            gate[name] = []
    gate.setdefault("four_eyes", False)
    gate.setdefault("escalated", False)
    gate.setdefault("deadline_ms", 0)
    return gate
