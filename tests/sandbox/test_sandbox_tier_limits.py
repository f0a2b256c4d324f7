"""Slack's standing rate limits (https://api.slack.com/apis/rate-limits), as the sandbox enforces
them once enabled: chat.postMessage about 1/s per channel with a short burst, other methods per
tier per minute, and a realistic ``Retry-After`` (30 s unless a test says otherwise)."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SandboxServer
from tests.sandbox.control_client import Control


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _refused(call: object) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call  # type: ignore[misc]
    return info.value


async def test_off_by_default(server: SandboxServer, web: AsyncWebClient) -> None:
    for n in range(10):
        assert (await web.chat_postMessage(channel="C0OPS", text=f"{n}"))["ok"]


async def test_posts_are_paced_per_channel_with_a_burst(server: SandboxServer, web: AsyncWebClient,
                                                        control: Control) -> None:
    clock = Clock()
    server.sandbox.tiers.clock = clock
    tiers = (await control.post("/ratelimit/tiers", {"enabled": True, "post_burst": 3}))["tiers"]
    assert tiers["retry_after"] == 30  # what Slack typically sends
    for n in range(3):
        await web.chat_postMessage(channel="C0OPS", text=f"burst {n}")
    refused = await _refused(web.chat_postMessage(channel="C0OPS", text="one too many"))
    assert refused.response.status_code == 429 and refused.response["error"] == "ratelimited"
    assert refused.response.headers["Retry-After"] == "30"
    assert (await web.chat_postMessage(channel="C0GENERAL", text="another channel"))["ok"]  # its own budget
    clock.now += 1.0  # one more post per second
    assert (await web.chat_postMessage(channel="C0OPS", text="a second later"))["ok"]
    await _refused(web.chat_postMessage(channel="C0OPS", text="too soon again"))
    assert (await control.get("/ratelimit"))["tiers"]["refused"] == 2


async def test_tier_methods_per_minute_and_configurable_retry_after(
        server: SandboxServer, web: AsyncWebClient, control: Control) -> None:
    clock = Clock()
    server.sandbox.tiers.clock = clock
    await control.post("/ratelimit/tiers", {"enabled": True, "retry_after": 2, "per_minute": {"3": 2, "4": 3}})
    posted = await web.chat_postMessage(channel="C0OPS", text="card")
    for n in range(2):  # chat.update is Tier 3
        await web.chat_update(channel="C0OPS", ts=posted["ts"], text=f"v{n}")
    refused = await _refused(web.chat_update(channel="C0OPS", ts=posted["ts"], text="v3"))
    assert refused.response.headers["Retry-After"] == "2"
    for _ in range(3):  # views.publish is Tier 4: a budget of its own
        await web.views_publish(user_id="U0ALICE", view={"type": "home", "blocks": []})
    await _refused(web.views_publish(user_id="U0ALICE", view={"type": "home", "blocks": []}))
    clock.now += 60.0  # the minute has passed
    assert (await web.chat_update(channel="C0OPS", ts=posted["ts"], text="v4"))["ok"]


async def test_bad_tier_settings_are_refused(control: Control) -> None:
    async with control.session.post(f"{control.base}/ratelimit/tiers", json={"enable": True}) as resp:
        assert resp.status == 400 and (await resp.json())["error"] == "unknown_settings"
