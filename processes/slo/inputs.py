"""What defines an SLO, validated where it is typed, so a bad target never starts a run.

``slo-setup`` and ``slo-review`` take the same fields. The service name becomes a PromQL label
value and part of a file name, so it is held to a plain charset here rather than escaped later.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from processes.common.repositories import check_repository

_SERVICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_LATENCY = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s)?$")
MIN_WINDOW = timedelta(minutes=1)
MAX_WINDOW = timedelta(days=400)


def latency_seconds(text: str) -> float:
    """``300ms``, ``0.3s``, ``1.5s`` or ``300`` (milliseconds) in seconds."""
    match = _LATENCY.match(text.strip().lower())
    if not match:
        raise ValueError(f"expected a latency like 300ms or 1.5s, got '{text}'")
    number, unit = float(match[1]), match[2] or "ms"
    return number / 1000 if unit == "ms" else number


class SLOInputs(BaseModel):
    """An objective for one service's availability or latency over a rolling window."""

    service: str = Field(description="the service, as the `service` label of its metrics names it")
    target: float = Field(description="the objective in percent, between 0 and 100 exclusive, e.g. 99.9")
    window: timedelta = Field(default=timedelta(days=30), description="the rolling window the objective covers")
    sli: Literal["availability", "latency"] = Field(
        default="availability",
        description="availability: non-5xx requests are good; latency: requests faster than `threshold` are good")
    threshold: str = Field(default="300ms", description="latency SLI only: a histogram bucket boundary, e.g. 300ms")

    @field_validator("service")
    @classmethod
    def _service(cls, value: str) -> str:
        if not _SERVICE.match(value):
            raise ValueError("must be letters, digits, '.', '_' or '-' (it becomes a Prometheus label value "
                             f"and a file name), got '{value[:60]}'")
        return value

    @field_validator("target")
    @classmethod
    def _target(cls, value: float) -> float:
        if math.isnan(value) or not 0 < value < 100:
            hint = " (100% leaves no error budget: no alert could ever be right)" if value == 100 else ""
            raise ValueError(f"must be a percentage between 0 and 100 exclusive, e.g. 99.9; got {value:g}{hint}")
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: timedelta) -> timedelta:
        if not MIN_WINDOW <= value <= MAX_WINDOW:
            raise ValueError("must be between 1 minute and 400 days, e.g. 30d or 28d")
        if value.total_seconds() % 60:
            raise ValueError("must be a whole number of minutes, e.g. 30d")
        return value

    @field_validator("threshold")
    @classmethod
    def _threshold(cls, value: str) -> str:
        seconds = latency_seconds(value)
        if seconds <= 0:
            raise ValueError(f"must be more than zero, got '{value}'")
        return value.strip().lower()

    @property
    def threshold_seconds(self) -> float:
        return latency_seconds(self.threshold)


_RULES_PATH = re.compile(r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*$")


class SLOSetupInputs(SLOInputs):
    """An SLO, and optionally the rules repository its rules go to as a branch (and pull request)."""

    repo: str | None = Field(
        default=None,
        description="the rules repository: an https:// or ssh:// URL, user@host:path, or a local path under "
                    "SHEPHERD_REPO_ROOTS; the rules go to a new branch there (and a GitHub pull request where "
                    "GITHUB_TOKEN is set)")
    rules_path: str = Field(default="rules", description="with repo: the directory inside it for the rule files")

    @field_validator("repo")
    @classmethod
    def _repo(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return check_repository(value)  # the allow-list of what may reach git (processes.common.repositories)

    @field_validator("rules_path")
    @classmethod
    def _rules_path(cls, value: str) -> str:
        cleaned = value.strip().strip("/") or "."
        parts = cleaned.split("/")
        if cleaned != "." and (not _RULES_PATH.match(cleaned) or ".." in parts or "." in parts or ".git" in parts):
            raise ValueError("must be a relative directory inside the repository made of letters, digits, '.', "
                             f"'_', '-' and '/', without '..' or .git, e.g. rules/slo; got '{value[:80]}'")
        return cleaned
