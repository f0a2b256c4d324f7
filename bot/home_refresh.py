"""App Home refreshes off the notifier's path: queued per person, at most one per interval.

The notifier used to wait for every home a sync concerned to be published before it went on, so
a slow ``views.publish`` (Tier 4, https://api.slack.com/methods/views.publish, and a 30 s
``Retry-After`` once refused) held up every card; and each sync of a busy run published the same
homes again (63 publishes to 4 people in one busy minute). Now the notifier only says which run
changed (``run_changed`` returns at once); this task works out whose homes that concerns and
publishes each person's home at most once per ``interval``: the first change at once, the later
ones of the interval together, at its end, from the state at that moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot import failpoints
from bot.home import HomeTab
from state.connection import UNAVAILABLE

log = logging.getLogger(__name__)


class HomeRefresher:
    def __init__(self, home: HomeTab, interval: float = 5.0) -> None:
        self.home, self.interval = home, interval
        self._changed: set[str] = set()
        self._due: dict[str, float] = {}
        """person -> loop time their home is next published."""
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

    async def run_changed(self, run_id: str) -> None:
        """The notifier synced ``run_id``: note it and return at once."""
        self._changed.add(run_id)
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            timeout = max(0.0, min(self._due.values()) - loop.time()) if self._due else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            try:
                await self._step(loop.time())
            except UNAVAILABLE as exc:
                log.warning("home: Redis unavailable (%s); refreshing later", type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 1.0)

    async def _step(self, now: float) -> None:
        failpoints.check("home.refresh")
        changed, self._changed = self._changed, set()
        try:
            for run_id in changed:
                for user in await self.home.affected(run_id):
                    last = self.home.published_at.get(user)
                    self._due.setdefault(user, now if last is None else max(now, last + self.interval))
        except BaseException:
            self._changed |= changed  # looked at again next time
            raise
        due = sorted(user for user, at in self._due.items() if at <= now)
        for user in due:
            del self._due[user]
        try:
            await self.home.refresh(due)
        except BaseException:
            for user in due:
                self._due.setdefault(user, now)
            raise
