"""Running one task or shell effect on a worker.

The result is a JSON-ready value; failures are exceptions, which the worker
turns into a retry or a journaled error. Shell commands are always an argument
list passed to ``create_subprocess_exec``: no shell ever sees chat text.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, get_type_hints

from pydantic import TypeAdapter

from engine.context import to_jsonable
from engine.environment import redact, step_environment
from engine.registry import TaskDef, get_task


@dataclass
class TaskContext:
    """What a task function may take as its second argument."""

    run_id: str
    step: str
    attempt: int
    heartbeat: Callable[[], Awaitable[None]]
    redis: Any = field(default=None, repr=False)
    """The worker's Redis client, for tasks that keep shared state (counters, statistics).
    Keys a task writes should live under ``shepherd:{app}:...`` so they never meet run keys."""

    @property
    def idempotency_key(self) -> str:
        """Stable across redeliveries: pass it to external systems (dedup keys, branch names)."""
        return f"{self.run_id}:{self.step}"


@lru_cache(maxsize=1024)
def _argument_adapter(fn: Callable[..., Any]) -> TypeAdapter[Any] | None:
    """The validator for a task's first parameter (built once per task function)."""
    params = list(inspect.signature(fn).parameters)
    annotation = get_type_hints(fn).get(params[0])
    return None if annotation is None else TypeAdapter(annotation)


def _argument(definition: TaskDef, raw: Any) -> Any:
    adapter = _argument_adapter(definition.fn)
    return raw if adapter is None else adapter.validate_python(raw)


async def run_task(name: str, args: dict[str, Any], tctx: TaskContext) -> Any:
    definition = get_task(name)
    argument = _argument(definition, args.get("input"))
    call_args = (argument, tctx) if definition.takes_context else (argument,)
    if inspect.iscoroutinefunction(definition.fn):
        call: Awaitable[Any] = definition.fn(*call_args)
    else:
        call = asyncio.to_thread(definition.fn, *call_args)
    timeout = args.get("timeout")
    result = await (asyncio.wait_for(call, timeout) if timeout else call)
    return to_jsonable(result)


async def _read_limited(stream: asyncio.StreamReader | None, limit: int) -> tuple[str, bool]:
    if stream is None:
        return "", False
    chunks, size, truncated = [], 0, False
    while chunk := await stream.read(65536):
        if size < limit:
            chunks.append(chunk[: limit - size])
        size += len(chunk)
        truncated = truncated or size > limit
    return b"".join(chunks).decode(errors="replace"), truncated


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """Kill the step's whole process group (it has its own session): a timed-out ``sh -c 'sleep'``
    must not leave the sleep behind, holding the output pipes open."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


async def run_shell(args: dict[str, Any]) -> dict[str, Any]:
    argv = [str(a) for a in args["argv"]]
    limit = int(args.get("max_output") or 65536)
    env = step_environment(args.get("env"))
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=args.get("cwd") or None, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
    )
    try:
        (stdout, t1), (stderr, t2), _ = await asyncio.wait_for(
            asyncio.gather(_read_limited(proc.stdout, limit), _read_limited(proc.stderr, limit), proc.wait()),
            float(args.get("timeout") or 300),
        )
    except (TimeoutError, asyncio.CancelledError):
        _kill_group(proc)
        await proc.wait()
        raise
    return {"argv": argv, "returncode": proc.returncode, "stdout": redact(stdout), "stderr": redact(stderr),
            "truncated": t1 or t2, "duration_s": round(time.monotonic() - started, 3)}
