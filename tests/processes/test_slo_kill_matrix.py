"""The kill matrix of slo-setup: a real worker process SIGKILLed right after each outside call once
the rules are approved (the rule file written, Prometheus reloaded, the branch pushed, the pull
request opened), then a fresh worker finishes the run.

Every run completes, and the outside world holds each effect once: the rule file as generated,
loaded by the real Prometheus, one branch with one commit at the (local) origin, one pull request
at the fake GitHub.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from engine.client import ShepherdClient
from processes.slo.repo import branch_name
from state.store import RunStore
from tests.helpers import check_journal, stop_worker, wait_for, wait_for_gate, worker_env
from tests.killing import KILLED, logs, wait_dead_leases, wait_exit
from tests.processes.conftest import Prometheus, exporter, needs_prometheus, needs_promtool, prometheus  # noqa: F401
from tests.processes.test_slo_repo import (  # noqa: F401 - fixtures
    GITHUB_URL,
    TOKEN,
    FakeGitHub,
    Repos,
    git,
    github,
    map_github_to,
    repos,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180), needs_promtool, needs_prometheus]

POINTS = ["slo.rules_written:1", "slo.prometheus_reloaded:1", "slo.branch_pushed:1", "slo.pull_request_opened:1"]


@pytest.mark.parametrize("point", POINTS)
async def test_a_worker_killed_after_each_call_of_slo_setup(point: str, redis: Redis, redis_url: str,
                                                            tmp_path: Path, spawn: Any, client: ShepherdClient,
                                                            prometheus: Prometheus, repos: Repos,  # noqa: F811
                                                            github: FakeGitHub,  # noqa: F811
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    map_github_to(repos.origin, repos.home)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("PROMETHEUS_URL", prometheus.url)
    monkeypatch.setenv("PROMETHEUS_RULES_DIR", str(prometheus.rules_dir))
    monkeypatch.delenv("SHEPHERD_SLO_MAX_REPLANS", raising=False)
    run_id = await client.start("slo-setup", {"service": "checkout", "target": 99.9, "repo": GITHUB_URL},
                                requester="alice")
    first = spawn(worker_env(redis_url, tmp_path / "data", failpoints=point), "first")
    second = None
    try:
        gate = await wait_for_gate(client, run_id, timeout=90)
        await client.decide(run_id, gate["key"], user="bob", approve=True, comment="lgtm")
        assert await wait_exit(first, 90, tmp_path) == KILLED, f"{point} was never reached\n{logs(tmp_path)}"
        await wait_dead_leases(redis, [run_id], first.pid)
        second = spawn(worker_env(redis_url, tmp_path / "data"), "second")
        run = await wait_for(client, run_id, timeout=90)
    finally:
        if second is not None:
            stop_worker(second)
    assert run.status == "completed", f"{run}\n{logs(tmp_path)}"
    check_journal(await RunStore(redis).read_journal(run_id))
    result = json.loads(run.meta["result"])

    rules = prometheus.rules_dir / "slo-checkout-availability.yml"
    assert result["applied_to"] == str(rules) and result["reloaded"] is True
    assert [p.name for p in prometheus.rules_dir.iterdir()] == [rules.name]
    branch = branch_name("checkout", f"{run_id}:repo")
    assert result["branch"] == branch
    assert git("rev-list", "--count", f"main..{branch}", cwd=repos.origin) == "1"  # one commit, pushed once
    assert rules.read_text() == git("show", f"{branch}:rules/{rules.name}", cwd=repos.origin) + "\n"
    assert [r["method"] for r in github.requests].count("POST") == 1 and len(github.pulls) == 1
    assert result["pull_request"] == github.pulls[0]["html_url"]
