"""The ``promtool test rules`` file that proves each burn-rate alert does what its row says.

For every alert of the policy table, three scenarios over raw request counters (so the recording
rules are exercised too):

- a steady burn just above the alert's rate (1 + margin) fires it, with its exact labels;
- a steady burn just below (1 - margin) does not;
- a strong burn that stopped a little more than the short window ago does not fire, although the
  long window is still over the threshold: the short window is what ends a page soon after a fix.

A mutated threshold in the rule file makes at least one scenario fail, so the tests cannot pass
by accident.
"""

from __future__ import annotations

from typing import Any

from processes.slo.budget import duration_seconds
from processes.slo.policy import BURN_RATE_ALERTS, UNIT_TEST_MARGIN, BurnRateAlert
from processes.slo.rules import INF, SLISpec, alert_annotations, alert_labels, alert_threshold, dump_yaml

EVALUATION_MINUTES = 15
"""How often promtool evaluates the rules; eval times are multiples of it."""
SAMPLE_MINUTES = (1, 5, 15, 60)
"""Scrape intervals a scenario may use: the coarsest that leaves six samples in the short window,
so the three-day scenarios stay cheap to evaluate."""
REQUESTS_PER_MINUTE = 10_000.0


class TestPlan:
    """Scenarios that cannot be tested for this SLO (e.g. a threshold above 100% errors)."""

    __test__ = False  # not a pytest class

    def __init__(self) -> None:
        self.skipped: list[str] = []


def _labels(spec: SLISpec, extra: str) -> str:
    return spec.selector(extra)


def _counter(segments: list[tuple[float, int]]) -> str:
    """promtool expanding notation for a counter growing by ``step`` for ``n`` samples per segment."""
    out, value = [], 0.0
    for i, (step, n) in enumerate(segments):
        if i:
            value += step  # a later segment starts one interval after the previous one ended
        out.append(f"{value:.12g}+{step:.12g}x{n}")
        value += step * n
    return " ".join(out)


def _series(spec: SLISpec, segments: list[tuple[float, int]], step: int, ok_labels: str,
            error_labels: str) -> list[dict[str, str]]:
    """Input series where ``segments`` gives the bad fraction of requests for ``n`` minutes each."""
    per_sample = REQUESTS_PER_MINUTE * step
    total = [(per_sample, n // step) for _, n in segments]
    bad = [(per_sample * ratio, n // step) for ratio, n in segments]
    good = [(per_sample * (1 - ratio), n // step) for ratio, n in segments]
    if spec.sli == "availability":
        return [
            {"series": f"{spec.requests_metric}{_labels(spec, ok_labels)}", "values": _counter(good)},
            {"series": f"{spec.requests_metric}{_labels(spec, error_labels)}", "values": _counter(bad)},
        ]
    le = f'le="{spec.threshold_seconds:g}"'
    return [  # a cumulative histogram: requests under the threshold, and all of them
        {"series": f"{spec.latency_bucket_metric}{_labels(spec, le)}", "values": _counter(good)},
        {"series": f"{spec.latency_bucket_metric}{_labels(spec, INF)}", "values": _counter(total)},
    ]


def _expected(alert: BurnRateAlert, spec: SLISpec) -> list[dict[str, Any]]:
    return [{"exp_labels": alert_labels(alert, spec), "exp_annotations": alert_annotations(alert, spec)}]


def _sample_minutes(alert: BurnRateAlert) -> int:
    short_m = duration_seconds(alert.short_window) / 60
    return max(m for m in SAMPLE_MINUTES if m == SAMPLE_MINUTES[0] or m * 6 <= short_m)


def _case(spec: SLISpec, alert: BurnRateAlert, name: str, segments: list[tuple[float, int]], eval_minutes: int,
          fires: bool, ok_labels: str, error_labels: str) -> dict[str, Any]:
    step = _sample_minutes(alert)
    return {
        "name": f"{alert.alert_name}: {name}",
        "interval": f"{step}m",
        "input_series": _series(spec, segments, step, ok_labels, error_labels),
        "alert_rule_test": [{"eval_time": f"{eval_minutes}m", "alertname": alert.alert_name,
                             "exp_alerts": _expected(alert, spec) if fires else []}],
    }


def unit_test_cases(spec: SLISpec, ok_labels: str, error_labels: str, plan: TestPlan) -> list[dict[str, Any]]:
    cases = []
    for alert in BURN_RATE_ALERTS:
        threshold = alert_threshold(alert, spec)
        long_m = int(duration_seconds(alert.long_window) // 60)
        short_m = int(duration_seconds(alert.short_window) // 60)
        step = _sample_minutes(alert)
        after = step * -(-EVALUATION_MINUTES // step)  # one evaluation past the short window, on a sample
        above, below = threshold * (1 + UNIT_TEST_MARGIN), threshold * (1 - UNIT_TEST_MARGIN)
        if threshold < 1:
            name = f"fires at {1 + UNIT_TEST_MARGIN:g} x its burn rate"
            if above >= 1:  # a loose target: burn halfway between the threshold and 100% errors instead
                above, name = (threshold + 1) / 2, f"fires at {(threshold + 1) / 2 / threshold:.3g} x its burn rate"
            cases.append(_case(spec, alert, name, [(above, long_m + step)], long_m, True, ok_labels, error_labels))
        else:
            plan.skipped.append(f"{alert.alert_name} can never fire: its threshold {threshold:.4g} needs more "
                                "than 100% errors at this target")
        cases.append(_case(spec, alert, f"stays quiet at {1 - UNIT_TEST_MARGIN:g} x its burn rate",
                           [(min(below, 1.0), long_m + step)], long_m, False, ok_labels, error_labels))
        stopped = min(2 * threshold, 1.0)
        quiet = short_m + after
        if stopped * (long_m - quiet) / long_m > threshold:  # the long window alone would still fire
            cases.append(_case(spec, alert, f"stops {quiet}m after a burn ends (long window still hot)",
                               [(stopped, long_m), (0.0, quiet)], long_m + quiet, False, ok_labels,
                               error_labels))
        elif threshold < 1:
            plan.skipped.append(f"{alert.alert_name}'s reset by its short window cannot be shown at this target "
                                "(its long window cools below the threshold first)")
    return cases


def unit_test_file(spec: SLISpec, ok_labels: str, error_labels: str) -> tuple[str, list[str]]:
    """The YAML for ``promtool test rules`` and the scenarios that could not be included."""
    plan = TestPlan()
    document = {
        "rule_files": [spec.rules_filename],
        "evaluation_interval": f"{EVALUATION_MINUTES}m",
        "tests": unit_test_cases(spec, ok_labels, error_labels, plan),
    }
    header = f"# promtool test rules {spec.tests_filename} — generated by Shepherd slo-setup.\n"
    return header + dump_yaml(document), plan.skipped
