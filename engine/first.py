"""``ctx.first``: wait for the first of several effects (a gate, a timer, a signal, an ask, a task)
and cancel the rest.

The winner is the effect whose outcome reached the journal first: a timer's or a gate's
resolution by its journal position, a signal wait by the position of the buffered signal it would
take. Once decided, the winner is journaled (``recorded`` kind ``first``) and every loser still
open is cancelled in the same fenced append: an ``effect_cancelled`` event, its effect marked
cancelled (so a queued task is dropped and a timer that fires is a no-op), its gate closed (a later
click is told so); the orchestrator then removes the losers' timers. A replay reads the recorded
winner, so it yields the same one whatever arrived since.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from engine.errors import NonDeterminismError, ProcessDefinitionError
from engine.journal import Event, now_iso

if TYPE_CHECKING:
    from engine.context import Context, Effect

T = TypeVar("T")


@dataclass
class Winner:
    """Which effect won ``ctx.first`` (by its keyword or its position) and its value."""

    name: str
    index: int
    effect: Effect[Any]
    value: Any

    def get(self, effect: Effect[T]) -> T | None:
        """The value if ``effect`` won, else None: ``if (update := won.get(wait)) is not None``."""
        return self.value if effect is self.effect else None

    def __repr__(self) -> str:
        return f"<first won by {self.name!r} (step {self.effect.key})>"


class First:
    """Awaitable returned by ``ctx.first``; resolves to a ``Winner``. A winner that failed (a task
    error, a question nobody answered in time) raises its error instead, as awaiting it would."""

    def __init__(self, ctx: Context, key: str, items: list[tuple[str, Effect[Any]]]) -> None:
        from engine.context import Effect

        if not items:
            raise ProcessDefinitionError("ctx.first needs at least one effect")
        for name, item in items:
            if not isinstance(item, Effect):
                raise ProcessDefinitionError(f"ctx.first takes effects (ctx.sleep, ctx.wait, ...), not {name}={item!r}")
        if len({item.key for _, item in items}) != len(items):
            raise ProcessDefinitionError("ctx.first got the same effect twice")
        self.ctx, self.key, self.items = ctx, key, items
        self._decided: int | None = None
        recorded = ctx._recorded(key, "first")
        if recorded is not None:
            index = int(recorded["value"]["index"])
            if index >= len(items) or items[index][1].key != recorded["value"]["step"]:
                raise NonDeterminismError(
                    f"non-deterministic replay at step {key}: ctx.first was won by step "
                    f"{recorded['value']['step']}, which the process no longer passes to it")
            self._decided = index

    def __await__(self) -> Generator[Any, None, Winner]:
        while self._decided is None:
            self._decided = self._decide()
            if self._decided is None:
                yield self
        name, effect = self.items[self._decided]
        resolution = self.ctx._settled(effect)
        if resolution is None:
            raise NonDeterminismError(f"non-deterministic replay at step {self.key}: its winner "
                                      f"(step {effect.key}) has no outcome in the journal")
        return Winner(name, self._decided, effect, self.ctx._outcome(effect, resolution))

    def _decide(self) -> int | None:
        """The index of the earliest outcome, journaled with the losers' cancellation; None: none yet."""
        ctx = self.ctx
        best: tuple[int, int] | None = None  # (journal position, index)
        for index, (_, effect) in enumerate(self.items):
            position = ctx._outcome_position(effect)
            if position is not None and (best is None or position < best[0]):
                best = (position, index)
        if best is None:
            return None
        index = best[1]
        winner = self.items[index][1]
        ctx._settled(winner)  # a signal wait takes its signal now
        at = now_iso()
        ctx._record({"type": "recorded", "key": self.key, "kind": "first",
                     "value": {"index": index, "step": winner.key}})
        for _, loser in self.items:
            if loser is not winner and ctx._resolution(loser.key) is None:
                cancelled: Event = {"type": "effect_cancelled", "key": loser.key, "by": "first",
                                    "winner": winner.key, "at": at}
                ctx._record(cancelled)
                ctx._local[loser.key] = cancelled
        return index
