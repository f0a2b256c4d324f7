"""The Prometheus client against a real Prometheus: queries, rules, reload, and its errors."""

from __future__ import annotations

import time

import pytest

from integrations.prometheus import PrometheusClient, PrometheusError, PrometheusNotConfigured, PrometheusSettings
from tests.processes.conftest import Exporter, Prometheus, free_port, needs_prometheus


def test_unconfigured_says_which_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_URL", raising=False)
    assert not PrometheusSettings().configured
    with pytest.raises(PrometheusNotConfigured, match="Prometheus is not configured: set PROMETHEUS_URL"):
        PrometheusClient.from_settings()


async def test_an_unreachable_server_is_named() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with PrometheusClient(url, timeout=5) as prom:
        with pytest.raises(PrometheusError, match=f"Prometheus at {url} is unreachable"):
            await prom.query("1")
        assert not await prom.ready()


@needs_prometheus
async def test_queries_rules_and_reload(prometheus: Prometheus, exporter: Exporter) -> None:
    prometheus.wait_for('count_over_time(http_requests_total{service="checkout"}[1m])', minimum=3)
    async with PrometheusClient(prometheus.url) as prom:
        assert await prom.ready()
        samples = await prom.query('http_requests_total{service="checkout"}')
        assert sorted(s.labels["code"] for s in samples) == ["200", "500"]
        assert all(s.labels["job"] == "exporter" for s in samples)
        ratio = await prom.query_value('sum(rate(http_requests_total{service="checkout",code="500"}[1m])) / '
                                       'sum(rate(http_requests_total{service="checkout"}[1m]))')
        assert ratio == pytest.approx(exporter.error_ratio, abs=1e-12)
        assert await prom.query_value('http_requests_total{service="nobody"}') is None
        assert await prom.query_value("vector(2) * 21") == 42
        with pytest.raises(PrometheusError, match="returned 2 series; expected one"):
            await prom.query_value('http_requests_total{service="checkout"}')
        with pytest.raises(PrometheusError, match=r"Prometheus query failed \(bad_data\): .*parse error"):
            await prom.query("sum(rate(")

        now = time.time()
        [series] = await prom.query_range('sum(http_requests_total{service="checkout"})', now - 10, now, 1)
        values = [v for _, v in series.points]
        assert len(values) >= 3 and values == sorted(values)  # a counter only grows

        assert await prom.rules() == []
        (prometheus.rules_dir / "demo.yml").write_text(
            "groups:\n- name: demo\n  rules:\n  - record: demo:requests:sum\n    expr: sum(http_requests_total)\n")
        await prom.reload()
        [group] = await prom.rules()
        assert group["name"] == "demo" and group["rules"][0]["name"] == "demo:requests:sum"
        assert [g["rules"] for g in await prom.rules("alert")] == [[]]  # filtered to alerting rules
