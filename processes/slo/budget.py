"""Error budget arithmetic and the duration formats Prometheus understands.

Percentages are turned into fractions with ``Decimal`` so that 99.9% over 30 days is exactly
43.2 minutes, not 43.199999999.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from pydantic import BaseModel

_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")


class ErrorBudget(BaseModel):
    """How much unreliability the objective allows over its window."""

    target: float
    """Objective in percent, e.g. 99.9."""
    fraction: float
    """Allowed fraction of bad events, e.g. 0.001."""
    window_seconds: float
    minutes: float
    """Minutes of total outage the budget allows over the window."""
    requests: float | None = None
    """Requests seen in the window so far, where Prometheus says."""
    allowed_failures: float | None = None
    """Failed requests the budget allows for that traffic."""


def budget_fraction(target: float) -> Decimal:
    return (Decimal(100) - Decimal(str(target))) / Decimal(100)


def error_budget(target: float, window: timedelta, requests: float | None = None) -> ErrorBudget:
    fraction = budget_fraction(target)
    seconds = Decimal(str(window.total_seconds()))
    return ErrorBudget(
        target=target, fraction=float(fraction), window_seconds=float(seconds),
        minutes=float(fraction * seconds / 60),
        requests=requests, allowed_failures=float(fraction * Decimal(str(requests))) if requests is not None else None,
    )


def duration_seconds(text: str) -> float:
    """Seconds in a Prometheus duration such as ``5m``, ``1d`` or ``1h30m``."""
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) / 1000 if u == "ms" else int(n) * _UNITS[u] for n, u in parts)


def promql_duration(seconds: float) -> str:
    """The shortest Prometheus duration for ``seconds`` (whole milliseconds): 2592000 -> 30d."""
    millis = round(seconds * 1000)
    if millis <= 0:
        raise ValueError("a Prometheus duration must be positive")
    if millis % 1000:
        return f"{millis}ms"
    whole = millis // 1000
    out = ""
    for unit in ("w", "d", "h", "m", "s"):
        n, whole = divmod(whole, _UNITS[unit])
        out += f"{n}{unit}" if n else ""
    # Weeks read oddly for SLO windows (30d, not 4w2d): prefer days when the total is whole days.
    if "w" in out and millis % 86_400_000 == 0:
        return f"{millis // 86_400_000}d"
    return out


def human_minutes(minutes: float) -> str:
    """A budget in words: 43.2 -> '43.2 min'; 2160 -> '2160 min = 36 h'."""
    if minutes < 120:
        return f"{minutes:.4g} min"
    return f"{minutes:.6g} min = {minutes / 60:.3g} h"
