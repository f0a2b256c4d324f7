"""Shepherd's process SDK: declare processes and tasks, and the intrinsics they use."""

from engine.context import Context, Effect, EffectCancelled
from engine.executors import TaskContext
from engine.registry import process, task
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
    "Context",
    "Decision",
    "Effect",
    "EffectCancelled",
    "OnTimeout",
    "ParallelError",
    "ShellResult",
    "TaskContext",
    "TaskFailed",
    "process",
    "task",
]
