"""Action items filed as GitHub issues where configured (a local server checks the requests)."""

from __future__ import annotations

import json

import pytest
from redis.asyncio import Redis

from engine import TaskContext
from engine.client import ShepherdClient
from processes.incident.models import IssueArgs
from processes.incident.tasks import file_issue
from tests.helpers import wait_for
from tests.processes.incident_fixtures import (  # noqa: F401 - fixtures
    GITHUB_REPO,
    GITHUB_TOKEN,
    FakeGitHub,
    github,
    open_gate,
)


async def test_action_items_become_issues_once(worker: object, client: ShepherdClient, redis: Redis,
                                               github: FakeGitHub) -> None:  # noqa: F811
    run_id = await client.start("incident-response", {"severity": "SEV-4", "title": "Stale prices",
                                                      "customer_facing": True}, requester="alice")
    await client.answer(run_id, await open_gate(client, run_id, "who takes which role"), user="alice",
                        values={"commander": "bob", "tech_lead": "carol"})
    await client.decide(run_id, await open_gate(client, run_id, "mitigated?"), user="bob", approve=True)
    await client.decide(run_id, await open_gate(client, run_id, "resolve the incident?"), user="bob", approve=True)
    await client.answer(run_id, await open_gate(client, run_id, "postmortem details"), user="bob",
                        values={"summary": "Cache TTL too long.", "impact": "Old prices shown for 1h."})
    await client.answer(run_id, await open_gate(client, run_id, "action item #1"), user="bob",
                        values={"title": "Cap the price cache TTL", "owner": "carol", "due": "2030-03-01"})
    await client.decide(run_id, await open_gate(client, run_id, "revision 1"), user="carol", approve=True)
    run = await wait_for(client, run_id)
    assert run.status == "completed", run
    incident = json.loads(run.meta["result"])["incident"]
    issue_step = next(s.key for s in run.steps if s.name.endswith("file_issue"))
    assert github.created() == [{
        "method": "POST", "path": f"/repos/{GITHUB_REPO}/issues", "authorization": f"Bearer {GITHUB_TOKEN}",
        "accept": "application/vnd.github+json",
        "body": {"title": f"[{incident}] Cap the price cache TTL", "labels": ["incident-action-item"],
                 "body": f"Action item 1 from incident {incident}.\n\n- Owner (Slack): <@carol>\n- Due: 2030-03-01\n"
                         f"\n<!-- shepherd-effect: {run_id}:{issue_step} -->\n"}}]
    url = f"https://github.com/{GITHUB_REPO}/issues/1"
    assert f"Action item 1 filed: {url}" in run.notes
    assert json.loads(run.meta["result"])["action_items"][0]["issue"] == url

    # Delivered again: the recorded issue comes back, nothing is filed twice.
    async def beat() -> None:
        return None

    args = IssueArgs(incident_id=incident, item=json.loads(run.meta["result"])["action_items"][0], number=1)
    again = await file_issue.fn(args, TaskContext(run_id=run_id, step="issue-1", attempt=2, heartbeat=beat,
                                                  redis=redis))
    assert again.url == url and len(github.created()) == 1


async def test_an_issue_filed_before_the_worker_died_is_found_not_filed_again(
        redis: Redis, github: FakeGitHub) -> None:  # noqa: F811
    """The worker died after GitHub filed the issue and before anything was recorded: the next
    delivery finds the issue by its marker (a listing, as GitHub's own state) and files nothing."""
    async def beat() -> None:
        return None

    args = IssueArgs(incident_id="INC-20300101-1", number=1, item={"title": "Add a canary", "owner": "bob",
                                                                   "due": "2030-01-01"})
    for n in range(120):  # other issues with the label, so the marker's issue is on the second page
        github.issues.append({"number": n + 1, "title": f"older {n}", "body": "", "state": "closed",
                              "labels": [{"name": "incident-action-item"}], "html_url": f"u{n}"})
    first = await file_issue.fn(args, TaskContext(run_id="r9", step="issue-1", attempt=1, heartbeat=beat,
                                                  redis=redis))
    for n in range(120, 130):  # newer ones filed meanwhile
        github.issues.append({"number": n + 2, "title": f"newer {n}", "body": "", "state": "open",
                              "labels": [{"name": "incident-action-item"}], "html_url": f"u{n}"})
    await redis.flushdb()  # what a worker killed before recording leaves: no record at all
    again = await file_issue.fn(args, TaskContext(run_id="r9", step="issue-1", attempt=2, heartbeat=beat,
                                                  redis=redis))
    assert first.filed and again.filed and again.url == first.url
    assert len(github.created()) == 1


async def test_refused_issue_is_reported(redis: Redis, github: FakeGitHub,  # noqa: F811
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHEPHERD_INCIDENT_GITHUB_REPO", "acme/elsewhere")

    async def beat() -> None:
        return None

    result = await file_issue.fn(IssueArgs(incident_id="INC-1", number=2, item={
        "title": "x", "owner": "bob", "due": "2030-01-01"}), TaskContext(run_id="r", step="s", attempt=1,
                                                                          heartbeat=beat, redis=redis))
    assert not result.filed
    assert result.detail == ("⚠️ Action item 2 not filed: GitHub could not list the issues of acme/elsewhere (404): "
                             "Not Found")
    assert GITHUB_TOKEN not in result.detail
