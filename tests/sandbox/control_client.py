"""A thin JSON client for the sandbox's ``/control/`` API, used by the sandbox tests."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp


class Control:
    """Thin JSON client for ``/control/``: returns (status, body)."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        async with self.session.get(f"{self.base}{path}", params=params) as resp:
            body = await resp.json()
            assert resp.status == 200, body
            return body

    async def post(self, path: str, body: dict[str, Any] | None = None, expect: int = 200) -> dict[str, Any]:
        async with self.session.post(f"{self.base}{path}", json=body or {}) as resp:
            data = await resp.json()
            assert resp.status == expect, (resp.status, data)
            return data


async def eventually(check: Callable[[], Awaitable[bool]] | Callable[[], bool], timeout: float = 3.0) -> None:
    """Poll until ``check`` holds: the app finishes its work after acknowledging, not before."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
