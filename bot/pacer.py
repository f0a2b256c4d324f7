"""At most one post per interval per channel (Slack allows about one message per second).

Waiting happens before the notifier reads what to post, so everything that arrived during the
wait goes out in one message: bursts coalesce instead of queueing up.
"""

from __future__ import annotations

import asyncio


class ChannelPacer:
    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._next: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def wait(self, channel: str) -> None:
        """Return when a post to ``channel`` may be made, and reserve that slot."""
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            loop = asyncio.get_running_loop()
            delay = self._next.get(channel, 0.0) - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next[channel] = loop.time() + self.interval
