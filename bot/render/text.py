"""Small text helpers shared by the renderers: short values, times, who may act.

Anything that came from a person or a process's data is shown through ``shown`` (or
``short_inputs``), which shortens and then escapes it for mrkdwn (``engine.mrkdwn``): shortening
first, so a cut never splits an ``&amp;``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.ids import group_mention, mention
from engine.mrkdwn import escape


def short(value: Any, limit: int = 40) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown(value: Any, limit: int = 40) -> str:
    """``short(value, limit)`` as mrkdwn that shows exactly its characters: no mention, no link."""
    return escape(short(value, limit))


def short_inputs(inputs: dict[str, Any], limit: int = 150) -> str:
    """``key=value`` pairs for mrkdwn, shortened and escaped (values are what people typed)."""
    parts = [f"{k}={short(v, 30)}" for k, v in inputs.items() if v not in (None, "", [], {})]
    return shown(" ".join(parts), limit) if parts else ""


def parse_iso(at: str) -> datetime | None:
    try:
        return datetime.fromisoformat(at.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None


def hhmm(at: str) -> str:
    moment = parse_iso(at)
    return moment.strftime("%H:%M") if moment else "?"


def elapsed(start: str, end: str | None = None) -> str:
    began, ended = parse_iso(start), parse_iso(end) if end else datetime.now(UTC)
    if began is None or ended is None:
        return ""
    seconds = max(0, int((ended - began).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


MAX_NAMED = 20
"""People and groups named on a gate before "and N more": a section's text is at most 3,000
characters (https://api.slack.com/reference/block-kit/blocks#section), and a gate open to 200
people would otherwise be refused as ``invalid_blocks`` and never posted."""


def who_may_act(gate: dict[str, Any]) -> str:
    people = [mention(u) for u in gate.get("users", [])] + [group_mention(g) for g in gate.get("groups", [])]
    text = ", ".join(people[:MAX_NAMED]) if people else "anyone"
    if len(people) > MAX_NAMED:
        text += f" and {len(people) - MAX_NAMED} more"
    if gate.get("four_eyes"):
        text += " (not the requester)"
    return text


def slack_date(ms: int) -> str:
    """A deadline every reader sees in their own time zone (with a UTC fallback)."""
    fallback = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{ms // 1000}^{{date_short_pretty}} {{time}}|{fallback}>"
