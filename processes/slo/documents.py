"""The error budget policy document and the thread summaries of an SLO.

Plain markdown built from the SLO, its budget and the policy tables, so what the document promises
is exactly what the generated alerts do; the policy document's text is the template
``templates/error-budget-policy.md.j2``.
"""

from __future__ import annotations

from processes.common.templates import render
from processes.slo.budget import ErrorBudget, duration_seconds, human_minutes
from processes.slo.policy import BUDGET_ACTIONS, BURN_RATE_ALERTS
from processes.slo.rules import SLISpec, alert_threshold


def budget_summary(spec: SLISpec, budget: ErrorBudget, window: str) -> str:
    line = (f"Error budget for {spec.service} {spec.sli} at {spec.target:g}% over {window}: "
            f"{budget.fraction:.6g} of requests ({budget.fraction * 100:.4g}%), "
            f"{human_minutes(budget.minutes)} of full outage")
    if budget.requests is not None and budget.allowed_failures is not None:
        line += (f"; {budget.requests:,.0f} requests so far in the window, so "
                 f"{budget.allowed_failures:,.0f} may fail")
    return line + "."


def action_for(consumed: float) -> str | None:
    """The budget policy action in force when ``consumed`` (a fraction of the budget) is spent."""
    consumed = round(consumed, 9)  # 0.01 / 0.02 is 0.49999999999999994 in floating point: that is half
    reached = [text for limit, text in BUDGET_ACTIONS if consumed >= limit]
    return reached[-1] if reached else None


def policy_document(spec: SLISpec, budget: ErrorBudget, window: str, queries: dict[str, str],
                    approved_by: str | None, decided_at: str | None, review: str) -> str:
    """The policy as markdown (``templates/error-budget-policy.md.j2``); ``review`` says how the
    recurring review is (or is not) scheduled."""
    alerts = [{"alert": alert, "threshold": alert_threshold(alert, spec),
               "spent": alert.factor * duration_seconds(alert.long_window) / budget.window_seconds}
              for alert in BURN_RATE_ALERTS]
    return render("processes.slo", "error-budget-policy.md.j2", spec=spec, budget=budget, window=window,
                  queries=queries, approved_by=approved_by, decided_at=decided_at, review=review, alerts=alerts,
                  actions=BUDGET_ACTIONS, human_minutes=human_minutes)
