"""slo-setup's generators: budget arithmetic, and rules that real promtool accepts and tests.

The mutation tests are what make the generated unit tests worth having: a rule file whose alert
threshold or short window is wrong must make ``promtool test rules`` fail on that alert.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from engine.arguments import ArgumentError, parse_command
from integrations.promtool import PromtoolMissing, check_rules, find_promtool, test_rules
from processes.slo.budget import duration_seconds, error_budget, promql_duration
from processes.slo.inputs import SLOInputs
from processes.slo.plan import SLOPlan, plan_slo, reviewer_overrides
from processes.slo.policy import BURN_RATE_ALERTS, RECORDING_WINDOWS, SLOSettings
from processes.slo.tasks import SLOConfig
from tests.processes.conftest import needs_promtool

CONFIG = SLOConfig(**SLOSettings().model_dump(), prometheus_url=None, rules_dir=None)


def plan(**inputs: object) -> SLOPlan:
    return plan_slo(SLOInputs.model_validate({"service": "checkout", "target": 99.9, **inputs}), CONFIG)


def write(p: SLOPlan, directory: Path, rules: str | None = None, tests: str | None = None) -> tuple[Path, Path]:
    rules_path, tests_path = directory / p.spec.rules_filename, directory / p.spec.tests_filename
    rules_path.write_text(rules if rules is not None else p.rules)
    tests_path.write_text(tests if tests is not None else p.tests)
    return rules_path, tests_path


# -- error budget -----------------------------------------------------------------------------

@pytest.mark.parametrize(("target", "window", "fraction", "minutes"), [
    (99.9, timedelta(days=30), 0.001, 43.2),
    (99.0, timedelta(days=30), 0.01, 432.0),
    (99.5, timedelta(days=30), 0.005, 216.0),
    (99.95, timedelta(days=30), 0.0005, 21.6),
    (99.99, timedelta(days=30), 0.0001, 4.32),
    (99.999, timedelta(days=30), 0.00001, 0.432),
    (99.9, timedelta(days=28), 0.001, 40.32),
    (99.5, timedelta(days=7), 0.005, 50.4),
    (95.0, timedelta(days=1), 0.05, 72.0),
    (90.0, timedelta(hours=1), 0.1, 6.0),
])
def test_error_budget_table(target: float, window: timedelta, fraction: float, minutes: float) -> None:
    budget = error_budget(target, window)
    assert budget.fraction == fraction  # exact: computed in Decimal, not float
    assert budget.minutes == minutes


def test_error_budget_in_requests_where_traffic_is_known() -> None:
    assert error_budget(99.9, timedelta(days=30), requests=2_500_000).allowed_failures == 2500.0
    assert error_budget(99.9, timedelta(days=30)).allowed_failures is None


@pytest.mark.parametrize(("seconds", "text"), [(2592000, "30d"), (300, "5m"), (5400, "1h30m"), (604800, "7d"),
                                               (90061, "1d1h1m1s"), (0.25, "250ms")])
def test_promql_durations_round_trip(seconds: float, text: str) -> None:
    assert promql_duration(seconds) == text
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize(("text", "message"), [
    ("target=100", "input 'target': must be a percentage between 0 and 100 exclusive, e.g. 99.9; got 100 "
                   "(100% leaves no error budget: no alert could ever be right)"),
    ("target=0", "input 'target': must be a percentage between 0 and 100 exclusive, e.g. 99.9; got 0"),
    ("target=abc", "input 'target': expected a number, got 'abc'"),
    ("target=99.9 window=0m", "input 'window': must be between 1 minute and 400 days, e.g. 30d or 28d"),
    ("target=99.9 sli=speed", "input 'sli': expected one of availability, latency, got 'speed'"),
    ("target=99.9 threshold=fast", "input 'threshold': expected a latency like 300ms or 1.5s, got 'fast'"),
])
def test_bad_inputs_are_refused_with_one_clear_line(text: str, message: str) -> None:
    with pytest.raises(ArgumentError) as caught:
        parse_command(SLOInputs, [], ["service=checkout", *text.split()])
    assert caught.value.lines == [message]


def test_a_service_name_cannot_smuggle_promql_or_paths() -> None:
    for bad in ('checkout"}or vector(1)', "../etc", "a b"):
        with pytest.raises(ArgumentError, match="input 'service': must be letters, digits"):
            parse_command(SLOInputs, [], [f"service={bad}", "target=99.9"])


# -- generated rules ---------------------------------------------------------------------------

def test_rules_follow_the_policy_tables() -> None:
    p = plan()
    [group] = yaml.safe_load(p.rules)["groups"]
    assert group["name"] == "slo:checkout:availability"
    records = [r["record"] for r in group["rules"] if "record" in r]
    assert records == [f"slo:sli_error:ratio_rate{w}" for w in RECORDING_WINDOWS]
    alerts = {r["alert"]: r for r in group["rules"] if "alert" in r}
    assert [(a.factor, a.long_window, a.short_window, a.severity) for a in BURN_RATE_ALERTS] == [
        (14.4, "1h", "5m", "page"), (6.0, "6h", "30m", "page"), (3.0, "1d", "2h", "ticket"),
        (1.0, "3d", "6h", "ticket")]
    fast = alerts["SLOErrorBudgetBurn1h5m"]
    assert fast["labels"]["severity"] == "page"
    assert "slo:sli_error:ratio_rate1h{service=\"checkout\",slo=\"availability\"} > (14.4 * 0.001)" in fast["expr"]
    assert "slo:sli_error:ratio_rate5m{service=\"checkout\",slo=\"availability\"} > (14.4 * 0.001)" in fast["expr"]
    assert p.queries["error_ratio"] == ('sum(rate(http_requests_total{service="checkout",code=~"5.."}[30d])) / '
                                        'sum(rate(http_requests_total{service="checkout"}[30d]))')
    assert plan() == p  # a pure function of its inputs: replays regenerate the same bytes


def test_metric_names_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHEPHERD_SLO_REQUESTS_METRIC", "nginx_requests_total")
    monkeypatch.setenv("SHEPHERD_SLO_SERVICE_LABEL", "app")
    config = SLOConfig(**SLOSettings().model_dump(), prometheus_url=None, rules_dir=None)
    p = plan_slo(SLOInputs(service="web", target=99.5), config)
    assert 'nginx_requests_total{app="web",code=~"5.."}[5m]' in p.rules
    assert 'nginx_requests_total{app="web",code="500"}' in p.tests


@needs_promtool
@pytest.mark.parametrize("inputs", [{}, {"sli": "latency", "threshold": "300ms"},
                                    {"sli": "latency", "threshold": "1s", "target": 99}, {"target": 93.3}])
def test_promtool_accepts_the_rules_and_their_unit_tests_pass(tmp_path: Path, inputs: dict) -> None:
    p = plan(**inputs)
    rules, tests = write(p, tmp_path)
    checked = check_rules(rules)
    assert checked.ok and checked.rules == len(RECORDING_WINDOWS) + len(BURN_RATE_ALERTS), checked.output
    tested = test_rules(tests)
    assert tested.ok, tested.output
    names = [t["name"] for t in yaml.safe_load(p.tests)["tests"]]
    for alert in BURN_RATE_ALERTS:  # each alert: fires above, quiet below, quiet once the burn stops
        mine = [n for n in names if n.startswith(alert.alert_name + ":")]
        shown = ["fires", "stays"] + ([] if any(s.startswith(alert.alert_name + "'s reset") for s in p.untestable)
                                      else ["stops"])
        assert [n.split(": ")[1].split(" ")[0] for n in mine] == shown, mine
    assert len(p.untestable) == (1 if inputs.get("target") == 93.3 else 0), p.untestable


def _only(p: SLOPlan, alert_name: str) -> str:
    """The unit tests of one alert (keeps each mutation run short)."""
    document = yaml.safe_load(p.tests)
    document["tests"] = [t for t in document["tests"] if t["name"].startswith(alert_name + ":")]
    return yaml.safe_dump(document)


@needs_promtool
@pytest.mark.parametrize("alert", BURN_RATE_ALERTS, ids=lambda a: a.alert_name)
def test_a_raised_threshold_fails_the_fires_test(tmp_path: Path, alert) -> None:
    p = plan()
    raised = p.rules.replace(f"({alert.factor:g} * 0.001)", f"({alert.factor * 1.25:g} * 0.001)")
    assert raised != p.rules
    _, tests = write(p, tmp_path, rules=raised, tests=_only(p, alert.alert_name))
    result = test_rules(tests)
    assert not result.ok
    assert re.search(rf"{alert.alert_name}: fires at", "\n".join(result.failures)), result.output
    assert "stays quiet" not in "\n".join(result.failures)


@needs_promtool
def test_a_lowered_threshold_fails_the_quiet_test(tmp_path: Path) -> None:
    p, alert = plan(), BURN_RATE_ALERTS[0]
    lowered = p.rules.replace("(14.4 * 0.001)", "(12 * 0.001)")
    _, tests = write(p, tmp_path, rules=lowered, tests=_only(p, alert.alert_name))
    result = test_rules(tests)
    assert not result.ok and f"{alert.alert_name}: stays quiet" in "\n".join(result.failures), result.output


@needs_promtool
def test_dropping_the_short_window_fails_the_stops_test(tmp_path: Path) -> None:
    p, alert = plan(), BURN_RATE_ALERTS[0]
    no_short = re.sub(r"\n\s*and\n\s*slo:sli_error:ratio_rate5m\{[^}]*\} > \(14\.4 \* 0\.001\)", "", p.rules)
    assert no_short != p.rules
    _, tests = write(p, tmp_path, rules=no_short, tests=_only(p, alert.alert_name))
    result = test_rules(tests)
    assert not result.ok and f"{alert.alert_name}: stops" in "\n".join(result.failures), result.output


@needs_promtool
def test_promtool_reports_invalid_rules(tmp_path: Path) -> None:
    p = plan()
    rules, _ = write(p, tmp_path, rules=p.rules.replace("sum(rate(", "sum(rat(", 1))
    result = check_rules(rules)
    assert not result.ok and result.rules is None and result.failures, result.output


def test_a_missing_promtool_is_named_with_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("PROMTOOL", raising=False)
    with pytest.raises(PromtoolMissing, match="promtool is not installed on this worker: install"):
        find_promtool()
    monkeypatch.setenv("PROMTOOL", str(tmp_path / "nope"))
    with pytest.raises(PromtoolMissing, match="is not an executable file"):
        find_promtool()


def test_targets_that_cannot_page_are_reported_not_faked() -> None:
    p = plan(target=90)  # 14.4 x 10% would need 144% errors
    assert any("SLOErrorBudgetBurn1h5m can never fire" in s for s in p.untestable)
    names = [t["name"] for t in yaml.safe_load(p.tests)["tests"]]
    assert not any(n.startswith("SLOErrorBudgetBurn1h5m: fires") for n in names)
    loose = plan(target=93.3)  # 14.4 x 6.7% = 96.5%: it can fire, just not at 1.1x its rate
    assert loose.untestable == ["SLOErrorBudgetBurn1h5m's reset by its short window cannot be shown at this target "
                                "(its long window cools below the threshold first)"]
    assert "SLOErrorBudgetBurn1h5m: fires at 1.02 x its burn rate" in [t["name"] for t in
                                                                       yaml.safe_load(loose.tests)["tests"]]


# -- re-planning from a review comment --------------------------------------------------------

def test_reviewer_overrides() -> None:
    current = SLOInputs(service="checkout", target=99.9)
    changed, problem = reviewer_overrides(current, "too strict for now, use target=99.5 window=28d")
    assert problem is None and changed is not None
    assert (changed.service, changed.target, changed.window) == ("checkout", 99.5, timedelta(days=28))
    assert reviewer_overrides(current, "looks wrong") == (None, None)
    assert reviewer_overrides(current, None) == (None, None)
    _, problem = reviewer_overrides(current, "target=100")
    assert problem and "input 'target': must be a percentage" in problem
    _, problem = reviewer_overrides(current, "service=payments")
    assert problem == "service cannot change at review (only target, window, sli, threshold)"
