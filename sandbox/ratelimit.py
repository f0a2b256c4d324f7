"""Injected rate limiting: HTTP 429, ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``.

Real Slack throttles per method tier; a bot must back off and retry rather than drop a status
update. Tests switch throttling on for "the next N calls" or "S seconds", for one method or
all, and check that slack_sdk's retry handlers (and the bot) survive it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Rule:
    """One injected throttle, by call count or time window, for one method or all."""

    method: str | None
    """None throttles every method."""
    remaining: int | None
    """Calls still to refuse (count mode), or None in window mode."""
    until: float | None
    """Monotonic deadline (window mode), or None in count mode."""
    retry_after: int | None
    hits: int = 0
    created: float = field(default_factory=time.monotonic)

    def active(self, now: float) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        return self.until is None or now < self.until

    def to_json(self) -> dict[str, Any]:
        left = None if self.until is None else max(0.0, self.until - time.monotonic())
        return {"method": self.method, "remaining": self.remaining, "seconds_left": left,
                "retry_after": self.retry_after, "hits": self.hits}


class RateLimiter:
    """The active throttles; the first matching rule decides a call's fate."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []

    def add(self, *, method: str | None = None, count: int | None = None, seconds: float | None = None,
            retry_after: int | None = None) -> Rule:
        """Refuse the next ``count`` calls, or every call for ``seconds`` (or both limits at once)."""
        if count is None and seconds is None:
            count = 1
        until = time.monotonic() + seconds if seconds is not None else None
        rule = Rule(method, count, until, retry_after)
        self.rules.append(rule)
        return rule

    def check(self, method: str) -> int | None:
        """Seconds for ``Retry-After`` if this call is throttled (consuming one count), else None."""
        now = time.monotonic()
        self.rules = [r for r in self.rules if r.active(now)]
        for rule in self.rules:
            if rule.method not in (None, method):
                continue
            rule.hits += 1
            if rule.remaining is not None:
                rule.remaining -= 1
            if rule.retry_after is not None:
                return rule.retry_after
            if rule.until is not None:
                return max(1, math.ceil(rule.until - now))
            return 1
        return None

    def clear(self) -> None:
        self.rules.clear()

    def to_json(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [r.to_json() for r in self.rules if r.active(now)]
