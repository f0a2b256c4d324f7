"""At most one post, and one edit, per interval per channel (Slack allows about one message per
second per channel: https://api.slack.com/methods/chat.postMessage#rate_limiting; chat.update is
Tier 3, 50+ per minute: https://api.slack.com/methods/chat.update).

Posts and edits have separate slots, as Slack counts them per method. Waiting happens before the
notifier reads what to post or show, so everything that arrived during the wait goes out in one
message or edit: bursts coalesce instead of queueing up. Each channel has its own slots: a busy
channel delays only itself.
"""

from __future__ import annotations

import asyncio

POST, UPDATE = "post", "update"


class ChannelPacer:
    def __init__(self, interval: float = 1.0, update_interval: float | None = None) -> None:
        self.intervals = {POST: interval, UPDATE: interval if update_interval is None else update_interval}
        self._next: dict[tuple[str, str], float] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    @property
    def interval(self) -> float:
        return self.intervals[POST]

    async def wait(self, channel: str, kind: str = POST) -> None:
        """Return when a post (or, with ``kind=UPDATE``, an edit) in ``channel`` may be made, and
        reserve that slot."""
        slot = (kind, channel)
        lock = self._locks.setdefault(slot, asyncio.Lock())
        async with lock:
            loop = asyncio.get_running_loop()
            delay = self._next.get(slot, 0.0) - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next[slot] = loop.time() + self.intervals[kind]
