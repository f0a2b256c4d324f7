"""Slack's 429s, retried after their ``Retry-After``, with the wait going through one function.

slack_sdk's ``AsyncRateLimitErrorRetryHandler`` sleeps with ``asyncio.sleep`` itself; ours takes
the sleep as a parameter so tests can answer with Slack's realistic ``Retry-After: 30`` and still
run in seconds (and see how long the bot meant to wait). Otherwise it is the same rule: retry
only a 429, after the number of seconds Slack asked for, plus up to a second of jitter so
replicas refused together do not all come back in the same instant.
https://api.slack.com/apis/rate-limits#headers
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

log = logging.getLogger(__name__)


class RateLimitRetry(AsyncRetryHandler):
    def __init__(self, max_retry_count: int = 3, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.sleep = sleep
        self.waits: list[float] = []
        """Every wait asked for, in seconds (the latest few hundred): what tests check."""

    async def _can_retry_async(self, *, state: RetryState, request: HttpRequest,
                               response: HttpResponse | None = None, error: Exception | None = None) -> bool:
        return response is not None and response.status_code == 429

    async def prepare_for_next_attempt_async(self, *, state: RetryState, request: HttpRequest,
                                             response: HttpResponse | None = None,
                                             error: Exception | None = None) -> None:
        if response is None:
            raise error or RuntimeError("no response to retry")
        state.next_attempt_requested = True
        header = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), None)
        values = header if isinstance(header, list) else [] if header is None else [header]
        raw = values[0] if values else None
        try:
            seconds = float(raw) if raw is not None else 1.0
        except (TypeError, ValueError):
            seconds = 1.0
        wait = max(0.0, seconds) + random.random()
        self.waits = [*self.waits[-299:], wait]
        log.info("Slack rate limit on %s: waiting %.1f s", request.url.rsplit("/", 1)[-1], wait)
        await self.sleep(wait)
        state.increment_current_attempt()
