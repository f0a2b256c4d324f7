"""Typed errors. Each carries one line a person can act on.

Front ends (terminal, Slack) turn these into messages in one place; nothing
else formats errors for people.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence


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


class ArgumentError(ShepherdError, ValueError):
    """Bad command text or inputs: ``lines`` holds one human-readable line per problem.

    All problems are collected first, so a person fixes a command in one go; being a
    ShepherdError lets front ends print it like any other user-facing error.
    """

    exit_code = 2

    def __init__(self, lines: Sequence[str] | str) -> None:
        self.lines: list[str] = [lines] if isinstance(lines, str) else list(lines)
        super().__init__("; ".join(self.lines))

    def __reduce__(self) -> tuple[type[ArgumentError], tuple[list[str]]]:
        return type(self), (self.lines,)  # keep the separate lines across pickling


class UnknownTask(ProcessDefinitionError):
    """A journal or queue entry names a task this process has not loaded."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown task '{name}' (is its module loaded on this worker?)")
        self.name = name


class MissingDefinition(ShepherdError):
    """This worker has not loaded the process (or task) a run needs; a worker that has must take it."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"this worker has no {kind} '{name}' loaded")
        self.kind, self.name = kind, name


class PluginError(ShepherdError):
    """A process plug-in (SHEPHERD_PROCESSES_PATH file or entry point) could not be loaded."""

    @classmethod
    def from_exception(cls, what: str, exc: BaseException) -> PluginError:
        """One line: which plug-in, the error, and where in the plug-in's code it was raised."""
        where = ""
        if isinstance(exc, SyntaxError) and exc.filename:
            where = f" at {exc.filename}:{exc.lineno}"
        elif exc.__traceback__ is not None:
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            where = f" at {frame.filename}:{frame.lineno}"
        message = " ".join(str(exc).split()) or type(exc).__name__
        return cls(f"could not load process plug-in {what}: {type(exc).__name__}: {message}{where}")
