"""Everything slo-setup generates from the SLO and the settings, before anything is checked.

A pure function, so each replay (and each re-plan after a review) rebuilds the same plan.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from engine.arguments import ArgumentError, parse_arguments, split_command_text, validate_inputs
from processes.slo.budget import ErrorBudget, budget_fraction, error_budget, promql_duration
from processes.slo.inputs import SLOInputs
from processes.slo.rules import SLISpec, rule_file, sli_queries
from processes.slo.tasks import SLOConfig
from processes.slo.unittests import unit_test_file


class SLOPlan(BaseModel):
    spec: SLISpec
    budget: ErrorBudget
    window: str
    """The SLO window as a Prometheus duration (30d)."""
    queries: dict[str, str]
    rules: str
    tests: str
    untestable: list[str]


def spec_for(inputs: SLOInputs, config: SLOConfig) -> SLISpec:
    return SLISpec(service=inputs.service, sli=inputs.sli, target=inputs.target,
                   budget=float(budget_fraction(inputs.target)), threshold_seconds=inputs.threshold_seconds,
                   requests_metric=config.requests_metric, errors_matcher=config.errors_matcher,
                   latency_bucket_metric=config.latency_bucket_metric, service_label=config.service_label)


def plan_slo(inputs: SLOInputs, config: SLOConfig) -> SLOPlan:
    spec = spec_for(inputs, config)
    window = promql_duration(inputs.window.total_seconds())
    tests, untestable = unit_test_file(spec, config.test_ok_labels, config.test_error_labels)
    return SLOPlan(spec=spec, budget=error_budget(inputs.target, inputs.window), window=window,
                   queries=sli_queries(spec, window), rules=rule_file(spec), tests=tests, untestable=untestable)


REPLANNABLE = ("target", "window", "sli", "threshold")


Inputs = TypeVar("Inputs", bound=SLOInputs)


def reviewer_overrides(current: Inputs, comment: str | None) -> tuple[Inputs | None, str | None]:
    """The SLO a reviewer asked for in a rejection comment (``key=value`` words), or why not.

    Returns (None, None) when the comment asks for no change: then there is nothing to re-plan.
    """
    try:
        tokens = [t for t in split_command_text(comment or "") if "=" in t]
        if not tokens:
            return None, None
        raw = parse_arguments(SLOInputs, [], tokens)
        if fixed := sorted(set(raw) - set(REPLANNABLE)):
            return None, f"{', '.join(fixed)} cannot change at review (only {', '.join(REPLANNABLE)})"
        return validate_inputs(type(current), {**current.model_dump(), **raw}), None
    except ArgumentError as exc:
        return None, "; ".join(exc.lines)
