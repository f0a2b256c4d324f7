"""The process SDK: ``Context`` and its intrinsics, and the replay driver.

Process code does no I/O. Each intrinsic call gets a stable key (its call order
within its scope, or an explicit ``key=``) and either returns what the journal
recorded at that key or records a new request. Awaiting an effect that has no
result yet suspends the run: the driver stops, the new requests are journaled
and dispatched, and the next wake replays the function from the top (or, as an
optimisation, resumes a still-warm coroutine that has seen the same journal).

Signals (``engine.signals``), ``ctx.first`` (``engine.first``) and ``ctx.patched`` / ``ctx.log``
(``engine.replaying``) follow the same rule: whatever they decide is journaled, so a replay
decides the same.

``ctx.parallel`` drives its branches itself; each coroutine branch gets its
own key scope (``<parallel key>.<index>/``) so keys do not depend on how far
the other branches got.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import uuid as uuidlib
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from engine.errors import NonDeterminismError, ProcessDefinitionError
from engine.first import First
from engine.journal import Event, JournalView, compact, now_iso
from engine.registry import ProcessDef, TaskDef, form_name, same_task
from engine.replaying import PATCH_PREFIX, ReplayLogger, behind_journal
from engine.signals import SenderPolicy, SignalChannel, channel_event, same_channel
from engine.types import (
    Approvers,
    ArtifactRef,
    Decision,
    OnTimeout,
    ParallelError,
    ShellResult,
    TaskFailed,
    as_timedelta,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_ARTIFACT_BYTES = 5 * 1024 * 1024


def to_jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


class EffectCancelled(Exception):
    """The effect was cancelled (the run is being cancelled)."""


class Effect(Generic[T]):
    """A journaled request. Awaiting it returns its result or suspends the run."""

    def __init__(self, ctx: Context, key: str, kind: str, name: str, decode: Callable[[Any], T]) -> None:
        self.ctx, self.key, self.kind, self.name, self._decode = ctx, key, kind, name, decode

    def __await__(self) -> Generator[Any, None, T]:
        resolutions = self.ctx._journal.resolutions  # the hot path: one lookup, as before signals
        while (resolution := resolutions.get(self.key) or self.ctx._settled(self)) is None:
            yield self
        return self.ctx._outcome(self, resolution)

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name!r} at step {self.key}>"


class _Branch:
    def __init__(self, item: Any, scope: str) -> None:
        self.scope = scope
        self.effect: Effect[Any] | None = item if isinstance(item, Effect) else None
        self.coro: Coroutine[Any, Any, Any] | None = None
        if self.effect is None:
            if inspect.iscoroutine(item):
                self.coro = item
            elif inspect.isawaitable(item):
                self.coro = _await(item)
            else:
                raise ProcessDefinitionError(f"ctx.parallel takes effects or coroutines, not {item!r}")
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None

    def step(self, ctx: Context) -> None:
        if self.done:
            return
        if self.effect is not None:
            resolution = ctx._settled(self.effect)
            if resolution is None:
                return
            self.done = True
            try:
                self.value = ctx._outcome(self.effect, resolution)
            except Exception as exc:
                self.error = exc
            return
        assert self.coro is not None
        ctx._scopes.append(self.scope)
        try:
            yielded = self.coro.send(None)
        except StopIteration as stop:
            self.done, self.value = True, stop.value
        except (NonDeterminismError, ProcessDefinitionError):
            raise
        except Exception as exc:
            self.done, self.error = True, exc
        else:
            _check_yield(yielded)
        finally:
            ctx._scopes.pop()


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _check_yield(yielded: Any) -> None:
    if not isinstance(yielded, Effect | Parallel | First):
        raise ProcessDefinitionError(
            f"process code awaited {yielded!r}; only ctx intrinsics may be awaited "
            "(do I/O in a @task)"
        )


class Parallel:
    """Awaitable returned by ``ctx.parallel``; see ``Context.parallel``."""

    def __init__(self, ctx: Context, key: str, items: Iterable[Any], return_exceptions: bool) -> None:
        self.ctx, self.key = ctx, key
        self.branches = [_Branch(item, f"{key}.{i}/") for i, item in enumerate(items)]
        self.return_exceptions = return_exceptions

    def __await__(self) -> Generator[Any, None, list[Any]]:
        while True:
            for branch in self.branches:
                branch.step(self.ctx)
            if all(b.done for b in self.branches):
                break
            yield self
        errors = {i: b.error for i, b in enumerate(self.branches) if b.error is not None}
        if errors and not self.return_exceptions:
            results = {i: b.value for i, b in enumerate(self.branches) if b.error is None}
            raise ParallelError(errors, results)
        return [b.error if b.error is not None else b.value for b in self.branches]


class Context:
    """What a process gets besides its inputs. Every method is deterministic on replay."""

    def __init__(self, run_id: str, journal: JournalView) -> None:
        created = journal.created or {}
        self.run_id = run_id
        self.process_id: str = created.get("process", "")
        self.requester: str = created.get("requester", "")
        self.channel: str | None = created.get("channel")
        self._journal = journal
        self._scopes: list[str] = []
        self._counters: dict[str, int] = {}
        self._used: set[str] = set()
        self._new: list[Event] = []
        self.new_artifacts: dict[str, bytes] = {}
        self.current_step: str | None = None
        # What this drive decided and has not yet seen journaled (cleared as it is taken):
        self._local: dict[str, Event] = {}  # resolutions: signal waits served, first's losers
        self._local_consumed: set[str] = set()  # signal ids those waits took
        self._local_channels: dict[str, Event] = {}
        self._patches: dict[str, bool] = {}  # change id -> answer, fixed for the execution
        self.log = ReplayLogger(self)
        """A replay-safe logger: ``ctx.log.info("paged %s", who)`` logs once, not on every replay."""

    # -- keys and recording -------------------------------------------------

    def _key(self, explicit: str | None) -> str:
        scope = self._scopes[-1] if self._scopes else ""
        if explicit is not None:
            if not _KEY_RE.match(explicit):
                raise ProcessDefinitionError(f"step key {explicit!r} must be letters, digits, '-', '_' or '.'")
            key = scope + explicit
        else:
            n = self._counters.get(scope, 0) + 1
            self._counters[scope] = n
            key = f"{scope}{n}"
        if key in self._used:
            raise ProcessDefinitionError(f"step key '{key}' is used twice; pass a unique key= in loops")
        self._used.add(key)
        self.current_step = key
        return key

    def _recorded(self, key: str, kind: str, name: str = "") -> Event | None:
        event = self._journal.keyed.get(key)
        if event is None:
            return None
        was_kind = event.get("kind", event["type"])
        was_name = event.get("name", "")
        renamed = kind == "task" and same_task(was_name, name)  # an old journal's module.qualname
        if was_kind != kind or (name and was_name != name and not renamed):
            raise NonDeterminismError(
                f"non-deterministic replay at step {key}: the journal recorded "
                f"{was_kind} {was_name!r} but the process now asks for {kind} {name!r} "
                "(was the process code changed while this run was in flight?)"
            )
        return event

    def _record(self, event: Event) -> None:
        self._new.append(event)

    def take_new_events(self) -> list[Event]:
        new, self._new = self._new, []
        self._local, self._local_consumed, self._local_channels = {}, set(), {}
        return new

    def _resolution(self, key: str) -> Event | None:
        return self._journal.resolutions.get(key) or self._local.get(key)

    def _settled(self, effect: Effect[Any]) -> Event | None:
        """The effect's outcome, if it has one; a signal wait takes the oldest unconsumed signal."""
        resolution = self._resolution(effect.key)
        if resolution is None and effect.kind == "signal" and (signal := self._next_signal(effect.name)):
            resolution = {"type": "effect_resolved", "key": effect.key, "ok": True, "value": signal["payload"],
                          "signal": signal["id"], "by": signal["by"], "at": now_iso()}
            self._local_consumed.add(signal["id"])
            self._local[effect.key] = resolution
            self._record(resolution)
        return resolution

    def _next_signal(self, name: str) -> Event | None:
        return next((s for _, s in self._inbox(name)), None)

    def _inbox(self, name: str) -> list[tuple[int, Event]]:
        return [(p, s) for p, s in self._journal.inbox.get(name, []) if s["id"] not in self._local_consumed]

    def _outcome_position(self, effect: Effect[Any]) -> int | None:
        """Where the effect's outcome is in the journal (a signal wait: its signal's), for ``first``."""
        resolution = self._resolution(effect.key)
        if resolution is not None:
            if (signal := resolution.get("signal")) is not None:
                return self._journal.signal_at.get(signal, self._journal.seq)
            return self._journal.position(resolution)
        if effect.kind == "signal" and (waiting := self._inbox(effect.name)):
            return waiting[0][0]
        return None

    def is_replaying(self) -> bool:
        """Has the journal steps this drive has not reached yet (old code went past this point)?"""
        return behind_journal(self._journal.keyed, self._used, self._scopes)

    def _effect(
        self, kind: str, name: str, key: str | None, make_args: Callable[[], dict[str, Any]],
        decode: Callable[[Any], T],
    ) -> Effect[T]:
        step = self._key(key)
        if self._recorded(step, kind, name) is None:
            self._record({"type": "effect_requested", "key": step, "kind": kind, "name": name,
                          "args": make_args(), "at": now_iso()})
        return Effect(self, step, kind, name, decode)

    def _outcome(self, effect: Effect[T], resolution: Event) -> T:
        if resolution["type"] == "effect_cancelled":
            raise EffectCancelled(f"step {effect.key} ({effect.name}) was cancelled")
        if not resolution.get("ok"):
            error = resolution.get("error") or {}
            raise TaskFailed(effect.key, effect.name, error.get("type", "Error"), error.get("message", ""))
        return effect._decode(resolution.get("value"))

    # -- intrinsics ----------------------------------------------------------

    def task(self, fn: TaskDef, args: Any = None, *, key: str | None = None) -> Effect[Any]:
        """Run ``fn`` on a worker (at least once, with its effect id as idempotency key)."""
        if not isinstance(fn, TaskDef):
            raise ProcessDefinitionError(f"ctx.task takes a @task function, not {fn!r}")
        return self._effect(
            "task", fn.name, key,
            lambda: fn.request_args(to_jsonable(args)),
            fn.decode,
        )

    def shell(
        self, argv: list[str], *, cwd: str | None = None, env: dict[str, str] | None = None,
        timeout: float = 300, max_output: int = 64 * 1024, check: bool = True,
        retries: int = 0, key: str | None = None,
    ) -> Effect[ShellResult]:
        """Run a command from an argument list (never a shell string) on a worker."""
        if isinstance(argv, str) or not argv or not all(isinstance(a, str) for a in argv):
            raise ProcessDefinitionError("ctx.shell takes an argument list of strings, not a shell string")

        def decode(value: Any) -> ShellResult:
            result = ShellResult.model_validate(value)
            if check and not result.ok:
                tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
                raise TaskFailed(effect.key, argv[0], "ShellError",
                                 f"exit {result.returncode}: {' | '.join(tail)}")
            return result

        effect = self._effect(
            "shell", argv[0], key,
            lambda: compact({"argv": list(argv), "cwd": cwd, "env": env or {}, "timeout": timeout,
                             "max_output": max_output, "retries": retries}, retries=0),
            decode,
        )
        return effect

    def breakpoint(
        self, title: str, *, facts: dict[str, Any] | None = None, approvers: Approvers | None = None,
        four_eyes: bool = False, quorum: int = 1, timeout: timedelta | float | None = None,
        on_timeout: OnTimeout | str | None = None, escalate_to: Approvers | None = None,
        escalation_timeout: timedelta | float | None = None, key: str | None = None,
    ) -> Effect[Decision]:
        """A human gate: resolves to a ``Decision`` (approved or not, by whom, comment)."""
        timeout_td, escalation_td = as_timedelta(timeout), as_timedelta(escalation_timeout)
        if timeout_td is not None and on_timeout is None:
            raise ProcessDefinitionError(f"gate {title!r} has a timeout, so it must say on_timeout=")
        policy = OnTimeout(on_timeout) if on_timeout is not None else None
        if policy is OnTimeout.ESCALATE and escalate_to is None:
            raise ProcessDefinitionError(f"gate {title!r} escalates on timeout, so it needs escalate_to=")
        if quorum < 1:
            raise ProcessDefinitionError(f"gate {title!r}: quorum must be at least 1")
        who = approvers or Approvers()

        def make_args() -> dict[str, Any]:
            deadline = datetime.now(UTC) + timeout_td if timeout_td else None
            return compact({
                "title": title, "facts": to_jsonable(facts or {}), "users": who.users,
                "groups": who.groups, "four_eyes": four_eyes, "quorum": quorum,
                "deadline": deadline.isoformat() if deadline else None,
                "on_timeout": policy.value if policy else None,
                "escalate_users": escalate_to.users if escalate_to else [],
                "escalate_groups": escalate_to.groups if escalate_to else [],
                "escalation_timeout": escalation_td.total_seconds() if escalation_td else None,
            }, quorum=1)

        return self._effect("breakpoint", title, key, make_args, Decision.model_validate)

    def ask(
        self, title: str, form: type[M], *, assignees: Approvers | None = None,
        timeout: timedelta | float | None = None, key: str | None = None,
    ) -> Effect[M]:
        """Ask a person to fill in ``form``; resolves to a validated instance of it."""
        timeout_td = as_timedelta(timeout)
        who = assignees or Approvers()

        def make_args() -> dict[str, Any]:
            deadline = datetime.now(UTC) + timeout_td if timeout_td else None
            return compact({
                "title": title, "form": form_name(form),  # its @form name
                "schema": form.model_json_schema(), "users": who.users, "groups": who.groups,
                "deadline": deadline.isoformat() if deadline else None,
            })

        return self._effect("ask", title, key, make_args, form.model_validate)

    def sleep(self, seconds: float = 0, *, minutes: float = 0, hours: float = 0,
              key: str | None = None) -> Effect[None]:
        """A durable timer: survives restarts, fires once."""
        delay = timedelta(seconds=seconds, minutes=minutes, hours=hours)
        return self._effect(
            "sleep", "sleep", key,
            lambda: {"fire_at": (datetime.now(UTC) + delay).isoformat(), "seconds": delay.total_seconds()},
            lambda _: None,
        )

    def sleep_until(self, when: datetime, *, key: str | None = None) -> Effect[None]:
        if when.tzinfo is None:
            raise ProcessDefinitionError("ctx.sleep_until needs a timezone-aware datetime")
        return self._effect("sleep", "sleep", key, lambda: {"fire_at": when.isoformat()}, lambda _: None)

    def parallel(self, *items: Any, return_exceptions: bool = False) -> Parallel:
        """Run effects and/or coroutines concurrently; returns their results in order.

        Every branch runs to completion (success or failure). If any failed and
        ``return_exceptions`` is false, ``ParallelError`` is raised afterwards,
        carrying the errors and the successful results by branch index.
        """
        if len(items) == 1 and not isinstance(items[0], Effect) and not inspect.isawaitable(items[0]):
            items = tuple(items[0])  # ctx.parallel(generator_or_list)
        return Parallel(self, self._key(None), items, return_exceptions)

    def signal(self, name: str, model: type[M], *,
               senders: Approvers | SenderPolicy | None = None) -> SignalChannel[M]:
        """Open (or reopen, on replay) the channel ``name``: signals of type ``model`` sent to this
        run from outside, by ``senders`` (default: the requester; see ``engine.signals``).
        Signals sent before a wait are kept, in order, for the next ``ctx.wait``."""
        declared = channel_event(name, model, senders)
        recorded = self._journal.channels.get(name) or self._local_channels.get(name)
        if recorded is None:
            self._local_channels[name] = declared
            self._record({**declared, "at": now_iso()})
        else:
            same_channel(recorded, declared)
        return SignalChannel(name, model)

    def wait(self, channel: SignalChannel[M], *, key: str | None = None) -> Effect[M]:
        """The next signal on ``channel`` (in the order they were sent), as its model."""
        if not isinstance(channel, SignalChannel):
            raise ProcessDefinitionError(f"ctx.wait takes a channel from ctx.signal, not {channel!r}")
        return self._effect("signal", channel.name, key, lambda: {"channel": channel.name},
                            channel.model.model_validate)

    def first(self, *effects: Effect[Any], key: str | None = None, **named: Effect[Any]) -> First:
        """Wait for the first of several effects and cancel the others (a gate closed, a timer
        removed); resolves to a ``Winner`` (its name: the keyword, or the position as a string).

        ``won = await ctx.first(tick=ctx.sleep(minutes=30), update=ctx.wait(updates))``
        """
        items = [(str(i), e) for i, e in enumerate(effects)] + list(named.items())
        return First(self, self._key(key), items)

    def patched(self, change_id: str) -> bool:
        """Temporal-style versioning: True where this run reaches this point on the new code,
        False where it replays a journal that old code wrote past this point. Branch on it
        (``if ctx.patched("page-twice"): new else: old``) when a change would otherwise make
        runs in flight replay differently. The answer is fixed for the run (a marker is journaled)."""
        if not _KEY_RE.match(change_id):
            raise ProcessDefinitionError(f"patch id {change_id!r} must be letters, digits, '-', '_' or '.'")
        if change_id not in self._patches:
            marker = PATCH_PREFIX + change_id
            if self._recorded(marker, "patch") is not None:
                self._patches[change_id] = True
            elif self.is_replaying():
                self._patches[change_id] = False
            else:
                self._record({"type": "recorded", "key": marker, "kind": "patch", "value": change_id})
                self._patches[change_id] = True
            self._used.add(marker)
        return self._patches[change_id]

    def note(self, text: str, *, key: str | None = None) -> None:
        """A line in the run's thread, posted once."""
        step = self._key(key)
        if self._recorded(step, "note") is None:
            self._record({"type": "note", "key": step, "kind": "note", "text": str(text), "at": now_iso()})

    def artifact(self, name: str, content: bytes | str, *, mime: str | None = None,
                 key: str | None = None) -> ArtifactRef:
        """A file for the thread and the run's outputs."""
        step = self._key(key)
        event = self._recorded(step, "artifact")
        if event is None:
            data = content.encode() if isinstance(content, str) else bytes(content)
            if len(data) > MAX_ARTIFACT_BYTES:
                raise ProcessDefinitionError(f"artifact {name!r} is {len(data)} bytes; the limit is 5 MiB")
            event = {"type": "artifact", "key": step, "kind": "artifact", "name": name,
                     "mime": mime or _guess_mime(name), "size": len(data),
                     "sha256": hashlib.sha256(data).hexdigest(), "at": now_iso()}
            self._record(event)
            self.new_artifacts[step] = data
        return ArtifactRef(key=step, name=event["name"], mime=event["mime"], size=event["size"],
                           sha256=event["sha256"])

    def now(self, *, key: str | None = None) -> datetime:
        """The current time, recorded the first time and the same on every replay."""
        step = self._key(key)
        event = self._recorded(step, "now")
        if event is None:
            event = {"type": "recorded", "key": step, "kind": "now", "value": now_iso()}
            self._record(event)
        return datetime.fromisoformat(event["value"])

    def uuid(self, *, key: str | None = None) -> str:
        """A random UUID, recorded the first time and the same on every replay."""
        step = self._key(key)
        event = self._recorded(step, "uuid")
        if event is None:
            event = {"type": "recorded", "key": step, "kind": "uuid", "value": str(uuidlib.uuid4())}
            self._record(event)
        return event["value"]


