"""Is the process replaying what it already did, or doing something for the first time?

Both ``ctx.patched`` and ``ctx.log`` ask. A replay is *behind* the journal while the journal holds
steps this drive has not reached yet: old code went past this point before (without the patch,
or having logged already). Steps of a sibling branch of an enclosing ``ctx.parallel`` do not
count: they run beside this point, not after it, and branches are stepped in order.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.context import Context

#: Keys of ``ctx.patched`` markers: outside the step keys a process can write (``_KEY_RE``).
PATCH_PREFIX = "~patch/"
_BRANCH = re.compile(r"^(?P<parallel>.+)\.(?P<index>\d+)/$")


def behind_journal(journaled: Iterable[str], used: set[str], scopes: list[str]) -> bool:
    """True if some journaled step, not in a sibling branch, is one this drive has not reached."""
    parallels = [(m["parallel"] + ".", scope) for scope in scopes if (m := _BRANCH.match(scope))]
    for key in journaled:
        if key in used:
            continue
        if any(key.startswith(parallel) and not key.startswith(own) for parallel, own in parallels):
            continue
        return True
    return False


class ReplayLogger(logging.LoggerAdapter):
    """``ctx.log``: a ``logging.Logger``-like logger that is silent while the process replays.

    A process function runs again from the top on every cold wake; a plain logger would repeat
    every line each time. Lines carry the run id (in the message and as ``extra["run_id"]``).
    """

    def __init__(self, ctx: Context) -> None:
        super().__init__(logging.getLogger(f"shepherd.process.{ctx.process_id or 'unknown'}"), {})
        self._ctx = ctx

    @property
    def replaying(self) -> bool:
        return self._ctx.is_replaying()

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = {**(kwargs.get("extra") or {}), "run_id": self._ctx.run_id, "step": self._ctx.current_step}
        return f"run {self._ctx.run_id}: {msg}", {**kwargs, "extra": extra}

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if not self.replaying:
            kwargs.setdefault("stacklevel", 2)  # the line is the process's, not this adapter's
            super().log(level, msg, *args, **kwargs)
