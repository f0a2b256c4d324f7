"""Shepherd's process SDK: declare processes and tasks, and the intrinsics they use."""

from engine.cancellation import CancelledRun, FinishedStep, finished_steps, result_of
from engine.context import Context, Effect, EffectCancelled
from engine.executors import TaskContext
from engine.first import Winner
from engine.registry import form, process, task
from engine.signals import SignalChannel, SignalRequest
from engine.types import (
    Approvers,
    ArtifactRef,
    Decision,
    OnTimeout,
    ParallelError,
    ShellResult,
    TaskFailed,
)

__all__ = [
    "Approvers",
    "ArtifactRef",
    "CancelledRun",
    "Context",
    "Decision",
    "Effect",
    "EffectCancelled",
    "FinishedStep",
    "OnTimeout",
    "ParallelError",
    "ShellResult",
    "SignalChannel",
    "SignalRequest",
    "TaskContext",
    "TaskFailed",
    "Winner",
    "finished_steps",
    "form",
    "process",
    "result_of",
    "task",
]
