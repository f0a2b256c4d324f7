"""One JSON request over a fresh aiohttp session, shared by the small REST clients here.

A session per call keeps a client safe to use from any task and any event loop (tasks run in
whichever worker picks them up). Network failures become the client's own error type, naming the
method and path but never a header, so tokens stay out of messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
from pydantic import SecretStr


def is_set(secret: SecretStr | None) -> bool:
    """A secret setting that holds something (an empty variable counts as unset)."""
    return secret is not None and bool(secret.get_secret_value())


async def request_json(method: str, url: str, *, timeout: float, failed: Callable[[str], Exception],
                       what: str, headers: dict[str, str] | None = None, **kwargs: Any) -> tuple[int, Any]:
    """(status, body): the body parsed as JSON, else its text. ``failed`` builds the error raised
    when the server cannot be reached; ``what`` names the request in it (no secrets)."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout), headers=headers) as session, \
                session.request(method, url, **kwargs) as resp:
            try:
                body: Any = await resp.json(content_type=None)
            except ValueError:
                body = await resp.text()
            return resp.status, body
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise failed(f"did not answer ({what}): {exc.__class__.__name__}") from None
