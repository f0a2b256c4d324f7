"""``shepherd sandbox`` points the worker's own Slack client at the sandbox, so processes that
create channels and post updates (incident-response) work there as they would in Slack."""

from __future__ import annotations

import os

import aiohttp
import pytest

from sandbox import SandboxServer
from shepherd.launcher import Stack, worker_slack_env
from tests.sandbox.control_client import Control, eventually


async def test_an_incident_gets_its_channel_in_the_sandbox(stack: Stack) -> None:
    async with aiohttp.ClientSession(trust_env=False) as session:
        control = Control(session, f"{stack.server.url}/control")
        result = await control.post("/commands", {"user": "U0ALICE", "channel": "C0OPS", "command": "/run",
                                                  "text": 'incident-response SEV-4 title="Stale prices"'})
        assert result["acked"], result

        async def channel_opened() -> bool:
            names = [c["name"] for c in (await control.get("/channels"))["channels"]]
            return any(n.startswith("inc-") and n.endswith("-stale-prices") for n in names)

        await eventually(channel_opened, 20)


async def test_the_environment_is_put_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.setenv("SLACK_API_URL", "https://slack.example/api/")
    async with SandboxServer(port=0) as server:
        with worker_slack_env(server):
            assert os.environ["SLACK_BOT_TOKEN"] == server.bot_token
            assert os.environ["SLACK_API_URL"] == server.api_url
    assert "SLACK_BOT_TOKEN" not in os.environ and os.environ["SLACK_API_URL"] == "https://slack.example/api/"
