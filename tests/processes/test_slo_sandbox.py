"""slo-setup through Slack (the sandbox), in Socket Mode and HTTP mode: /run, card, gate, files."""

from __future__ import annotations

import json

import pytest
from redis.asyncio import Redis

from bot.schedule_store import ScheduleStore
from engine.client import ShepherdClient
from tests.bot.conftest import Harness, Slack, control, harness, server, slack  # noqa: F401 - fixtures
from tests.helpers import wait_for
from tests.processes.conftest import needs_promtool
from tests.sandbox.control_client import Control, eventually

pytestmark = needs_promtool
WAIT = 60.0  # promtool's unit tests take a few seconds on a shared machine


@pytest.fixture(autouse=True)
def unconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PROMETHEUS_URL", "PROMETHEUS_RULES_DIR"):
        monkeypatch.delenv(name, raising=False)


async def test_invalid_target_in_slack_is_refused_without_a_run(harness: Harness, slack: Slack,  # noqa: F811
                                                                client: ShepherdClient) -> None:
    await slack.command("U0ALICE", "slo-setup service=checkout target=100")
    await slack.wait_ephemeral("U0ALICE", "input 'target': must be a percentage between 0 and 100 exclusive")
    assert await client.list_runs() == []


async def test_slo_setup_through_slack(harness: Harness, slack: Slack, control: Control,  # noqa: F811
                                       client: ShepherdClient, redis: Redis) -> None:
    await slack.command("U0ALICE", "slo-setup service=checkout target=99.9")
    card = await slack.wait_card("SLO setup", "<@U0ALICE>")

    async def gate_posted() -> bool:
        return any("Apply the checkout availability SLO" in json.dumps(m.get("blocks", []))
                   for m in await slack.thread(card["ts"]))

    await eventually(gate_posted, WAIT)
    gate = next(m for m in await slack.thread(card["ts"])
                if "Apply the checkout availability SLO" in json.dumps(m.get("blocks", [])))
    assert "0.001 (43.2 min)" in json.dumps(gate["blocks"])  # the facts the reviewer decides on
    refused = await control.post("/actions", {"user": "U0ALICE", "channel": "C0OPS", "ts": gate["ts"],
                                              "action_id": "shepherd_approve"})
    assert refused["acked"]
    await slack.wait_ephemeral("U0ALICE", "Four-eyes gate: the requester of a run cannot approve")
    await control.post("/actions", {"user": "U0BOB", "channel": "C0OPS", "ts": gate["ts"],
                                    "action_id": "shepherd_approve"})
    [run_summary] = await client.list_runs()
    run = await wait_for(client, run_summary["id"], timeout=WAIT)
    assert run.status == "completed", run.meta.get("error")

    wanted = {"slo-checkout-availability.yml", "slo-checkout-availability.test.yml",
              "slo-checkout-availability-error-budget-policy.md"}

    async def files_posted() -> bool:
        return wanted <= {f["name"] for f in (await control.get("/files"))["files"]}

    await eventually(files_posted, WAIT)
    [schedule] = await ScheduleStore(redis).all()
    assert (schedule.process, schedule.channel, schedule.creator) == ("slo-review", "C0OPS", "U0ALICE")

    async def said(text: str) -> bool:
        return text in json.dumps(await slack.thread(card["ts"]))

    for text in ("Not applied: PROMETHEUS_RULES_DIR is not set", f"Scheduled the SLO review `{schedule.id}`"):
        await eventually(lambda text=text: said(text), WAIT)


async def test_run_help_lists_the_slo_processes(harness: Harness, slack: Slack) -> None:  # noqa: F811
    await slack.command("U0ALICE", "help")
    said = await slack.wait_ephemeral("U0ALICE", "slo-setup service=... target=...")
    assert any("slo-review service=... target=..." in text and "Define a service level objective" in text
               for text in said), said


async def test_a_service_named_payload_starts_in_both_transports(harness: Harness, slack: Slack,  # noqa: F811
                                                                 client: ShepherdClient) -> None:
    """Issue 10's text: Bolt took any form containing "payload" for an interaction (404 over HTTP)."""
    await slack.command("U0ALICE", "slo-setup service=payload-api target=99.9")
    await slack.wait_ephemeral("U0ALICE", "Started *SLO setup*")
    [run] = await client.list_runs()
    created = (await client.store.read_journal(run["id"]))[0]
    assert (created["inputs"]["service"], created["inputs"]["target"]) == ("payload-api", 99.9)
