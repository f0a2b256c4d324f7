"""Values that process code passes to intrinsics or gets back from them."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator


class OnTimeout(StrEnum):
    """What a gate does when nobody decides by its deadline. Always explicit."""

    REJECT = "reject"
    APPROVE = "approve"
    ESCALATE = "escalate"


class Approvers(BaseModel):
    """Who may decide a gate: listed users, or members of listed groups.

    Empty means anyone (still subject to four-eyes).
    """

    users: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)

    def describe(self) -> str:
        names = [*self.users, *(f"group:{g}" for g in self.groups)]
        return ", ".join(names) if names else "anyone"


class Vote(BaseModel):
    by: str
    at: datetime
    approved: bool
    comment: str | None = None


def _list_or_empty(value: Any) -> Any:
    # Lua's cjson encodes an empty array as {}.
    return [] if value == {} else value


class Decision(BaseModel):
    """The outcome of a breakpoint."""

    approved: bool
    by: str
    at: datetime
    comment: str | None = None
    votes: list[Vote] = Field(default_factory=list)
    timed_out: bool = False
    escalated: bool = False

    _fix_votes = field_validator("votes", mode="before")(_list_or_empty)

    def __bool__(self) -> bool:  # `if await ctx.breakpoint(...)` reads naturally
        return self.approved


class ShellResult(BaseModel):
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    truncated: bool = False
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class ArtifactRef(BaseModel):
    """A file attached to the run (its bytes live in Redis under the run's keys)."""

    key: str
    name: str
    mime: str
    size: int
    sha256: str


class TaskFailed(Exception):
    """A task (or shell command) failed after its retries; raised inside the process."""

    def __init__(self, step: str, name: str, error_type: str, message: str) -> None:
        super().__init__(f"step {step} ({name}) failed: {error_type}: {message}")
        self.step, self.name, self.error_type, self.message = step, name, error_type, message


class ParallelError(Exception):
    """One or more branches of ``ctx.parallel`` failed.

    ``parallel`` lets every branch settle (no branch is abandoned half-way)
    and then raises this with the failures by branch index and the results of
    the branches that succeeded.
    """

    def __init__(self, errors: dict[int, BaseException], results: dict[int, Any]) -> None:
        first = errors[min(errors)]
        super().__init__(f"{len(errors)} of {len(errors) + len(results)} parallel branches failed; first: {first}")
        self.errors, self.results = errors, results


def as_timedelta(value: timedelta | float | int | None) -> timedelta | None:
    if value is None or isinstance(value, timedelta):
        return value
    return timedelta(seconds=float(value))
