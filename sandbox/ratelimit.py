"""Injected rate limiting: HTTP 429, ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``.

Real Slack throttles per method tier; a bot must back off and retry rather than drop a status
update. Two sources of 429s: ``TierLimits``, Slack's standing per-tier limits (off unless a test
or ``shepherd sandbox`` turns them on), and injected rules: "the next N calls" or "S seconds",
for one method or all, so tests can check that the bot survives a throttle exactly when they want.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

DEFAULT_RETRY_AFTER = 30
"""What Slack typically sends in ``Retry-After``; tests that cannot wait that long say less."""


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
    match: dict[str, Any] = field(default_factory=dict)
    """Only calls whose arguments have these values (compared as text, case-insensitively), so a
    test can throttle exactly one post: ``{"reply_broadcast": true}`` for a gate's message."""
    hits: int = 0
    created: float = field(default_factory=time.monotonic)

    def matches(self, method: str, args: dict[str, Any]) -> bool:
        return self.method in (None, method) and all(
            str(args.get(name)).lower() == str(value).lower() for name, value in self.match.items())

    def active(self, now: float) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        return self.until is None or now < self.until

    def to_json(self) -> dict[str, Any]:
        left = None if self.until is None else max(0.0, self.until - time.monotonic())
        return {"method": self.method, "remaining": self.remaining, "seconds_left": left,
                "retry_after": self.retry_after, "match": self.match, "hits": self.hits}


class RateLimiter:
    """The active throttles; the first matching rule decides a call's fate."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []

    def add(self, *, method: str | None = None, count: int | None = None, seconds: float | None = None,
            retry_after: int | None = None, match: dict[str, Any] | None = None) -> Rule:
        """Refuse the next ``count`` calls, or every call for ``seconds`` (or both limits at once)."""
        if count is None and seconds is None:
            count = 1
        until = time.monotonic() + seconds if seconds is not None else None
        if match is not None and not isinstance(match, dict):
            raise TypeError("match must be an object of argument values")
        rule = Rule(method, count, until, retry_after, dict(match or {}))
        self.rules.append(rule)
        return rule

    def check(self, method: str, args: dict[str, Any] | None = None) -> int | None:
        """Seconds for ``Retry-After`` if this call is throttled (consuming one count), else None."""
        now = time.monotonic()
        self.rules = [r for r in self.rules if r.active(now)]
        for rule in self.rules:
            if not rule.matches(method, args or {}):
                continue
            rule.hits += 1
            if rule.remaining is not None:
                rule.remaining -= 1
            if rule.retry_after is not None:
                return rule.retry_after
            if rule.until is not None:
                return max(1, math.ceil(rule.until - now))
            return DEFAULT_RETRY_AFTER
        return None

    def clear(self) -> None:
        self.rules.clear()

    def to_json(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [r.to_json() for r in self.rules if r.active(now)]


# -- Slack's own limits, per method tier --------------------------------------------------------

TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
"""https://api.slack.com/apis/rate-limits: Tier 1 1+, Tier 2 20+, Tier 3 50+, Tier 4 100+ per
minute, "per API method per app per workspace". The sandbox holds each to its floor."""

METHOD_TIERS = {
    # Each method's page (https://api.slack.com/methods/<name>, "Rate limits") names its tier.
    "apps.connections.open": 1,
    "conversations.create": 2, "conversations.list": 2, "conversations.setTopic": 2, "reactions.remove": 2,
    "users.list": 2, "usergroups.list": 2, "usergroups.users.list": 2,
    "chat.update": 3, "chat.delete": 3, "conversations.info": 3, "conversations.invite": 3,
    "conversations.join": 3, "conversations.open": 3, "conversations.history": 3, "conversations.replies": 3,
    "reactions.add": 3, "users.lookupByEmail": 3,
    "auth.test": 4, "chat.getPermalink": 4, "chat.postEphemeral": 4, "conversations.members": 4,
    "files.getUploadURLExternal": 4, "files.completeUploadExternal": 4, "files.info": 4, "users.info": 4,
    "views.open": 4, "views.push": 4, "views.update": 4, "views.publish": 4,
}
"""auth.test and chat.getPermalink are "Special" in Slack's docs and generous: held to Tier 4 here."""

POST_METHOD = "chat.postMessage"
"""Special tier (https://api.slack.com/methods/chat.postMessage#rate_limiting): "1 message per
second to a specific channel", short bursts allowed, plus a workspace-wide limit above that."""


@dataclass
class TierLimits:
    """Slack's standing limits: a sliding minute per method (per channel for chat.postMessage).

    Off unless enabled (the control API, or ``shepherd sandbox``): most tests drive bursts that
    real Slack would pace, and opt in where pacing is what they check. ``retry_after`` is what a
    refused call is told to wait; 30 s is what Slack typically sends, and tests make it short."""

    enabled: bool = False
    retry_after: int = 30
    per_minute: dict[int, int] = field(default_factory=lambda: dict(TIER_PER_MINUTE))
    posts_per_second: float = 1.0
    post_burst: int = 3
    """Posts to one channel allowed back to back before the 1/s pacing applies."""
    clock: Any = time.monotonic
    _calls: dict[str, list[float]] = field(default_factory=dict)
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    refused: int = 0

    def check(self, method: str, channel: str | None) -> int | None:
        """Seconds for ``Retry-After`` if Slack would refuse this call now, else None (and count it)."""
        if not self.enabled:
            return None
        now = self.clock()
        if method == POST_METHOD:
            allowed = self._take_post(channel or "", now)
        elif method in METHOD_TIERS:
            allowed = self._take_tier(method, now)
        else:
            allowed = True
        if allowed:
            return None
        self.refused += 1
        return self.retry_after

    def _take_post(self, channel: str, now: float) -> bool:
        tokens, since = self._buckets.get(channel, (float(self.post_burst), now))
        tokens = min(float(self.post_burst), tokens + (now - since) * self.posts_per_second)
        allowed = tokens >= 1.0
        self._buckets[channel] = (tokens - 1.0 if allowed else tokens, now)
        return allowed

    def _take_tier(self, method: str, now: float) -> bool:
        calls = [t for t in self._calls.get(method, []) if now - t < 60.0]
        allowed = len(calls) < self.per_minute.get(METHOD_TIERS[method], 100)
        if allowed:
            calls.append(now)
        self._calls[method] = calls
        return allowed

    def configure(self, *, enabled: bool | None = None, retry_after: int | None = None,
                  per_minute: dict[int, int] | None = None, posts_per_second: float | None = None,
                  post_burst: int | None = None) -> None:
        if enabled is not None:
            self.enabled = enabled
        if retry_after is not None:
            self.retry_after = max(1, int(retry_after))
        if per_minute is not None:
            self.per_minute.update({int(tier): int(limit) for tier, limit in per_minute.items()})
        if posts_per_second is not None:
            self.posts_per_second = float(posts_per_second)
        if post_burst is not None:
            self.post_burst = max(1, int(post_burst))
        self._calls.clear()
        self._buckets.clear()

    def reset(self) -> None:
        """Forget the calls counted so far (the settings stay)."""
        self._calls.clear()
        self._buckets.clear()
        self.refused = 0

    def to_json(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "retry_after": self.retry_after,
                "per_minute": {str(k): v for k, v in self.per_minute.items()},
                "posts_per_second": self.posts_per_second, "post_burst": self.post_burst, "refused": self.refused}
