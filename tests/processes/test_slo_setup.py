"""slo-setup run to completion on a real worker, real Redis, real promtool and a real Prometheus."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio import Redis

from engine.client import ShepherdClient
from engine.settings import Settings
from tests.helpers import wait_for, wait_for_gate
from tests.processes.conftest import WAIT, artifact, facts, finish, needs_promtool

pytestmark = needs_promtool


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No warm coroutines: every wake replays the process from the top, proving it deterministic."""
    return settings.model_copy(update={"replay_cache_size": 0})


@pytest.fixture(autouse=True)
def unconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PROMETHEUS_URL", "PROMETHEUS_RULES_DIR", "SHEPHERD_SLO_MAX_REPLANS"):
        monkeypatch.delenv(name, raising=False)


async def test_without_prometheus_it_says_what_it_did_not_do(client: ShepherdClient, worker,
                                                             redis: Redis) -> None:
    run_id = await client.start("slo-setup", {"service": "checkout", "target": 99.9}, requester="alice")
    gate = await wait_for_gate(client, run_id, timeout=WAIT)
    shown = await facts(redis, run_id, gate)
    assert shown["Error budget"] == "0.001 (43.2 min)"
    assert shown["Validated"] == "promtool check + unit tests pass"
    assert shown["Now"] == "not measured"
    await client.decide(run_id, gate["key"], user="bob", approve=True, comment="lgtm")
    run, result = await finish(client, redis, run_id)

    assert result["error_budget"] == 0.001 and result["budget_minutes"] == 43.2 and result["validated"]
    assert result["applied_to"] is None and result["reloaded"] is False and result["review_schedule"] is None
    notes = "\n".join(run.notes)
    assert "Error budget for checkout availability at 99.9% over 30d: 0.001 of requests (0.1%), 43.2 min" in notes
    assert "promtool: 11 rules valid; 12 unit-test scenarios pass" in notes
    assert "Prometheus is not configured (set PROMETHEUS_URL)" in notes
    assert ("Not applied: PROMETHEUS_RULES_DIR is not set. Apply slo-checkout-availability.yml (attached) with "
            "`promtool check rules slo-checkout-availability.yml`") in notes
    assert "curl -X POST http://<prometheus>:9090/-/reload" in notes
    assert ('`/run schedule slo-review "0 9 * * 1" service=checkout target=99.9 window=30d sli=availability`'
            in notes)
    assert sorted(a["name"] for a in run.artifacts) == [
        "slo-checkout-availability-error-budget-policy.md", "slo-checkout-availability.test.yml",
        "slo-checkout-availability.yml"]
    rules = (await artifact(redis, run, "slo-checkout-availability.yml")).decode()
    assert "alert: SLOErrorBudgetBurn1h5m" in rules
    policy = (await artifact(redis, run, "slo-checkout-availability-error-budget-policy.md")).decode()
    assert "Approved by bob" in policy and "| 100% | Budget exhausted: feature releases stop" in policy
    assert "No recurring review is scheduled yet: `/run schedule slo-review" in policy


async def test_a_rejection_with_changes_replans_then_a_plain_rejection_stops(client: ShepherdClient, worker,
                                                                              redis: Redis) -> None:
    run_id = await client.start("slo-setup", {"service": "checkout", "target": 99.9}, requester="alice")
    gate = await wait_for_gate(client, run_id, timeout=WAIT)
    await client.decide(run_id, gate["key"], user="bob", approve=False, comment="too tight: target=99.5 window=28d")
    second = await wait_for_gate(client, run_id, timeout=WAIT)
    assert second["title"] == "Apply the checkout availability SLO (99.5% over 28d)?"
    assert (await facts(redis, run_id, second))["Error budget"] == "0.005 (201.6 min = 3.36 h)"
    await client.decide(run_id, second["key"], user="carol", approve=False, comment="not this quarter")
    run, result = await finish(client, redis, run_id)
    assert result["approved"] is False and result["replans"] == 1 and result["target"] == 99.5
    assert result["applied_to"] is None
    assert run.notes[-1] == ("Rejected by carol: not this quarter. Stopping, nothing applied: the comment asks for "
                             "no change (write e.g. target=99.5 to re-plan).")
    assert "slo-checkout-availability-error-budget-policy.md" not in [a["name"] for a in run.artifacts]


async def test_replans_are_bounded(client: ShepherdClient, worker, redis: Redis,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHEPHERD_SLO_MAX_REPLANS", "0")
    run_id = await client.start("slo-setup", {"service": "checkout", "target": 99.9}, requester="alice")
    gate = await wait_for_gate(client, run_id, timeout=WAIT)
    await client.decide(run_id, gate["key"], user="bob", approve=False, comment="target=99.5")
    run, result = await finish(client, redis, run_id)
    assert result["approved"] is False and result["replans"] == 0
    assert run.notes[-1].endswith("Stopping, nothing applied: re-plans are used up (0).")


async def test_unusable_changes_stop_the_run(client: ShepherdClient, worker, redis: Redis) -> None:
    run_id = await client.start("slo-setup", {"service": "checkout", "target": 99.9}, requester="alice")
    gate = await wait_for_gate(client, run_id, timeout=WAIT)
    await client.decide(run_id, gate["key"], user="bob", approve=False, comment="target=100")
    run, result = await finish(client, redis, run_id)
    assert result["approved"] is False
    assert "the requested change is not usable (input 'target': must be a percentage" in run.notes[-1]


async def test_promtool_failure_fails_the_run_before_review(client: ShepherdClient, worker, redis: Redis,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # Test labels that the error matcher does not select: the generated "fires" tests cannot pass.
    monkeypatch.setenv("SHEPHERD_SLO_TEST_ERROR_LABELS", 'code="200",kind="error"')
    run_id = await client.start("slo-setup", {"service": "checkout", "target": 99.9}, requester="alice")
    run = await wait_for(client, run_id, timeout=WAIT)
    assert run.status == "failed" and not run.open_gates
    assert "promtool rejected the generated rules" in run.meta["error"]
    assert "SLOErrorBudgetBurn1h5m: fires at 1.1 x its burn rate" in run.meta["error"]


async def test_a_missing_promtool_is_said_and_the_files_handed_over(client: ShepherdClient, worker, redis: Redis,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    monkeypatch.setenv("PROMTOOL", str(tmp_path / "no-promtool"))
    run_id = await client.start("slo-setup", {"service": "checkout", "target": 99.9}, requester="alice")
    gate = await wait_for_gate(client, run_id, timeout=WAIT)
    assert (await facts(redis, run_id, gate))["Validated"] == "NOT validated (promtool missing)"
    run = await client.view(run_id)
    assert any(n.startswith(f"Not validated: PROMTOOL={tmp_path / 'no-promtool'} is not an executable file. "
                            "Validate by hand: `promtool check rules slo-checkout-availability.yml`")
               for n in run.notes), run.notes
    await client.cancel(run_id, by="alice", reason="test over")
