"""incident-response from the terminal, with neither Slack nor PagerDuty configured: every step
that could not act says so plainly, and the run still goes from declaration to resolution."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from engine.client import ShepherdClient
from engine.settings import Settings
from tests.helpers import ROOT, wait_for
from tests.processes.incident_fixtures import no_integrations, open_gate  # noqa: F401 - fixture


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No warm coroutines: every wake replays the process from the top, proving it deterministic."""
    return settings.model_copy(update={"replay_cache_size": 0})


async def shepherd(redis_url: str, *argv: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update({"REDIS_URL": redis_url, "PYTHONPATH": str(ROOT), "SHEPHERD_USER": "alice"})
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "shepherd.cli", *argv, env=env, cwd=ROOT,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def test_sev3_from_the_terminal_without_integrations(worker: object, client: ShepherdClient, redis_url: str,
                                                           no_integrations: None,  # noqa: F811
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHEPHERD_INCIDENT_CADENCE_SECONDS", "0.2")
    started = await shepherd(redis_url, "run", "incident-response", "sev-3", "title=Disk full on db-2",
                             "service=postgres")
    run_id = started.split()[2]
    roles = await open_gate(client, run_id, "who takes which role")
    await shepherd(redis_url, "answer", run_id, roles, "commander=alice", "tech_lead=bob")
    update = await open_gate(client, run_id, "status update #1")
    await shepherd(redis_url, "answer", run_id, update, "status=Deleted old WAL files", "mitigated=yes")
    await shepherd(redis_url, "approve", run_id, await open_gate(client, run_id, "mitigated?"))
    await shepherd(redis_url, "approve", run_id, await open_gate(client, run_id, "resolve the incident?"))
    run = await wait_for(client, run_id)
    assert run.status == "completed", run
    status = await shepherd(redis_url, "status", run_id)
    assert "Slack is not configured on the worker (SLACK_BOT_TOKEN): no incident channel was created" in status
    assert "SEV-3: no page (policy)" in status and "SEV-3: no postmortem required" in status
    assert "Resolved. TTA" in status and "timeline.md" in status
    incident = next(n for n in run.notes if "declared" in n).split("*")[1]
    assert incident.startswith("INC-") and incident.count("-") == 2


async def test_sev1_unpaged_says_who_to_page(worker: object, client: ShepherdClient,
                                             no_integrations: None) -> None:  # noqa: F811
    run_id = await client.start("incident-response", {"severity": "SEV-1", "title": "Payments down"},
                                requester="alice")
    roles = await open_gate(client, run_id, "who takes which role")
    await client.answer(run_id, roles, user="alice", values={"commander": "alice", "tech_lead": "bob"})
    for _ in range(500):  # the roles are in: the run now waits out the first 15-minute update interval
        run = await client.view(run_id)
        if any(step.key == "cadence-1" for step in run.steps):
            break
        await asyncio.sleep(0.02)
    assert [s.state for s in run.steps if s.key == "cadence-1"] == ["pending"], run
    assert "⚠️ Nobody was paged: set PAGERDUTY_ROUTING_KEY or SHEPHERD_INCIDENT_ONCALL_GROUP. " \
           "Page on-call yourself now." in run.notes
    assert ("No exec channel is configured (SHEPHERD_INCIDENT_EXEC_CHANNEL): tell leadership yourself."
            in run.notes)
    await client.cancel(run_id, by="alice")


async def test_rejections_replan_and_review_is_bounded(worker: object, client: ShepherdClient,
                                                       no_integrations: None,  # noqa: F811
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHEPHERD_INCIDENT_CADENCE_SECONDS", "0.1")
    monkeypatch.setenv("SHEPHERD_INCIDENT_REVIEW_ROUNDS", "1")
    run_id = await client.start("incident-response", {"severity": "SEV-3", "title": "Login errors",
                                                      "customer_facing": True}, requester="alice")
    await client.answer(run_id, await open_gate(client, run_id, "who takes which role"), user="alice",
                        values={"commander": "bob", "tech_lead": "carol"})
    await client.answer(run_id, await open_gate(client, run_id, "status update #1"), user="bob",
                        values={"status": "Restarted auth", "mitigated": True})
    # "Not mitigated" sends the commander back to the updates.
    await client.decide(run_id, await open_gate(client, run_id, "mitigated?"), user="bob", approve=False,
                        comment="errors are back")
    await client.answer(run_id, await open_gate(client, run_id, "status update #2"), user="bob",
                        values={"status": "Rolled back auth", "mitigated": True})
    await client.decide(run_id, await open_gate(client, run_id, "mitigated?"), user="bob", approve=True)
    await client.decide(run_id, await open_gate(client, run_id, "resolve the incident?"), user="bob", approve=True)
    await client.answer(run_id, await open_gate(client, run_id, "postmortem details"), user="bob",
                        values={"summary": "Auth release broke logins.", "impact": "Logins failed."})
    await client.answer(run_id, await open_gate(client, run_id, "action item #1"), user="bob", values={})
    await client.decide(run_id, await open_gate(client, run_id, "revision 1"), user="carol", approve=False,
                        comment="no timeline detail")
    await client.answer(run_id, await open_gate(client, run_id, "revise the postmortem"), user="bob",
                        values={"summary": "Auth release 7 broke logins.", "impact": "Logins failed."})
    await client.decide(run_id, await open_gate(client, run_id, "revision 2"), user="carol", approve=False)
    run = await wait_for(client, run_id)
    assert run.status == "completed", run
    # "bob" is a terminal name, not a Slack user id: shown as a name, never as a broken <@bob> mention
    assert "Not mitigated yet (bob: errors are back); status updates continue" in run.notes
    assert any("was not approved after 2 reviews" in n for n in run.notes), run.notes
    assert "No action items were recorded." in run.notes
    assert [a["name"] for a in run.artifacts][-2:] == [f"{run.notes[0].split('*')[1]}-postmortem-r1.md",
                                                       f"{run.notes[0].split('*')[1]}-postmortem-r2.md"]
