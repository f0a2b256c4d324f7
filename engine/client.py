"""What front ends (terminal, Slack) can do with runs.

Starting, deciding, answering, signalling and cancelling all end in one Lua script on the
run's keys, then a wake on the queue; workers do the rest. Each arms a sweep first,
so a wake lost to a crash after the script is found (``engine.sweeper``). Every refusal is a
typed error from ``engine.errors`` with one line for the person.
"""

from __future__ import annotations

import importlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import BaseModel
from redis.asyncio import Redis

from engine.arguments import ArgumentError, parse_command, validate_inputs
from engine.cancellation import cleanup_request
from engine.errors import (
    GateClosed,
    NotAllowed,
    ProcessDefinitionError,
    RunClosed,
    UnknownGate,
    UnknownProcess,
    UnknownRun,
    UnknownSignal,
)
from engine.failpoints import failpoint
from engine.journal import TERMINAL, Event, JournalView, decode, now_iso
from engine.registry import find_form, get_process
from engine.settings import get_settings
from engine.signals import SignalRequest, describe_senders
from engine.sweeper import arm_sweep
from engine.types import Decision
from state import keys
from state.queue import WorkQueue
from state.store import RunStore
from state.timers import Timers

log = logging.getLogger(__name__)

MAX_SIGNAL_ID = 128

REFUSALS = {
    "not_approver": "you are not one of the approvers of this gate ({who})",
    "four_eyes": "four-eyes gate: the requester of a run cannot approve its own gate",
}


@dataclass
class StepView:
    key: str
    kind: str
    name: str
    state: str  # pending | done | failed | cancelled
    detail: str = ""


