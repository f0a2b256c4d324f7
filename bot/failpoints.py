"""In-process failpoints: named places where a test makes one of the bot's background tasks raise.

``engine.failpoints`` kills the whole process (``kill -9``) at a moment; these instead raise
``FailpointHit`` inside a task, which is how a bug or an unexpected library error would look, so
tests can watch the bot's supervisor restart the task and ``/healthz`` report it. Unarmed (always,
in production) a check costs one dict lookup.
"""

from __future__ import annotations

POINTS = ("notifier.step", "home.refresh")

_armed: dict[str, int | None] = {}
"""name -> how many more hits raise (None: every hit until disarmed)."""


class FailpointHit(RuntimeError):
    """Raised where an armed failpoint is reached."""


def arm(name: str, times: int | None = None) -> None:
    if name not in POINTS:
        raise ValueError(f"unknown failpoint {name!r}; known: {', '.join(POINTS)}")
    _armed[name] = times


def disarm(name: str) -> None:
    _armed.pop(name, None)


def check(name: str) -> None:
    if name not in _armed:
        return
    left = _armed[name]
    if left is not None:
        if left <= 1:
            del _armed[name]
        else:
            _armed[name] = left - 1
    raise FailpointHit(name)
