"""SLI queries, recording rules and multi-window multi-burn-rate alerts for one SLO.

Everything here is a pure function of the SLO and the policy tables, so a replay regenerates
byte-identical rule files. The service name is validated before it gets here (it is chat text that
becomes a PromQL label value and a file name); metric names come from settings.
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import BaseModel

from processes.slo.policy import BURN_RATE_ALERTS, RECORDING_WINDOWS, BurnRateAlert

SLIKind = Literal["availability", "latency"]
RECORD_PREFIX = "slo:sli_error:ratio_rate"
ESCAPED_DOT = "\\\\."  # a regex \. inside a PromQL double-quoted string
INF = 'le="+Inf"'


class SLISpec(BaseModel):
    """What is measured: the service, the kind of SLI, and the metric names from settings."""

    service: str
    sli: SLIKind
    target: float
    budget: float
    threshold_seconds: float
    requests_metric: str
    errors_matcher: str
    latency_bucket_metric: str
    service_label: str

    @property
    def slo_id(self) -> str:
        return f"{self.service}-{self.sli}"

    @property
    def rules_filename(self) -> str:
        return f"slo-{self.slo_id}.yml"

    @property
    def tests_filename(self) -> str:
        return f"slo-{self.slo_id}.test.yml"

    @property
    def group_name(self) -> str:
        return f"slo:{self.service}:{self.sli}"

    @property
    def slo_labels(self) -> dict[str, str]:
        return {"service": self.service, "slo": self.sli}

    def selector(self, *extra: str) -> str:
        return "{" + ",".join([f'{self.service_label}="{self.service}"', *extra]) + "}"

    def le_matcher(self) -> str:
        """Buckets are labelled as the client library prints floats: 1 may be "1" or "1.0"."""
        text = f"{self.threshold_seconds:g}"
        spellings = [text, f"{text}.0"] if "." not in text and "e" not in text else [text]
        escaped = "|".join(s.replace(".", ESCAPED_DOT) for s in spellings)
        return 'le=~"' + escaped + '"'


def _fmt(value: float) -> str:
    return f"{value:.12g}"


def error_ratio_expr(spec: SLISpec, window: str) -> str:
    """The fraction of bad events over ``window`` (PromQL)."""
    if spec.sli == "availability":
        bad = f"sum(rate({spec.requests_metric}{spec.selector(spec.errors_matcher)}[{window}]))"
        total = f"sum(rate({spec.requests_metric}{spec.selector()}[{window}]))"
        return f"{bad} / {total}"
    good = f"sum(rate({spec.latency_bucket_metric}{spec.selector(spec.le_matcher())}[{window}]))"
    total = f'sum(rate({spec.latency_bucket_metric}{spec.selector(INF)}[{window}]))'
    return f"1 - ({good} / {total})"


def requests_expr(spec: SLISpec, window: str) -> str:
    """Requests over ``window`` (for the budget in requests)."""
    if spec.sli == "availability":
        return f"sum(increase({spec.requests_metric}{spec.selector()}[{window}]))"
    return f'sum(increase({spec.latency_bucket_metric}{spec.selector(INF)}[{window}]))'


def bucket_check_expr(spec: SLISpec) -> str | None:
    """Latency SLI only: the histogram series at the threshold bucket (none means no such bucket)."""
    if spec.sli != "latency":
        return None
    return f"count({spec.latency_bucket_metric}{spec.selector(spec.le_matcher())})"


def sli_queries(spec: SLISpec, window: str) -> dict[str, str]:
    """The queries a person can paste into Prometheus to see this SLO."""
    ratio = error_ratio_expr(spec, window)
    return {
        "error_ratio": ratio,
        "sli_percent": f"100 * (1 - ({ratio}))",
        "budget_remaining": f"1 - (({ratio}) / {_fmt(spec.budget)})",
        "requests": requests_expr(spec, window),
    }


def alert_threshold(alert: BurnRateAlert, spec: SLISpec) -> float:
    return alert.factor * spec.budget


def alert_labels(alert: BurnRateAlert, spec: SLISpec) -> dict[str, str]:
    return {**spec.slo_labels, "severity": alert.severity, "long_window": alert.long_window,
            "short_window": alert.short_window}


def alert_annotations(alert: BurnRateAlert, spec: SLISpec) -> dict[str, str]:
    """Static text (no templates), so the promtool unit tests can state it exactly."""
    return {
        "summary": f"{spec.service} {spec.sli} SLO ({_fmt(spec.target)}%) is burning its error budget "
                   f"at {_fmt(alert.factor)}x or faster",
        "description": f"The error ratio over the last {alert.long_window} and the last {alert.short_window} "
                       f"is above {_fmt(alert.factor)} x {_fmt(spec.budget)}. "
                       f"Severity {alert.severity}.",
    }


def recording_rules(spec: SLISpec) -> list[dict[str, Any]]:
    return [{"record": f"{RECORD_PREFIX}{w}", "expr": error_ratio_expr(spec, w), "labels": spec.slo_labels}
            for w in RECORDING_WINDOWS]


def alert_rules(spec: SLISpec) -> list[dict[str, Any]]:
    matcher = "{" + ",".join(f'{k}="{v}"' for k, v in spec.slo_labels.items()) + "}"
    rules = []
    for alert in BURN_RATE_ALERTS:
        threshold = f"({_fmt(alert.factor)} * {_fmt(spec.budget)})"
        expr = (f"{RECORD_PREFIX}{alert.long_window}{matcher} > {threshold}\n"
                f"and\n{RECORD_PREFIX}{alert.short_window}{matcher} > {threshold}")
        rules.append({"alert": alert.alert_name, "expr": expr, "labels": alert_labels(alert, spec),
                      "annotations": alert_annotations(alert, spec)})
    return rules


def rule_file(spec: SLISpec) -> str:
    """The Prometheus rule file: recording rules first, so alerts read this evaluation's ratios."""
    document = {"groups": [{"name": spec.group_name, "rules": [*recording_rules(spec), *alert_rules(spec)]}]}
    header = (f"# SLO {spec.service} {spec.sli} {_fmt(spec.target)}% — generated by Shepherd slo-setup.\n"
              "# Multi-window multi-burn-rate alerts (Google SRE Workbook, 'Alerting on SLOs').\n")
    return header + dump_yaml(document)


def dump_yaml(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False, width=1000, allow_unicode=True)