@dataclass
class RunView:
    id: str
    meta: dict[str, str]
    steps: list[StepView] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    artifacts: list[Event] = field(default_factory=list)
    open_gates: list[dict[str, Any]] = field(default_factory=list)
    signals: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The signal channels the process has opened, by name (``engine.signals``)."""

    @property
    def status(self) -> str:
        return self.meta.get("status", "?")


@dataclass
class DecisionResult:
    applied: bool
    message: str
    votes: int = 0
    quorum: int = 1


@dataclass
class SignalResult:
    applied: bool
    """False: a signal with this id was already delivered, and nothing changed."""
    message: str
    id: str


def new_run_id() -> str:
    return secrets.token_hex(5)


def _who(gate: dict[str, Any]) -> str:
    names = [*gate.get("users", []), *(f"group:{g}" for g in gate.get("groups", []))]
    return ", ".join(names) if names else "anyone"


class ShepherdClient:
    def __init__(self, redis: Redis, *, sweep_after: float | None = None) -> None:
        self.redis = redis
        self.store = RunStore(redis)
        self.queue = WorkQueue(redis)
        self.timers = Timers(redis, self.store.scripts)
        self.sweep_after = get_settings().sweep_after if sweep_after is None else sweep_after

    async def _arm_sweep(self, run_id: str) -> None:
        """Before a write: have a worker check later that its wake was not lost (``engine.sweeper``)."""
        await arm_sweep(self.timers, run_id, self.sweep_after)

    async def start(
        self, process_id: str, inputs: BaseModel | dict[str, Any], *, requester: str,
        channel: str | None = None, dedup: str | None = None,
    ) -> str:
        """Create a run and wake a worker for it. ``dedup`` makes retried requests start it once."""
        definition = get_process(process_id)
        model = inputs if isinstance(inputs, definition.inputs) else validate_inputs(
            definition.inputs, inputs if isinstance(inputs, dict) else inputs.model_dump())
        run_id = new_run_id()
        if dedup and not await self.redis.set(keys.dedup(dedup), run_id, nx=True, ex=86400):
            return str(await self.redis.get(keys.dedup(dedup)))
        at = now_iso()
        inputs_json = model.model_dump(mode="json")
        created: Event = {"type": "run_created", "process": process_id, "inputs": inputs_json,
                   "requester": requester, "channel": channel, "code_hash": definition.code_hash(), "at": at}
        meta = {"process": process_id, "title": definition.title, "status": "running",
                "requester": requester, "channel": channel or "", "created_at": at, "updated_at": at,
                "code_hash": created["code_hash"]}  # inputs live in the journal's run_created
        await self.store.create_run(run_id, created, meta,
                                    before=lambda pipe: arm_sweep(self.timers, run_id, self.sweep_after, pipe))
        failpoint("after_create")  # created, its wake not yet queued: the sweep finds it
        await self.queue.ensure_groups()
        await self._changed(run_id)
        return run_id

    async def _changed(self, run_id: str) -> None:
        """A gate resolved: wake a worker to advance the run, and front ends to show it."""
        pipe = self.redis.pipeline(transaction=False)
        self.queue.enqueue_wake(run_id, client=pipe)
        self.queue.notify(run_id, client=pipe)
        await pipe.execute()

    # -- reads for front ends: the bot sees runs through these, never through ``store`` or ``redis``

    async def meta(self, run_id: str) -> dict[str, str]:
        """The run's record (process, status, channel, requester ...); empty for an unknown run."""
        return await self.store.meta(run_id)

    async def gates(self, run_id: str) -> dict[str, dict[str, Any]]:
        """The run's gate and question records by step key, open and closed."""
        return await self.store.gates(run_id)

    async def journal(self, run_id: str) -> list[Event]:
        """The run's journal events, in order."""
        return await self.store.read_journal(run_id)

    async def artifact(self, run_id: str, key: str) -> bytes | None:
        """An artifact's bytes (``ctx.artifact``), or None once it has expired."""
        return await self.store.artifact(run_id, key)

    async def run_ids(self, status: str, limit: int = 50) -> list[str]:
        """The ids of runs in ``status``, newest first (no records read: the notifier's catch-up)."""
        return await self.store.list_runs(status=status, limit=limit)

    async def _meta(self, run_id: str) -> dict[str, str]:
        meta = await self.store.meta(run_id)
        if not meta:
            raise UnknownRun(run_id)
        return meta

    async def _open_gate(self, run_id: str, key: str, kind: str) -> dict[str, Any]:
        gates = await self.store.gates(run_id)
        gate = gates.get(key)
        if gate is None or gate["kind"] != kind:
            open_ones = [k for k, g in gates.items() if g["status"] == "open" and g["kind"] == kind]
            raise UnknownGate(run_id, key, "gate" if kind == "breakpoint" else "question", open_ones)
        return gate

    def _closed(self, run_id: str, key: str, reply: list[str], gate: dict[str, Any]) -> Exception:
        verdict = reply[0]
        if verdict == "decided" and reply[1] == "cancelled" and gate.get("superseded"):
            return GateClosed("already closed: something else came first and the run went on without it")
        if verdict == "decided":
            status, by, at = reply[1], reply[2], reply[3]
            what = {"decided": "approved" if reply[4] == "1" else "rejected", "answered": "answered",
                    "timed_out": "closed by its timeout", "cancelled": "cancelled"}.get(status, status)
            who = f" by {by}" if by and by != "timeout" else ""
            when = f" at {at[11:16]} UTC" if len(at) >= 16 else ""
            return GateClosed(f"already {what}{who}{when}", by=by, at=at)
        if verdict == "closed":
            return RunClosed(f"run {run_id} is {reply[1]}; its gates are closed")
        return UnknownGate(run_id, key)

    async def decide(self, run_id: str, key: str, *, user: str, approve: bool, comment: str = "",
                     groups: list[str] | None = None) -> DecisionResult:
        await self._meta(run_id)
        gate = await self._open_gate(run_id, key, "breakpoint")
        await self._arm_sweep(run_id)
        reply = await self.store.decide(run_id, key, user, groups or [], approve, comment.strip(), now_iso())
        verdict = reply[0]
        if verdict == "applied":
            failpoint("after_decide")  # decided, the run not yet woken: the sweep finds it
            await self._changed(run_id)
            word = "approved" if approve else "rejected"
            return DecisionResult(True, f"{word} '{gate['title']}'")
        if verdict == "voted":
            await self.queue.notify(run_id)  # the gate shows the vote count
            return DecisionResult(False, f"approval recorded ({reply[1]} of {reply[2]} needed)",
                                  int(reply[1]), int(reply[2]))
        if verdict == "already_voted":
            raise GateClosed(f"you already approved; waiting for {int(reply[2]) - int(reply[1])} more")
        if verdict == "forbidden":
            raise NotAllowed(REFUSALS[reply[1]].format(who=_who(gate)), gate=gate, who=_who(gate))
        raise self._closed(run_id, key, reply, gate)

    async def answer(self, run_id: str, key: str, *, user: str, values: dict[str, Any] | list[str],
                     groups: list[str] | None = None) -> str:
        await self._meta(run_id)
        gate = await self._open_gate(run_id, key, "ask")
        request = next(e for e in await self.store.read_journal(run_id)
                       if e["type"] == "effect_requested" and e["key"] == key)
        form = import_form(request["args"]["form"])
        model = parse_command(form, [], values) if isinstance(values, list) else validate_inputs(form, values)
        answer = model.model_dump(mode="json")
        await self._arm_sweep(run_id)
        reply = await self.store.answer(run_id, key, user, groups or [], answer, now_iso())
        if reply[0] == "applied":
            failpoint("after_answer")  # answered, the run not yet woken: the sweep finds it
            await self._changed(run_id)
            return f"answered '{gate['title']}'"
        if reply[0] == "forbidden":
            raise NotAllowed(f"this question is for {_who(gate)}", gate=gate, who=_who(gate))
        raise self._closed(run_id, key, reply, gate)

    async def signal_channels(self, run_id: str) -> dict[str, dict[str, Any]]:
        """The signals a run takes, by name: each channel's model and who may send it (users,
        groups, ``anyone`` or a ``policy``), so a front end can check group membership its own way."""
        await self._meta(run_id)
        return await self.store.signal_channels(run_id)

    async def signal(self, run_id: str, name: str, payload: BaseModel | dict[str, Any] | list[str], *,
                     sender: str, signal_id: str | None = None, groups: list[str] | None = None) -> SignalResult:
        """Send the signal ``name`` to a running run; its next ``ctx.wait`` on that channel gets it.

        ``payload`` is validated against the channel's model (``key=value`` words as the terminal
        and Slack give them, or a mapping); ``signal_id`` makes a retried send deliver once (a
        fresh one is made if none is given). Refusals are typed errors, each one line.
        """
        meta = await self._meta(run_id)
        channels = await self.store.signal_channels(run_id)
        channel = channels.get(name)
        if channel is None:
            raise UnknownSignal(run_id, name, sorted(channels))
        model = import_form(channel["model"])
        if isinstance(payload, list):
            value = parse_command(model, [], payload)
        elif isinstance(payload, model):
            value = payload
        else:
            value = validate_inputs(model, payload if isinstance(payload, dict) else payload.model_dump())
        signal_id = signal_id or secrets.token_hex(8)
        if not 0 < len(signal_id) <= MAX_SIGNAL_ID or not signal_id.isprintable():
            raise ArgumentError([f"a signal id is 1 to {MAX_SIGNAL_ID} printable characters"])
        allowed = False
        if channel.get("policy"):
            request = SignalRequest(run_id=run_id, process=meta.get("process", ""), requester=meta.get("requester", ""),
                                    name=name, sender=sender, groups=groups or [])
            try:
                policy = cast(Callable[[SignalRequest], object], import_form(channel["policy"]))  # a function, by name
                allowed = bool(policy(request))
            except Exception:  # a broken rule refuses (fails closed) and says so in the log
                log.exception("run %s: sender policy %s of signal %s failed", run_id, channel["policy"], name)
        event = {"type": "signal_received", "name": name, "id": signal_id, "by": sender,
                 "payload": value.model_dump(mode="json"), "at": now_iso()}
        await self._arm_sweep(run_id)
        reply = await self.store.signal(run_id, name, signal_id, sender, groups or [], event, allowed)
        verdict = reply[0]
        if verdict == "applied":
            failpoint("after_signal")  # journaled, the run not yet woken: the sweep finds it
            await self._changed(run_id)
            return SignalResult(True, f"sent {name} to run {run_id}", signal_id)
        if verdict == "duplicate":
            by, at = reply[1], reply[2]
            when = f" at {at[11:16]} UTC" if len(at) >= 16 else ""
            return SignalResult(False, f"signal {signal_id} was already delivered (by {by}{when}); nothing changed",
                                signal_id)
        if verdict == "forbidden":
            raise NotAllowed(f"signal {name} of run {run_id} may be sent by {describe_senders(channel)}")
        if verdict == "closed":
            raise RunClosed(f"run {run_id} is {reply[1]}; it takes no more signals")
        if verdict == "undeclared":
            raise UnknownSignal(run_id, name, sorted(channels))
        raise UnknownRun(run_id)

    async def cancel(self, run_id: str, *, by: str, reason: str = "") -> str:
        """Cancel the run and, if its process has an ``on_cancel`` task, queue that cleanup step."""
        meta = await self._meta(run_id)
        at = now_iso()
        cleanup = await self._cleanup_request(run_id, meta, by, reason, at)
        await self._arm_sweep(run_id)
        reply = await self.store.cancel(run_id, by, reason, at, cleanup)
        if reply[0] == "terminal":
            raise RunClosed(f"run {run_id} is already {reply[1]}")
        failpoint("after_cancel")  # cancelled, its clean-up step not yet queued: the sweep finds it
        await self.store.reindex_status(run_id)
        # The cancel left its clean-up step and a wake mark undispatched: a crash before this
        # pipeline is found by the sweep, which queues the step and tells the front ends.
        pipe = self.redis.pipeline(transaction=False)
        if cleanup is not None:
            self.queue.enqueue_task(run_id, cleanup, client=pipe)
        self.queue.notify(run_id, client=pipe)
        self.store.queue_script(pipe, "mark_dispatched", run_id, *([cleanup["key"]] if cleanup else []),
                                keys.WAKE_MARK)
        await self.store.execute_with_scripts(pipe)
        return f"cancelled run {run_id}" + (" (its clean-up step is queued)" if cleanup else "")

    async def _cleanup_request(self, run_id: str, meta: dict[str, str], by: str, reason: str,
                               at: str) -> Event | None:
        try:
            definition = get_process(meta.get("process", ""))
        except UnknownProcess:
            return None  # not loaded here: cancelled without its cleanup, as before
        if definition.on_cancel is None:
            return None
        first = await self.redis.lindex(keys.journal(run_id), 0)  # run_created always comes first
        return cleanup_request(definition, run_id, decode(first) if first else {}, by, reason, at)

    async def retry(self, run_id: str, *, by: str) -> str:
        """Reopen a failed run from its last good step: the task steps whose failure ended it
        run again (with fresh attempts); everything that succeeded keeps its recorded result.
        A failure in the process code itself is replayed with the code deployed now."""
        meta = await self._meta(run_id)
        if meta.get("status") != "failed":
            raise RunClosed(f"run {run_id} is {meta.get('status', 'unknown')}; only a failed run can be retried")
        events = await self.store.read_journal(run_id)
        journal = JournalView(events)
        error = (journal.terminal or {}).get("error") or {}
        reset = [key for key in error.get("retry", [])
                 if (request := journal.request(key)) is not None and request["kind"] in ("task", "shell")
                 and not (journal.resolutions.get(key) or {}).get("ok", True)]
        await self._arm_sweep(run_id)
        reply = await self.store.retry(run_id, by, now_iso(), reset, len(events))
        if reply[0] == "moved":
            raise RunClosed(f"run {run_id} changed while it was being retried; look at it again")
        if reply[0] != "retried":
            status = reply[1] if len(reply) > 1 else "gone"
            raise RunClosed(f"run {run_id} is {status}; only a failed run can be retried")
        await self.store.reindex_status(run_id)
        await self._changed(run_id)
        if reset:
            return f"retrying run {run_id} from step {', '.join(reset)}"
        return f"retrying run {run_id}: its failure was not in a task, so it replays with the current code"

    async def view(self, run_id: str) -> RunView:
        meta = await self._meta(run_id)
        journal = JournalView(await self.store.read_journal(run_id))
        gates = await self.store.gates(run_id)
        run = RunView(run_id, meta)
        for key, event in journal.keyed.items():
            if event["type"] == "note":
                run.notes.append(event["text"])
            elif event["type"] == "artifact":
                run.artifacts.append(event)
            elif event["type"] == "effect_requested":
                run.steps.append(_step_view(event, journal.resolutions.get(key), gates.get(key)))
        run.open_gates = [g for g in gates.values() if g["status"] == "open"]
        run.signals = await self.store.signal_channels(run_id) if journal.channels else {}
        return run

    async def list_runs(self, status: str | None = None, requester: str | None = None,
                        limit: int = 50) -> list[dict[str, str]]:
        ids = await self.store.list_runs(status=status, requester=requester, limit=limit)
        pipe = self.redis.pipeline(transaction=False)
        for run_id in ids:
            pipe.hgetall(keys.meta(run_id))
        metas = await pipe.execute()
        runs = []
        for run_id, meta in zip(ids, metas, strict=True):
            if status and meta and meta.get("status") != status:
                await self.store.reindex_status(run_id)  # an index write lost to a race or crash
                continue
            if meta:
                runs.append({"id": run_id, **meta})
        return runs

    async def is_finished(self, run_id: str) -> bool:
        return (await self._meta(run_id)).get("status") in {t.removeprefix("run_") for t in TERMINAL}

    async def live_workers(self, within_s: float = 15.0) -> int:
        import time

        return int(await self.redis.zcount(keys.WORKERS, time.time() - within_s, "+inf"))