def _guess_mime(name: str) -> str:
    import mimetypes

    return mimetypes.guess_type(name)[0] or "application/octet-stream"


# -- the driver ----------------------------------------------------------------


@dataclass
class Outcome:
    """What one drive of a process produced."""

    state: str  # "suspended" | "completed" | "failed"
    value: Any = None
    error: BaseException | None = None


class Execution:
    """One run's process coroutine, driven over a journal view."""

    def __init__(self, definition: ProcessDef, run_id: str, journal: JournalView) -> None:
        self.definition = definition
        self.journal = journal
        self.ctx = Context(run_id, journal)
        self.finished = False
        created = journal.created or {}
        try:
            inputs = definition.inputs.model_validate(created.get("inputs", {}))
            self._coro: Coroutine[Any, Any, Any] | None = definition.fn(inputs, self.ctx)
            self._start_error: BaseException | None = None
        except Exception as exc:
            self._coro, self._start_error = None, exc

    def drive(self) -> Outcome:
        """Advance the process as far as the journal allows."""
        if self._coro is None:
            self.finished = True
            return Outcome("failed", error=self._start_error)
        try:
            yielded = self._coro.send(None)
        except StopIteration as stop:
            self.finished = True
            unreached = [k for k in self.journal.keyed
                         if k not in self.ctx._used and not k.startswith(PATCH_PREFIX)]
            if unreached:
                return Outcome("failed", error=NonDeterminismError(
                    f"non-deterministic replay at step {unreached[0]}: the journal recorded "
                    f"{self.journal.keyed[unreached[0]].get('kind')} there but the process "
                    "finished without reaching it (was the process code changed mid-run?)"))
            return Outcome("completed", value=to_jsonable(stop.value))
        except Exception as exc:
            self.finished = True
            return Outcome("failed", error=exc)
        try:
            _check_yield(yielded)
        except ProcessDefinitionError as exc:
            self.close()
            return Outcome("failed", error=exc)
        return Outcome("suspended")

    def close(self) -> None:
        if self._coro is not None:
            self._coro.close()
        self.finished = True


def describe_error(error: BaseException, step: str | None) -> dict[str, Any]:
    """The journaled form of an error that ended a run."""
    found_step = getattr(error, "step", None) or step
    if isinstance(error, ParallelError):
        first = error.errors[min(error.errors)]
        found_step = getattr(first, "step", None) or found_step
    message = str(error) or error.__class__.__name__
    if isinstance(error, ProcessDefinitionError | NonDeterminismError | TaskFailed | ParallelError):
        text = message
    else:
        text = f"{error.__class__.__name__}: {message}"
    if found_step and f"step {found_step}" not in text:
        text = f"step {found_step}: {text}"
    described = {"type": error.__class__.__name__, "message": text, "step": found_step}
    retry = failed_steps(error)
    return {**described, "retry": retry} if retry else described


def failed_steps(error: BaseException) -> list[str]:
    """The steps whose task failure ended the run: the error itself, the branches of a
    ``ParallelError`` and what it was raised from or while handling. ``retry`` runs them again."""
    found: set[str] = set()
    seen: set[int] = set()
    stack: list[BaseException] = [error]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, TaskFailed):
            found.add(current.step)
        if isinstance(current, ParallelError):
            stack.extend(current.errors.values())
        stack.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return sorted(found)
