"""Signals: typed events sent to a running run from outside, and who may send them.

A process opens a channel with ``ctx.signal("severity", SeverityChange, senders=...)`` and takes
the next signal from it with ``await ctx.wait(channel)`` (Temporal's signals, received the way
``workflow.wait_condition`` would, but as one durable step). The channel is journaled
(``signal_declared``) and its record written beside the gates, so a front end can validate a
payload against the model and check the sender before anything reaches the journal.

A sent signal is one Lua script on the run's keys (``state.scripts.SIGNAL``): it checks the
sender, drops a repeated id (deduplication), journals ``signal_received`` and marks the run's wake
(``engine.sweeper``), all at once. Nothing is assigned to a wait there: the orchestrator's replay
hands the oldest unconsumed signal of a channel to the first wait that asks for it, and journals
that (an ``effect_resolved`` naming the ``signal`` id) in its fenced append. So signals are consumed
in journal order, one not yet waited for stays buffered, and a replay resolves each wait to the
signal journaled for it.

Who may send (``senders=``):

- ``None`` (the default): the run's requester only;
- ``Approvers(users=[...], groups=[...])``: those people; ``Approvers()`` (empty): anyone;
- a module-level function ``(SignalRequest) -> bool``: a rule that needs code. The front end
  imports it by name (like a form), so it must be importable, not a lambda or a closure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from engine.errors import NonDeterminismError, ProcessDefinitionError
from engine.journal import Event, compact
from engine.types import Approvers

M = TypeVar("M", bound=BaseModel)

#: Letters, digits, '-', '_' and '.': a signal name is typed in Slack and the terminal.
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class SignalRequest(BaseModel):
    """What a sender policy function is asked about."""

    run_id: str
    process: str
    requester: str
    name: str
    sender: str
    groups: list[str] = Field(default_factory=list)


SenderPolicy = Callable[[SignalRequest], bool]


@dataclass(frozen=True)
class SignalChannel(Generic[M]):
    """A declared channel: pass it to ``ctx.wait`` to receive its next signal, typed ``M``."""

    name: str
    model: type[M]

    def __repr__(self) -> str:
        return f"<signal {self.name!r} ({self.model.__name__})>"


def reference(obj: Any, what: str) -> str:
    """``module:qualname``, by which a front end imports a model or a policy function."""
    qualname = getattr(obj, "__qualname__", "")
    if not qualname or "<" in qualname:
        raise ProcessDefinitionError(f"{what} {obj!r} must be defined at module level (front ends import it by name)")
    return f"{obj.__module__}:{qualname}"


def channel_event(name: str, model: type[BaseModel], senders: Approvers | SenderPolicy | None) -> Event:
    """The ``signal_declared`` event (and, minus its type, the record front ends check against)."""
    if not name or not set(name) <= NAME_CHARS or len(name) > 64:
        raise ProcessDefinitionError(f"signal name {name!r} must be letters, digits, '-', '_' or '.'")
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise ProcessDefinitionError(f"signal {name!r} needs a pydantic model, not {model!r}")
    fields: dict[str, Any] = {"type": "signal_declared", "name": name, "model": reference(model, "signal model")}
    if isinstance(senders, Approvers):
        fields.update(users=senders.users, groups=senders.groups,
                      anyone=not senders.users and not senders.groups)
    elif senders is not None:
        if not callable(senders):
            raise ProcessDefinitionError(f"signal {name!r}: senders= takes Approvers or a function, not {senders!r}")
        fields["policy"] = reference(senders, "sender policy")
    return compact(fields)


def same_channel(recorded: Event, declared: Event) -> None:
    """A channel keeps its model and senders for the life of the run: the front ends checked
    signals already journaled against the recorded ones."""
    if {k: v for k, v in recorded.items() if k != "at"} != {k: v for k, v in declared.items() if k != "at"}:
        raise NonDeterminismError(
            f"signal {declared['name']!r} was declared as {recorded.get('model')} with other senders "
            f"when this run started; the process now declares {declared.get('model')} "
            "(use ctx.patched to change it for new runs only)")


def describe_senders(channel: dict[str, Any]) -> str:
    if channel.get("policy"):
        return f"whoever {channel['policy'].rsplit(':', 1)[-1]} allows"
    if channel.get("anyone"):
        return "anyone"
    names = [*channel.get("users", []), *(f"group:{g}" for g in channel.get("groups", []))]
    return ", ".join(names) if names else "the run's requester"
