"""Fixtures: a sandbox on an ephemeral port, the real slack_sdk clients pointed at it, and a
small client for the control API. Timing knobs are shortened so timeout paths stay fast."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SandboxServer
from tests.sandbox.control_client import Control

# slack_sdk reads these and ignores NO_PROXY: a proxy must never see loopback test traffic.
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_name, None)

ACK_TIMEOUT = 1.0
"""Slack's is 3 s; 1 s keeps timeout paths quick with headroom for a loaded machine."""


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(port=0, ack_timeout=ACK_TIMEOUT, connect_wait=2.0, disconnect_grace=1.0) as sb:
        yield sb


@pytest.fixture
def web(server: SandboxServer) -> AsyncWebClient:
    return AsyncWebClient(token=server.bot_token, base_url=server.api_url)


@pytest.fixture
async def control(server: SandboxServer) -> AsyncIterator[Control]:
    async with aiohttp.ClientSession(trust_env=False) as session:
        yield Control(session, server.control_url)
