"""A background task of the bot never dies silently (issue 10, item 5): a crash is logged, the
task restarted with backoff, and /healthz answers 503 until it works again."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from bot import failpoints
from tests.bot.conftest import Harness, Slack
from tests.sandbox.control_client import eventually


@pytest.fixture
def notifier_failpoint() -> Iterator[None]:
    yield
    failpoints.disarm("notifier.step")


async def _health(harness: Harness) -> tuple[int, dict[str, Any]]:
    assert harness.bot is not None and harness.bot.health_port
    async with aiohttp.ClientSession(trust_env=False) as session, session.get(
            f"http://127.0.0.1:{harness.bot.health_port}/healthz") as resp:
        return resp.status, await resp.json()


async def test_a_crashing_notifier_is_restarted_and_healthz_reports_it(
        harness: Harness, slack: Slack, notifier_failpoint: None, caplog: pytest.LogCaptureFixture) -> None:
    status, body = await _health(harness)
    assert status == 200 and body["ok"] and body["tasks"]["notifier"]["healthy"], body

    failpoints.arm("notifier.step")  # every step raises, restarted or not, until disarmed
    seen: dict[str, Any] = {}

    async def unhealthy() -> bool:
        seen["status"], seen["body"] = await _health(harness)
        return seen["status"] == 503 and seen["body"]["tasks"]["notifier"]["crashes"] >= 2

    with caplog.at_level(logging.ERROR, logger="bot.health"):
        await eventually(unhealthy, 10)
    notifier = seen["body"]["tasks"]["notifier"]
    assert not seen["body"]["ok"] and not notifier["healthy"] and "FailpointHit" in notifier["last_error"]
    assert any("notifier crashed" in r.getMessage() for r in caplog.records)  # logged, with its traceback

    failpoints.disarm("notifier.step")

    async def healthy() -> bool:
        seen["status"], seen["body"] = await _health(harness)
        return seen["status"] == 200

    await eventually(healthy, 10)  # restarted after its backoff, and reading the stream again
    assert seen["body"]["tasks"]["notifier"]["healthy"]
    await slack.command("U0ALICE", "gate-demo")  # and it works: a new run gets its card and gate
    card = await slack.wait_card("Gate demo")
    await slack.wait_gate(card["ts"])
