"""The incident timeline and the durations computed from it.

Every time here is a recorded one (``ctx.now()``, a gate's decision time, a task's result), so
the timeline and the durations come out the same on every replay.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from processes.common.templates import render

_MARKS = {"update": "📣 ", "pin": "📌 "}
"""How a status update and a pinned message stand out in the timeline."""


class Entry(BaseModel):
    at: datetime
    text: str
    source: str = "run"
    """``run`` (a step of the process), ``update`` (a status update) or ``pin`` (a pinned message)."""


class Durations(BaseModel):
    """Seconds from declaration to acknowledgement, mitigation and resolution (None: not reached)."""

    tta: float | None = None
    ttm: float | None = None
    ttr: float | None = None


def durations(declared: datetime, acknowledged: datetime | None, mitigated: datetime | None,
              resolved: datetime | None) -> Durations:
    def since(t: datetime | None) -> float | None:
        return None if t is None else max(0.0, (t - declared).total_seconds())

    return Durations(tta=since(acknowledged), ttm=since(mitigated), ttr=since(resolved))


def human(seconds: float | None) -> str:
    """``1h 02m 03s`` style; ``—`` for a duration never reached."""
    if seconds is None:
        return "—"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


class Timeline:
    """Entries in the order they happened (ties keep the order they were added)."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def add(self, at: datetime, text: str, source: str = "run") -> None:
        self.entries.append(Entry(at=at, text=text, source=source))

    def extend(self, entries: list[Entry]) -> None:
        self.entries.extend(entries)

    def sorted(self) -> list[Entry]:
        return sorted(self.entries, key=lambda e: e.at)

    def markdown(self) -> str:
        """One line per entry, in order (``templates/timeline_entries.md.j2``); empty when there are none."""
        return render("processes.incident", "timeline_entries.md.j2", entries=self.sorted(),
                      marks=_MARKS).removesuffix("\n")

    def document(self, incident_id: str) -> str:
        """The ``<incident>-timeline.md`` artifact (``templates/timeline.md.j2``)."""
        return render("processes.incident", "timeline.md.j2", incident=incident_id, entries=self.markdown())
