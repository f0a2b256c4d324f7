"""Incident statistics: counts and mean / median / p90 of TTA, TTM and TTR per severity."""

from __future__ import annotations

import math
import statistics
from typing import Any

from pydantic import BaseModel

from processes.incident.timeline import human

MEASURES = {"tta": "Time to acknowledge", "ttm": "Time to mitigate", "ttr": "Time to resolve"}


class Spread(BaseModel):
    n: int
    mean: float | None = None
    median: float | None = None
    p90: float | None = None


class SeverityStats(BaseModel):
    severity: str
    count: int
    measures: dict[str, Spread]


def p90(values: list[float]) -> float:
    """The nearest-rank 90th percentile: the smallest value with at least 90% of values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def spread(values: list[float]) -> Spread:
    if not values:
        return Spread(n=0)
    return Spread(n=len(values), mean=statistics.fmean(values), median=statistics.median(values), p90=p90(values))


def summarize(records: list[dict[str, Any]], severity: str | None = None) -> list[SeverityStats]:
    """Per severity (sorted), over ``records`` as ``record_stats`` stored them."""
    by_severity: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if severity is None or record.get("severity") == severity:
            by_severity.setdefault(str(record.get("severity")), []).append(record)
    return [SeverityStats(severity=sev, count=len(items),
                          measures={m: spread([float(r[m]) for r in items if r.get(m) is not None])
                                    for m in MEASURES})
            for sev, items in sorted(by_severity.items())]


def markdown(stats: list[SeverityStats], since_label: str) -> str:
    lines = [f"# Incident statistics ({since_label})", ""]
    if not stats:
        return "\n".join([*lines, "No resolved incidents were recorded in this period.", ""])
    lines += ["| Severity | Incidents | Measure | n | Mean | Median | p90 |", "|---|---|---|---|---|---|---|"]
    for s in stats:
        for m, label in MEASURES.items():
            v = s.measures[m]
            lines.append(f"| {s.severity} | {s.count} | {label} | {v.n} | {human(v.mean)} | {human(v.median)} "
                         f"| {human(v.p90)} |")
    return "\n".join(lines) + "\n"


def note(stats: list[SeverityStats], since_label: str) -> str:
    if not stats:
        return f"No incidents recorded {since_label}."
    parts = [f"{s.severity} ({s.count}): TTA {human(s.measures['tta'].median)}, "
             f"TTM {human(s.measures['ttm'].median)}, TTR {human(s.measures['ttr'].median)} (median)"
             for s in stats]
    return f"Incidents {since_label}: " + "; ".join(parts)
