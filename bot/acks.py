"""Answer Slack the moment a listener acks, and let the listener's work go on after the answer.

Bolt runs listeners one of two ways. By default it starts each listener as a task and polls
every 10 ms for its ack: up to 10 ms on every response and, under a burst of commands, fifty
polling coroutines competing with the work itself. With ``process_before_response=True`` it
awaits the listener and answers when it returns: right for a listener that acks at its end,
wrong for one that acks first and then talks to Redis and Slack for a while.

``answer_at_ack`` gives the second mode the first one's shape without the poll: the listener
runs as a task, and the wrapper returns (so Bolt answers) as soon as the listener calls ``ack``
or ends, whichever comes first. Answers also go first: a listener's work after its ack waits
(at most ``YIELD_S``) until every request already in a listener has been answered, so under a
burst (an incident, when everyone types at once) fifty acks are not queued behind fifty runs
being started. The app runs with ``process_before_response=True`` and every
listener that acks first wears this; ``in_background`` does the same for event listeners, which
Bolt acks itself once they return. Both transports answer this way (Socket Mode sends its
envelope ack when the listener returns).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

YIELD_S = 0.1
"""The longest a listener's work after its ack waits for other requests to be answered."""


class _Unanswered:
    """Requests inside a listener that have not been answered yet, on one event loop."""

    def __init__(self) -> None:
        self.count = 0
        self.none = asyncio.Event()
        self.none.set()

    def add(self) -> None:
        self.count += 1
        self.none.clear()

    def answered(self) -> None:
        self.count -= 1
        if self.count == 0:
            self.none.set()

    async def wait(self) -> None:
        if self.count:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.none.wait(), YIELD_S)


_unanswered: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Unanswered] = weakref.WeakKeyDictionary()


def _pending() -> _Unanswered:
    """This loop's count (tests run many loops; an Event belongs to one)."""
    return _unanswered.setdefault(asyncio.get_running_loop(), _Unanswered())


_running: set[asyncio.Task[Any]] = set()
"""Listener tasks still working after their answer; held so none is garbage-collected midway."""


def _keep(task: asyncio.Task[Any]) -> None:
    _running.add(task)
    task.add_done_callback(_finished)


def _finished(task: asyncio.Task[Any]) -> None:
    _running.discard(task)
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("listener failed after its answer", exc_info=error)


def answer_at_ack(listener: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Return once ``listener`` has called ``ack`` (or finished); it keeps running as a task.

    An error raised before the ack propagates, so Bolt's error handling still answers for it.
    """

    @functools.wraps(listener)
    async def run(**kwargs: Any) -> None:
        acked = asyncio.Event()
        bolt_ack = kwargs["ack"]
        pending = _pending()
        pending.add()
        counted = [True]  # still counted among the unanswered

        def leave() -> None:
            if counted:
                counted.clear()
                pending.answered()

        async def ack(*args: Any, **ack_kwargs: Any) -> Any:
            try:
                return await bolt_ack(*args, **ack_kwargs)
            finally:
                acked.set()
                leave()
                await pending.wait()  # the work after this ack lets the other answers go first

        work = asyncio.ensure_future(listener(**{**kwargs, "ack": ack}))
        answered = asyncio.ensure_future(acked.wait())
        try:
            await asyncio.wait({work, answered}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            answered.cancel()
            leave()  # answered, or ended without an ack: either way no longer waiting to be
        if acked.is_set():
            _keep(work)  # still working, or failed after its answer: logged, the answer stands
        else:
            work.result()  # ended without acking: re-raises what it raised, for Bolt to answer

    return run


def in_background(listener: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Start an event listener as a task and return at once (Bolt acks events when this returns)."""

    @functools.wraps(listener)
    async def run(**kwargs: Any) -> None:
        _keep(asyncio.ensure_future(listener(**kwargs)))

    return run


async def drain(timeout: float = 10.0) -> None:
    """Wait (bounded) for listeners still working after their answer; used when the bot stops."""
    if _running:
        await asyncio.wait(set(_running), timeout=timeout)
