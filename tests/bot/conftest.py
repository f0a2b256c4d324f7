"""Fixtures for the bot: a sandbox Slack, a real engine worker, and the real bot in either
transport (every test runs in Socket Mode and in HTTP mode)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from bot.app import Bot
from bot.settings import load_bot_settings
from sandbox import SandboxServer
from tests.sandbox.control_client import Control, eventually

for _name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_name, None)  # slack_sdk ignores NO_PROXY: loopback traffic must not meet a proxy

WAIT = 10.0


class Harness:
    """Starts and stops bots against one sandbox, as a fresh process would (new Bot, same Redis)."""

    def __init__(self, server: SandboxServer, redis: Redis, transport: str) -> None:
        self.server, self.redis, self.transport = server, redis, transport
        self.bot: Bot | None = None
        self.generation = 0

    async def start(self, **overrides: Any) -> Bot:
        """A new bot; ``overrides`` are settings (``lock_ttl=1.0``, ``post_interval=1.0`` ...)."""
        self.generation += 1
        auth: dict[str, Any] = ({"app_token": self.server.app_token} if self.transport == "socket"
                                else {"signing_secret": self.server.signing_secret})
        settings = load_bot_settings(**{"bot_token": self.server.bot_token, "api_url": self.server.api_url,
                                        "port": 0, "host": "127.0.0.1", "post_interval": 0.05,
                                        "update_interval": 0.05, "home_interval": 0.2, "health_port": 0,
                                        **auth, **overrides})
        bot = Bot(settings, self.redis, consumer=f"test-bot-{self.generation}")
        await bot.start()
        if self.transport == "http":
            self.server.config.request_url = f"http://127.0.0.1:{bot.port}/slack/events"
        self.bot = bot
        return bot

    async def stop(self) -> None:
        if self.bot is not None:
            await self.bot.stop()
            self.bot = None


@asynccontextmanager
async def replica(harness: Harness) -> AsyncIterator[Bot]:
    """A second bot on the same Redis and sandbox, as a second deployment replica would be."""
    assert harness.bot is not None
    bot = Bot(harness.bot.settings, harness.redis, consumer="test-bot-replica")
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(port=0, connect_wait=2.0, disconnect_grace=0.5) as sb:
        yield sb


@pytest.fixture
async def control(server: SandboxServer) -> AsyncIterator[Control]:
    async with aiohttp.ClientSession(trust_env=False) as session:
        yield Control(session, server.control_url)


@pytest.fixture(params=["socket", "http"])
async def harness(request: pytest.FixtureRequest, server: SandboxServer, redis: Redis,
                  worker: Any) -> AsyncIterator[Harness]:
    h = Harness(server, redis, request.param)
    await h.start()
    yield h
    await h.stop()


class Slack:
    """Reading the sandbox the way a person would look at #ops."""

    def __init__(self, control: Control, channel: str = "C0OPS") -> None:
        self.control, self.channel = control, channel

    async def command(self, user: str, text: str, command: str = "/run") -> dict[str, Any]:
        result = await self.control.post("/commands", {"user": user, "channel": self.channel,
                                                       "command": command, "text": text})
        assert result["acked"], result
        return result

    async def top(self) -> list[dict[str, Any]]:
        return (await self.control.get(f"/channels/{self.channel}/messages"))["messages"]

    async def card(self) -> dict[str, Any] | None:
        cards = [m for m in await self.top() if _event_type(m) == "shepherd_card"]
        assert len(cards) <= 1, cards
        return cards[0] if cards else None

    async def thread(self, ts: str) -> list[dict[str, Any]]:
        return (await self.control.get(f"/channels/{self.channel}/threads/{ts}"))["messages"][1:]

    async def wait_card(self, *needles: str) -> dict[str, Any]:
        found: dict[str, Any] = {}

        async def check() -> bool:
            card = await self.card()
            found["card"] = card
            return card is not None and all(n in json.dumps(card["blocks"]) for n in needles)

        try:
            await eventually(check, WAIT)
        except AssertionError:
            raise AssertionError(f"card never showed {needles}: {found.get('card')}") from None
        return found["card"]

    async def wait_gate(self, card_ts: str) -> dict[str, Any]:
        async def check() -> bool:
            return any(_event_type(m) == "shepherd_gate" for m in await self.thread(card_ts))

        await eventually(check, WAIT)
        return next(m for m in await self.thread(card_ts) if _event_type(m) == "shepherd_gate")

    async def message(self, ts: str) -> dict[str, Any]:
        return next(m for m in await self.top() + await self.all_replies() if m["ts"] == ts)

    async def all_replies(self) -> list[dict[str, Any]]:
        return (await self.control.get(f"/channels/{self.channel}/messages", include_replies="1"))["messages"]

    async def ephemerals(self, user: str) -> list[str]:
        return [e["text"] for e in (await self.control.get(f"/users/{user}/ephemerals"))["ephemerals"]]

    async def wait_ephemeral(self, user: str, needle: str) -> list[str]:
        async def check() -> bool:
            return any(needle in text for text in await self.ephemerals(user))

        try:
            await eventually(check, WAIT)
        except AssertionError:
            raise AssertionError(f"{user} never saw {needle!r}: {await self.ephemerals(user)}") from None
        return await self.ephemerals(user)


def _event_type(message: dict[str, Any]) -> str:
    return (message.get("metadata") or {}).get("event_type", "")


@pytest.fixture
def slack(control: Control) -> Slack:
    return Slack(control)
