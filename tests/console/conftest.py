"""Fixtures for the browser tests: the whole ``shepherd sandbox`` stack in-process, and Chromium.

The stack is ``shepherd.launcher.run`` itself (sandbox server, the real bot over Socket Mode, an
engine worker) on the test's Redis; the browser is Debian's chromium driven by playwright
(``.ci/run`` installs it; ``playwright install`` is never used: there is no internet).
"""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright
from redis.asyncio import Redis

from engine.settings import Settings
from shepherd import launcher
from shepherd.launcher import Stack

CHROMIUM = os.environ.get("SHEPHERD_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 15_000
"""How long an assertion waits for the screen to show something (the bot posts asynchronously)."""


@pytest.fixture
async def stack(redis: Redis, settings: Settings) -> AsyncIterator[Stack]:
    """``shepherd sandbox`` on a free port, stopped (and checked to stop cleanly) after the test."""
    stop = asyncio.Event()
    started: asyncio.Future[Stack] = asyncio.get_running_loop().create_future()
    out = io.StringIO()
    task = asyncio.create_task(launcher.run(settings, port=0, stop=stop, ready=started.set_result, out=out,
                                            handle_signals=False))
    await asyncio.wait({task, started}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if not started.done():
        if task.done():
            task.result()  # raises what went wrong
        task.cancel()
        raise AssertionError(f"shepherd sandbox did not start in 30 s:\n{out.getvalue()}")
    yield started.result()
    stop.set()
    assert await asyncio.wait_for(task, 60) == 0
    assert "stopped." in out.getvalue()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        await chromium.close()


class Console:
    """One browser tab on the console, failing the test on any JavaScript error."""

    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    async def open(self, user: str = "U0ALICE", channel: str = "ops") -> Console:
        await self.page.goto(f"{self.base}/console/?user={user}&channel={channel}")
        await self.page.wait_for_selector("body[data-ready='1']", timeout=WAIT_MS)
        return self

    async def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=False)
        assert path.stat().st_size > 1000
        return path

    def check(self) -> None:
        assert not self.errors, self.errors


@pytest.fixture
async def console_factory(stack: Stack, browser: Browser) -> AsyncIterator[object]:
    consoles: list[Console] = []

    async def make(viewport: dict[str, int] | None = None, user: str = "U0ALICE", channel: str = "ops") -> Console:
        context = await browser.new_context(viewport=viewport or DESKTOP)
        console = Console(await context.new_page(), stack.server.url)
        consoles.append(console)
        return await console.open(user, channel)

    yield make
    for console in consoles:
        console.check()
        await console.page.context.close()
