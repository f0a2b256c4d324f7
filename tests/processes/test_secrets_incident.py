"""No configured secret leaks out of a full incident (issue 10, item 4), in both transports.

Every token setting holds a recognisable value (tests/processes/secret_scan.py): the Slack bot and
app tokens and the signing secret (the sandbox is started with them), PagerDuty's routing key
and API token, the GitHub token (action items become issues) and the Prometheus bearer token.
A SEV-2 runs from `/run` to its approved postmortem; then the logs (DEBUG and up, with
tracebacks), stdout/stderr, everything in Slack and every Redis value are searched for them.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from slack_sdk.web.async_client import AsyncWebClient

from engine.client import ShepherdClient
from sandbox import SandboxServer
from tests.bot.conftest import Harness, Slack
from tests.helpers import check_journal, wait_for
from tests.processes.incident_fixtures import (  # noqa: F401 - fixtures
    FakeGitHub,
    FakePagerDuty,
    People,
    control,
    github,
    harness,
    pagerduty,
    slack,
    worker_slack,
)
from tests.processes.secret_scan import (
    GITHUB_TOKEN,
    PAGERDUTY_ROUTING_KEY,
    PROMETHEUS_BEARER_TOKEN,
    SLACK_APP_TOKEN,
    SLACK_BOT_TOKEN,
    SLACK_SIGNING_SECRET,
    leaks,
    log_text,
    redis_side,
    sandbox_with_recognisable_tokens,
    slack_side,
)
from tests.sandbox.control_client import Control, eventually


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    """The sandbox Slack with recognisable tokens (the bot, the worker and the harness read them from it)."""
    async with sandbox_with_recognisable_tokens() as sb:
        yield sb


@pytest.fixture(autouse=True)
def every_secret_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Prometheus token too: the incident never calls Prometheus, but the worker holds it."""
    monkeypatch.setenv("PROMETHEUS_BEARER_TOKEN", PROMETHEUS_BEARER_TOKEN)


