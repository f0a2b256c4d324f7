"""slo-setup against a real Prometheus on loopback scraping an exporter with a known error ratio."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from bot.schedule_store import ScheduleStore
from engine.client import ShepherdClient
from engine.errors import NotAllowed
from engine.settings import Settings
from processes.slo.inputs import SLOInputs
from processes.slo.plan import plan_slo
from processes.slo.steps import live_args
from processes.slo.tasks import load_config, read_live_sli
from tests.helpers import wait_for_gate
from tests.processes.conftest import (
    WAIT,
    Exporter,
    Prometheus,
    artifact,
    finish,
    needs_prometheus,
    needs_promtool,
    rule_groups,
)

pytestmark = [needs_promtool, needs_prometheus]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No warm coroutines: every wake replays the process from the top, proving it deterministic."""
    return settings.model_copy(update={"replay_cache_size": 0})


async def test_live_prometheus_sli_chart_apply_and_review_schedule(
        client: ShepherdClient, worker, redis: Redis, prometheus: Prometheus, exporter: Exporter,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_URL", prometheus.url)
    monkeypatch.setenv("PROMETHEUS_RULES_DIR", str(prometheus.rules_dir))
    # Enough scrapes for a burn-down line over the 10-minute window (a point every 2.5 s).
    prometheus.wait_for('count_over_time(http_requests_total{service="checkout",code="500"}[10m])', minimum=8)

    run_id = await client.start("slo-setup", {"service": "checkout", "target": 99, "window": 600},
                                requester="alice", channel="C0SRE")
    gate = await wait_for_gate(client, run_id, timeout=WAIT)
    assert gate["title"] == "Apply the checkout availability SLO (99% over 10m)?"
    with pytest.raises(NotAllowed):
        await client.decide(run_id, gate["key"], user="alice", approve=True)  # four-eyes: not the requester
    await client.decide(run_id, gate["key"], user="bob", approve=True)
    run, result = await finish(client, redis, run_id)

    # The SLI and budget Prometheus reports match the exporter's known 0.2% errors.
    assert result["current_sli_percent"] == pytest.approx(100 * (1 - exporter.error_ratio), abs=1e-6)
    assert result["budget_remaining"] == pytest.approx(1 - exporter.error_ratio / 0.01, abs=1e-6)  # 80% left
    assert 0.01 * 1000 * 4 <= result["budget_requests"] <= 0.01 * 1000 * 2 * exporter.scrapes  # 1% of traffic
    assert "Now (Prometheus, last 10m): SLI 99.8000% (error ratio 0.002); 20.0% of the error budget spent, " \
           "80.0% left." in run.notes, run.notes
    assert any(re.fullmatch(r"Prometheus has data for only about the last \d+s of the 10m window: the SLI and budget "
                            r"above cover that span\.", n) for n in run.notes), run.notes

    # The burn-down chart is a real PNG that an image library reads.
    png = await artifact(redis, run, "slo-checkout-availability-burn-down.png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        image.verify()
        assert image.size == (800, 400)

    # Applied: the rule file is in the rules directory, and Prometheus lists and evaluates it.
    assert result["applied_to"] == str(prometheus.rules_dir / "slo-checkout-availability.yml")
    assert result["reloaded"] is True
    groups = {g["name"]: g for g in await rule_groups(prometheus.url)}
    rules = groups["slo:checkout:availability"]["rules"]
    assert {r["name"] for r in rules if r["type"] == "alerting"} == set(result["alerts"])
    assert len(rules) == 11
    recorded = prometheus.wait_for('slo:sli_error:ratio_rate5m{service="checkout",slo="availability"}')
    assert float(recorded[0]["value"][1]) == pytest.approx(exporter.error_ratio, abs=1e-9)

    # The recurring review is in the bot's schedule store, for this channel and SLO.
    [schedule] = [s for s in await ScheduleStore(redis).all() if s.process == "slo-review"]
    assert (schedule.id, schedule.channel, schedule.creator) == (result["review_schedule"], "C0SRE", "alice")
    assert schedule.inputs["service"] == "checkout" and schedule.inputs["target"] == 99
    assert schedule.args == "service=checkout target=99 window=10m sli=availability"
    policy = (await artifact(redis, run, "slo-checkout-availability-error-budget-policy.md")).decode()
    assert "Approved by bob" in policy and "| `SLOErrorBudgetBurn1h5m` | 14.4x | 1h | 5m | 0.144 |" in policy
    assert f"`slo-review` runs on the schedule `0 9 * * 1` (cron, UTC), schedule `{schedule.id}`." in policy

    # The scheduled review measures the same SLO.
    review_id = await client.start("slo-review", schedule.inputs, requester="alice", channel="C0SRE")
    review, reviewed = await finish(client, redis, review_id)
    assert reviewed["measured"] and reviewed["sli_percent"] == pytest.approx(99.8, abs=1e-6)
    assert reviewed["policy_action"] is None  # 20% spent: below the first policy step
    assert [a["name"] for a in review.artifacts] == ["slo-checkout-availability-burn-down.png"]


async def test_live_latency_sli_and_a_threshold_with_no_bucket(
        client: ShepherdClient, worker, redis: Redis, prometheus: Prometheus, exporter: Exporter,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_URL", prometheus.url)
    prometheus.wait_for('count_over_time(http_request_duration_seconds_count{service="checkout"}[1m])', minimum=3)
    run_id = await client.start("slo-setup", {"service": "checkout", "target": 98, "sli": "latency",
                                              "threshold": "300ms", "window": 3600}, requester="alice")
    await wait_for_gate(client, run_id, timeout=WAIT)
    notes = (await client.view(run_id)).notes
    await client.cancel(run_id, by="alice", reason="seen enough")
    assert "Now (Prometheus, last 1h): SLI 99.0000% (error ratio 0.01); 50.0% of the error budget spent, 50.0% " \
           "left. Policy: Half the budget is spent: the team reviews the top error sources at its next planning." \
           in notes, notes

    # A threshold that is not a bucket boundary would give alerts that never have data: said, not hidden.
    inputs = SLOInputs(service="checkout", target=98, sli="latency", threshold="250ms", window=timedelta(hours=1))
    config = load_config(None).model_copy(update={"prometheus_url": prometheus.url})
    live = await read_live_sli(live_args(plan_slo(inputs, config), inputs, config))
    assert live.sli_percent is None and live.problem == (
        "the latency histogram has no bucket at the threshold, so this SLI and its alerts would have no data: "
        "choose a threshold that is one of its bucket boundaries")
