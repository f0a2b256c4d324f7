"""Cancelling an incident stops the page: `/run cancel` resolves PagerDuty and tells the channel.

The sandbox Slack, the real bot (both transports), a real worker, a fake PagerDuty that checks
every event it is sent.
"""

from __future__ import annotations

from datetime import UTC, datetime

from engine.client import ShepherdClient
from sandbox import SandboxServer
from state.store import RunStore
from tests.bot.conftest import Harness, Slack
from tests.processes.incident_fixtures import (  # noqa: F401 - fixtures
    FakePagerDuty,
    People,
    control,
    harness,
    pagerduty,
    server,
    slack,
    worker_slack,
)
from tests.sandbox.control_client import Control, eventually

TODAY = datetime.now(UTC).strftime("%Y%m%d")


async def test_cancelling_a_paged_incident_resolves_the_page(
        harness: Harness, slack: Slack, control: Control, client: ShepherdClient,  # noqa: F811
        pagerduty: FakePagerDuty, worker_slack: SandboxServer) -> None:  # noqa: F811
    people = People(slack, control, client)
    run_id = await people.declare("U0ALICE", "incident-response SEV-2 title='Search is slow'")
    incident = f"INC-{TODAY}-1"

    async def paged() -> bool:  # paged, while the roles question is still open
        steps = (await client.view(run_id)).steps
        return pagerduty.actions() == [("trigger", incident)] and any(
            s.name.endswith("page_oncall") and s.state == "done" for s in steps)

    await eventually(paged, 15)

    # Only the requester may cancel; a reason is optional and reaches the channel.
    await slack.command("U0BOB", f"cancel {run_id}")
    await slack.wait_ephemeral("U0BOB", "Only the requester (<@U0ALICE>) can cancel this run")
    await slack.command("U0ALICE", f"cancel {run_id} duplicate of INC-42")
    await slack.wait_ephemeral("U0ALICE", f"Cancelled run {run_id} (its clean-up step is queued)")

    async def released() -> bool:
        return ("resolve", incident) in pagerduty.actions()

    await eventually(released, 15)
    assert pagerduty.actions() == [("trigger", incident), ("resolve", incident)]
    assert pagerduty.incidents == {incident: "resolved"}

    channel = (await control.get(f"/channels/inc-{TODAY}-search-is-slow"))["channel"]

    async def announced() -> list[str]:
        texts = [m["text"] for m in (await control.get(f"/channels/{channel['id']}/messages"))["messages"]]
        return [t for t in texts if "was cancelled" in t]

    await eventually(announced, 15)
    assert await announced() == [f"⊘ *{incident}* was cancelled by <@U0ALICE>: duplicate of INC-42. "
                                 f"PagerDuty resolve sent for {incident}."]

    run = await client.view(run_id)
    assert run.status == "cancelled"
    cleanup = [s for s in run.steps if s.key == "@on_cancel"]
    assert [(s.name.rsplit(".", 1)[-1], s.state) for s in cleanup] == [("release_incident", "done")]
    events = [(e["type"], e.get("key")) for e in await RunStore(client.redis).read_journal(run_id)]
    assert events.count(("run_cancelled", None)) == 1
    assert events[events.index(("run_cancelled", None)) + 1:] == [
        ("effect_requested", "@on_cancel"), ("effect_resolved", "@on_cancel")], events

    async def threaded() -> bool:  # the run's thread shows the clean-up, after the cancel
        replies = [m.get("text", "") for m in await slack.thread(people.card_ts)]
        return any("release_incident" in t and "done" in t for t in replies)

    await eventually(threaded, 15)
