"""Failpoints: named places where a test can make this process die like ``kill -9``.

``SHEPHERD_FAILPOINTS="after_append,task_finished:2"`` kills the process with
SIGKILL the first (or the n-th) time it reaches that point. Unset (always, in
production) it costs one dict lookup. Crash-recovery tests use it to stop a
worker at the exact moments that matter: mid-replay, between a task finishing
and its result being committed, between a commit and the acknowledgement; and a front end
between its write (a start, a decision, a signal) and the wake it queues.
"""

from __future__ import annotations

import os
import signal

POINTS = ("replay", "after_append", "task_started", "task_finished", "after_commit",
          # a front end (the bot, the CLI) between its write and the wake it queues
          "after_create", "after_decide", "after_answer", "after_cancel", "after_signal")


def _parse(spec: str) -> dict[str, int]:
    armed: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, count = item.partition(":")
        armed[name] = int(count or 1)
    return armed


_armed = _parse(os.environ.get("SHEPHERD_FAILPOINTS", ""))


def failpoint(name: str) -> None:
    if name in _armed:
        _armed[name] -= 1
        if _armed[name] <= 0:
            os.kill(os.getpid(), signal.SIGKILL)
