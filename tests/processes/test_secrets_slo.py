"""No configured secret leaks out of slo-setup (issue 10, item 4), in both transports.

slo-setup reads the live SLI from a Prometheus that insists on its credentials, writes and reloads
the rules, pushes a branch to "GitHub" (a local origin behind git's insteadOf) and opens the pull
request with the GitHub token; the Slack tokens are the sandbox's recognisable ones. Then the logs,
stdout/stderr (git's and promtool's output included), everything in Slack and every Redis value
are searched for every secret.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from engine.client import ShepherdClient
from integrations.prometheus import PrometheusClient, PrometheusError, PrometheusSettings
from sandbox import SandboxServer
from tests.bot.conftest import Harness, Slack, control, harness, slack  # noqa: F401 - fixtures
from tests.helpers import wait_for
from tests.processes.conftest import free_port
from tests.processes.secret_scan import (
    PROMETHEUS_BEARER_TOKEN,
    PROMETHEUS_PASSWORD,
    PROMETHEUS_USER,
    SECRETS,
    FakePrometheus,
    leaks,
    log_text,
    prometheus_with_token,  # noqa: F401 - fixture
    redis_side,
    sandbox_with_recognisable_tokens,
    slack_side,
)
from tests.processes.test_slo_repo import GITHUB_URL, TOKEN, FakeGitHub, Repos, github, map_github_to, repos  # noqa: F401
from tests.sandbox.control_client import Control, eventually

WAIT = 60.0  # promtool's unit tests (where promtool is installed) take a few seconds on a shared machine


@pytest.fixture
async def server() -> AsyncIterator[SandboxServer]:
    async with sandbox_with_recognisable_tokens() as sb:
        yield sb


@pytest.mark.parametrize("credentials", ["bearer token", "password in PROMETHEUS_URL"])
async def test_slo_setup_leaks_no_secret(credentials: str, harness: Harness, slack: Slack, control: Control,  # noqa: F811
                                         server: SandboxServer, client: ShepherdClient, redis: Redis,
                                         redis_url: str, prometheus_with_token: FakePrometheus,  # noqa: F811
                                         github: FakeGitHub, repos: Repos,  # noqa: F811
                                         monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
                                         capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    if credentials != "bearer token":
        monkeypatch.delenv("PROMETHEUS_BEARER_TOKEN")
        monkeypatch.setenv("PROMETHEUS_URL", prometheus_with_token.url.replace(
            "http://", f"http://{PROMETHEUS_USER}:{PROMETHEUS_PASSWORD}@"))
    map_github_to(repos.origin, repos.home)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    secrets = {**SECRETS, "GITHUB_TOKEN": TOKEN}  # the pull-request fake checks its own token
    await slack.command("U0ALICE", f"slo-setup service=checkout target=99.9 repo={GITHUB_URL}")
    card = await slack.wait_card("SLO setup")

    async def gate() -> dict | None:
        return next((m for m in await slack.thread(card["ts"])
                     if "Apply the checkout availability SLO" in json.dumps(m.get("blocks", []))), None)

    await eventually(gate, WAIT)
    await control.post("/actions", {"user": "U0BOB", "channel": "C0OPS", "ts": (await gate())["ts"],
                                    "action_id": "shepherd_approve"})
    [summary] = await client.list_runs()
    run = await wait_for(client, summary["id"], timeout=WAIT)
    assert run.status == "completed", run.meta.get("error")
    result = json.loads(run.meta["result"])

    # Each credential was really used, so its absence below means something.
    assert result["current_sli_percent"] == pytest.approx(99.9) and result["reloaded"], result
    assert result["pull_request"] == "https://github.com/acme/slo-rules/pull/1", result
    assert all(ok for _, _, ok in prometheus_with_token.requests) and len(prometheus_with_token.requests) >= 5

    async def posted() -> bool:
        return "Opened pull request #1" in json.dumps(await slack.thread(card["ts"]))

    await eventually(posted, WAIT)
    places = {"logs": log_text(caplog.records), **await slack_side(control, server), **await redis_side(redis_url)}
    out, err = capfd.readouterr()
    places |= {"stdout": out, "stderr": err}
    assert leaks(places, {"the title": "checkout availability"}), "the scan does not reach the run's text"
    assert sum(":artifact:" in where for where in places) >= 4, "the artifacts (rules, tests, chart, policy)"
    assert not leaks(places, secrets), "\n".join(leaks(places, secrets))


async def test_prometheus_errors_and_config_name_the_url_without_its_password(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Where slo-setup's notes and journal get the URL from: the settings' public URL and the
    client's errors (an unreachable server here) show host and port, never the password."""
    port = free_port()  # nothing listens there
    url = f"http://{PROMETHEUS_USER}:{PROMETHEUS_PASSWORD}@127.0.0.1:{port}"
    monkeypatch.setenv("PROMETHEUS_URL", url)
    monkeypatch.delenv("PROMETHEUS_BEARER_TOKEN", raising=False)
    settings = PrometheusSettings()
    assert settings.public_url == f"http://127.0.0.1:{port}"
    async with PrometheusClient.from_settings(settings) as prom:
        assert prom.url == f"http://127.0.0.1:{port}"
        with pytest.raises(PrometheusError) as failed:
            await prom.query("up")
    assert f"Prometheus at http://127.0.0.1:{port} is unreachable" in str(failed.value)
    assert PROMETHEUS_PASSWORD not in str(failed.value)
    with pytest.raises(PrometheusError, match="set PROMETHEUS_BEARER_TOKEN or a user:password in PROMETHEUS_URL"):
        PrometheusClient(url, bearer_token=PROMETHEUS_BEARER_TOKEN)
