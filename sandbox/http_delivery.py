"""Signed HTTP delivery to an HTTP-mode app (the ``request_url`` of a Slack app config).

Bodies are encoded as Slack encodes them: slash commands as a form, interactions as a form
with one ``payload`` field holding JSON, Events API callbacks as JSON. Each POST is signed,
must be answered with 200 within the ack timeout, and its status and latency are recorded.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp

from sandbox.config import SandboxConfig
from sandbox.records import Attempt
from sandbox.signing import signed_headers

USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


def encode_body(kind: str, payload: dict[str, Any]) -> tuple[bytes, str]:
    """The body and Content-Type Slack uses for each kind of request."""
    if kind == "slash_commands":
        fields = {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in payload.items()}
        return urlencode(fields).encode(), "application/x-www-form-urlencoded"
    if kind == "interactive":
        return urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"
    return json.dumps(payload).encode(), "application/json"


def parse_ack(body: str, content_type: str) -> dict[str, Any] | None:
    """An HTTP answer as an ack payload: empty -> None, JSON -> dict, other text -> ``{"text": ...}``."""
    if not body.strip():
        return None
    if content_type == "application/json" or body.lstrip().startswith("{"):
        try:
            parsed = json.loads(body)
        except json.JSONDecodeError:
            return {"text": body}
        return parsed if isinstance(parsed, dict) else {"text": body}
    return {"text": body}


class HttpDelivery:
    """POSTs to the app with one shared client session (opened lazily, closed on shutdown)."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None

    async def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # trust_env=False: proxies set for the outside world must not capture local deliveries
            self._session = aiohttp.ClientSession(trust_env=False)
        return self._session

    async def post(self, url: str, kind: str, payload: dict[str, Any], *, number: int, retry_reason: str | None,
                   signing: str) -> tuple[Attempt, dict[str, Any] | None]:
        body, content_type = encode_body(kind, payload)
        headers = {"Content-Type": content_type, "User-Agent": USER_AGENT, "Accept": "application/json,*/*"}
        headers.update(signed_headers(self.config.signing_secret, body, signing))
        if number:
            headers.update({"X-Slack-Retry-Num": str(number), "X-Slack-Retry-Reason": retry_reason or ""})
        attempt = Attempt(number, "http", retry_reason=retry_reason, signing=signing, headers=headers)
        started = time.monotonic()
        session = await self._client()
        ack: dict[str, Any] | None = None
        try:
            timeout = aiohttp.ClientTimeout(total=self.config.ack_timeout)
            async with session.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False) as resp:
                text = await resp.text()
                attempt.http_status = resp.status
                if resp.status == 200:
                    attempt.outcome = "acked"
                    ack = parse_ack(text, resp.content_type)
                else:
                    attempt.outcome, attempt.error = "http_error", text[:500]
        except TimeoutError:
            attempt.outcome = "timeout"
        except aiohttp.ClientError as exc:
            attempt.outcome, attempt.error = "connection_failed", f"{type(exc).__name__}: {exc}"
        attempt.latency_ms = round((time.monotonic() - started) * 1000, 1)
        return attempt, ack

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