def import_form(ref: str) -> type[BaseModel]:
    """The form an ask's journaled ``form`` names: a registered ``@form`` name or old spelling,
    else (an unregistered quick-script form) the ``module:qualname`` it was recorded under."""
    registered = find_form(ref)
    if registered is not None:
        return registered
    module_name, _, qualname = ref.partition(":")
    if not qualname:
        raise ProcessDefinitionError(f"unknown form '{ref}' (is the module declaring it loaded here?)")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _step_view(request: Event, resolution: Event | None, gate: dict[str, Any] | None) -> StepView:
    name = request["name"].rsplit(".", 1)[-1] if request["kind"] == "task" else request["name"]
    step = StepView(request["key"], request["kind"], name, "pending")
    if resolution is None:
        if gate is not None:
            step.detail = f"waiting for {_who(gate)}"
        return step
    if resolution["type"] == "effect_cancelled":
        step.state = "cancelled"
    elif not resolution.get("ok"):
        step.state = "failed"
        step.detail = (resolution.get("error") or {}).get("message", "")
    else:
        step.state = "done"
        if request["kind"] == "breakpoint":
            decision = Decision.model_validate(resolution["value"])
            word = "approved" if decision.approved else "rejected"
            step.detail = f"{word} by {decision.by}" + (f": {decision.comment}" if decision.comment else "")
        elif request["kind"] == "ask":
            step.detail = f"answered by {resolution.get('by', '?')}"
        elif request["kind"] == "signal":
            step.detail = f"received from {resolution.get('by', '?')}"
        elif request["kind"] == "shell":
            step.detail = f"exit {resolution['value'].get('returncode')}"
    return step