async def test_a_full_incident_leaks_no_secret(harness: Harness, slack: Slack, control: Control,  # noqa: F811
                                               client: ShepherdClient, redis: Redis, redis_url: str,
                                               pagerduty: FakePagerDuty, github: FakeGitHub,  # noqa: F811
                                               worker_slack: SandboxServer,  # noqa: F811
                                               caplog: pytest.LogCaptureFixture,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    assert worker_slack.bot_token == SLACK_BOT_TOKEN
    pagerduty.oncall = [{"escalation_level": 1, "user": {"id": "PCAROL", "name": "Carol Chen",
                                                         "email": "carol@sandbox.example"}}]
    people = People(slack, control, client)
    run_id = await people.declare("U0ALICE", "incident-response SEV-2 title='Checkout is down' service=checkout")
    await people.answer("U0ALICE", "who takes which role", {
        "commander": "U0BOB", "tech_lead": "U0CAROL", "comms_lead": "U0ALICE"})
    await people.answer("U0BOB", "status update #1", {"status": "Rolling back release 42", "mitigated": ["yes"]})
    await people.approve("U0BOB", "is the impact mitigated?")
    await people.approve("U0BOB", "resolve the incident?")
    await people.answer("U0BOB", "postmortem details", {"summary": "Release 42 broke checkout.",
                                                       "impact": "30% of checkouts failed for 20 minutes.",
                                                       "went_badly": "Alerting was late."})
    await people.answer("U0BOB", "action item #1", {"title": "Add a canary stage", "owner": "U0CAROL",
                                                    "due": "2030-01-31"})
    await people.reject("U0CAROL", "Review the postmortem", "Say why alerting was late")
    await people.answer("U0BOB", "reviewer said: Say why alerting was late", {
        "summary": "Release 42 broke checkout.", "impact": "30% of checkouts failed for 20 minutes.",
        "went_badly": "The error-rate alert waits 15 minutes."})
    await people.approve("U0CAROL", "revision 2")
    run = await wait_for(client, run_id, timeout=20)
    assert run.status == "completed", run.meta.get("error")
    check_journal(await client.store.read_journal(run_id))

    # Each secret was really used, so its absence below means something.
    assert [a for a, _ in pagerduty.actions()] == ["trigger", "acknowledge", "resolve"]
    assert len(pagerduty.oncall_queries) == 1
    assert [r["method"] for r in github.requests] == ["GET", "POST"]  # looked for the issue, then filed it
    assert {c["method"] for c in (await control.get("/calls"))["calls"]} >= {"chat.postMessage",
                                                                            "conversations.create"}

    places = {"logs": log_text(caplog.records), **await slack_side(control, worker_slack),
              **await redis_side(redis_url)}
    out, err = capfd.readouterr()
    places |= {"stdout": out, "stderr": err}
    assert len(caplog.records) > 50, "too few log records to prove anything"
    assert leaks(places, {"the title": "Checkout is down"}), "the scan does not reach the run's text"
    assert not leaks(places), "\n".join(leaks(places))


async def test_the_scan_finds_a_secret_planted_in_each_place(server: SandboxServer, control: Control,  # noqa: F811
                                                             redis: Redis, redis_url: str,
                                                             caplog: pytest.LogCaptureFixture,
                                                             capfd: pytest.CaptureFixture[str]) -> None:
    """The search above can fail: a secret in a thread reply, a Redis stream, a hash, a log
    argument or on stderr is found, and named by its place and setting."""
    caplog.set_level(logging.DEBUG)
    web = AsyncWebClient(token=server.bot_token, base_url=server.api_url)
    card = await web.chat_postMessage(channel="C0OPS", text="card")
    await web.chat_postMessage(channel="C0OPS", thread_ts=card["ts"], text=f"key {PAGERDUTY_ROUTING_KEY}")
    await redis.xadd("shepherd:planted", {"line": f"Bearer {PROMETHEUS_BEARER_TOKEN}"})
    await redis.hset("shepherd:{run:planted}:meta", "error", f"GitHub said {GITHUB_TOKEN}")
    logging.getLogger("tests.planted").debug("connecting with %s", SLACK_APP_TOKEN)
    print(f"signing with {SLACK_SIGNING_SECRET}", file=sys.stderr)
    places = {"logs": log_text(caplog.records), **await slack_side(control, server), **await redis_side(redis_url)}
    places["stderr"] = capfd.readouterr().err
    found = {line.split(" …")[0] for line in leaks(places)}
    assert found >= {"slack #ops: PAGERDUTY_ROUTING_KEY", "redis shepherd:planted (stream): PROMETHEUS_BEARER_TOKEN",
                     "redis shepherd:{run:planted}:meta (hash): GITHUB_TOKEN", "logs: SLACK_APP_TOKEN",
                     "stderr: SLACK_SIGNING_SECRET"}, found


async def test_an_incident_on_a_bad_day_leaks_no_secret(harness: Harness, slack: Slack,  # noqa: F811
                                                        control: Control, client: ShepherdClient,  # noqa: F811
                                                        redis_url: str, pagerduty: FakePagerDuty,  # noqa: F811
                                                        worker_slack: SandboxServer,  # noqa: F811
                                                        caplog: pytest.LogCaptureFixture,
                                                        capfd: pytest.CaptureFixture[str]) -> None:
    """Error texts too: PagerDuty answers 503 to every event (the page is retried, then falls back),
    Slack refuses to create the incident channel, and the run is cancelled and cleaned up."""
    caplog.set_level(logging.DEBUG)
    pagerduty.fail_with = 503
    await control.post("/settings", {"refuse_channel_creation": True})
    people = People(slack, control, client)
    run_id = await people.declare("U0ALICE", "incident-response SEV-2 title='Search is slow'")

    async def paged() -> bool:
        return any(s.name.endswith("page_oncall") and s.state == "done" for s in (await client.view(run_id)).steps)

    await eventually(paged, 30)
    await slack.command("U0ALICE", f"cancel {run_id} false alarm")

    async def cleaned_up() -> bool:
        run = await client.view(run_id)
        return run.status == "cancelled" and any(s.key == "@on_cancel" and s.state in ("done", "failed")
                                                 for s in run.steps)

    await eventually(cleaned_up, 30)
    assert [e["event_action"] for e in pagerduty.events].count("trigger") >= 3  # retried with the key each time
    places = {"logs": log_text(caplog.records), **await slack_side(control, worker_slack),
              **await redis_side(redis_url)}
    out, err = capfd.readouterr()
    places |= {"stdout": out, "stderr": err}
    assert leaks(places, {"an error": "(503): try later"}), "the scan does not reach the error texts"
    assert not leaks(places), "\n".join(leaks(places))
