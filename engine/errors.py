"""Typed errors. Each carries one line a person can act on.

Front ends (terminal, Slack) turn these into messages in one place; nothing
else formats errors for people.
"""

from __future__ import annotations


class ShepherdError(Exception):
    """Base for errors whose message is meant for the user."""

    exit_code = 1


class UnknownProcess(ShepherdError):
    exit_code = 2

    def __init__(self, name: str, known: list[str]) -> None:
        hint = f" (known: {', '.join(known)})" if known else " (no processes are registered)"
        super().__init__(f"unknown process '{name}'{hint}")


class UnknownRun(ShepherdError):
    exit_code = 2

    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run with id '{run_id}'")


class UnknownGate(ShepherdError):
    exit_code = 2

    def __init__(self, run_id: str, gate: str, kind: str = "gate", open_ones: list[str] | None = None) -> None:
        hint = f" (open: {', '.join(open_ones)})" if open_ones else " (none is open)"
        super().__init__(f"run {run_id} has no {kind} '{gate}'{hint}")


class UnknownSignal(ShepherdError):
    exit_code = 2

    def __init__(self, run_id: str, name: str, declared: list[str]) -> None:
        hint = f" (it takes: {', '.join(declared)})" if declared else " (it takes none, or has not opened them yet)"
        super().__init__(f"run {run_id} takes no signal '{name}'{hint}")


class GateClosed(ShepherdError):
    """The gate was already decided, answered, timed out or cancelled."""

    exit_code = 3

    def __init__(self, message: str, by: str = "", at: str = "") -> None:
        super().__init__(message)
        self.by, self.at = by, at


class NotAllowed(ShepherdError):
    """Refused by a permission rule. ``gate`` is the gate record when the refusal names who may
    act, so a front end can show those people its own way (Slack mentions them)."""

    exit_code = 4

    def __init__(self, message: str, *, gate: dict | None = None, who: str = "") -> None:
        super().__init__(message)
        self.gate, self.who = gate, who


class RunClosed(ShepherdError):
    exit_code = 3


class NonDeterminismError(ShepherdError):
    """Replay asked for a different effect than the journal recorded at a step."""


class ProcessDefinitionError(ShepherdError):
    """A process or task is declared or used wrongly (a bug in process code)."""
