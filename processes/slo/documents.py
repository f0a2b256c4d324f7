"""The error budget policy document and the thread summaries of an SLO.

Plain markdown built from the SLO, its budget and the policy tables, so what the document promises
is exactly what the generated alerts do.
"""

from __future__ import annotations

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
    """The policy as markdown; ``review`` says how the recurring review is (or is not) scheduled."""
    window_s = budget.window_seconds
    lines = [
        f"# Error budget policy — {spec.service} ({spec.sli})",
        "",
        f"**Service level objective:** {spec.target:g}% of requests are good over a rolling {window}.",
        "",
    ]
    if spec.sli == "availability":
        lines.append(f"A request is **good** when it does not match `{spec.errors_matcher}` "
                     f"(metric `{spec.requests_metric}`).")
    else:
        lines.append(f"A request is **good** when it completes within {spec.threshold_seconds:g}s "
                     f"(histogram `{spec.latency_bucket_metric}`; {spec.threshold_seconds:g}s must be one of its "
                     "bucket boundaries).")
    lines += [
        "",
        "## Error budget",
        "",
        f"- Fraction of requests that may fail: **{budget.fraction:.6g}** ({budget.fraction * 100:.4g}%)",
        f"- Equivalent full outage per window: **{human_minutes(budget.minutes)}**",
    ]
    if budget.requests is not None and budget.allowed_failures is not None:
        lines.append(f"- At current traffic ({budget.requests:,.0f} requests in the window so far): "
                     f"**{budget.allowed_failures:,.0f}** failed requests")
    lines += ["", "## Alerting", "",
              "Multi-window, multi-burn-rate alerts: each fires only while both windows burn faster than "
              "its rate, so it is significant (long window) and stops soon after a fix (short window).", "",
              "| Alert | Burn rate | Long window | Short window | Error ratio above | Budget spent before it fires "
              "| Severity |",
              "|---|---|---|---|---|---|---|"]
    for alert in BURN_RATE_ALERTS:
        spent = alert.factor * duration_seconds(alert.long_window) / window_s
        lines.append(f"| `{alert.alert_name}` | {alert.factor:g}x | {alert.long_window} | {alert.short_window} "
                     f"| {alert_threshold(alert, spec):.6g} | {spent:.1%} | {alert.severity} |")
    lines += ["", "## When the budget is spent", "",
              "| Budget consumed | What the team does |", "|---|---|"]
    lines += [f"| {limit:.0%} | {text} |" for limit, text in BUDGET_ACTIONS]
    lines += ["", "## Queries", ""]
    lines += [f"- {name.replace('_', ' ')}: `{expr}`" for name, expr in queries.items()]
    lines += ["", "## Review", "", review + " A change of target goes through `/run slo-setup` again.", ""]
    if approved_by:
        lines += [f"Approved by {approved_by}" + (f" at {decided_at}" if decided_at else "") + ".", ""]
    return "\n".join(lines)
