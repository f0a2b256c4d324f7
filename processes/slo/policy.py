"""SLO policy as data: burn-rate alert windows, recording windows, budget actions, metric names.

The numbers follow the multi-window, multi-burn-rate alerting of the Google SRE Workbook
("Alerting on SLOs"). They live here, in tables and settings, so that changing the policy is a
reviewed edit of one place rather than a hunt for literals through the generators.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


@dataclass(frozen=True)
class BurnRateAlert:
    """Alert when the error ratio over both windows exceeds ``factor`` times the budget fraction.

    The long window gives significance; the short window makes the alert stop soon after the
    burn stops. A burn of ``factor`` spends ``factor * long_window / slo_window`` of the budget.
    """

    factor: float
    long_window: str
    short_window: str
    severity: Literal["page", "ticket"]

    @property
    def alert_name(self) -> str:
        return f"SLOErrorBudgetBurn{self.long_window}{self.short_window}"


BURN_RATE_ALERTS: tuple[BurnRateAlert, ...] = (
    BurnRateAlert(14.4, "1h", "5m", "page"),    # 2% of a 30-day budget in one hour
    BurnRateAlert(6.0, "6h", "30m", "page"),    # 5% in six hours
    BurnRateAlert(3.0, "1d", "2h", "ticket"),   # 10% in a day
    BurnRateAlert(1.0, "3d", "6h", "ticket"),   # 10% in three days: the budget runs out on time
)

RECORDING_WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
"""Windows of the error-ratio recording rules; every alert window must be one of them."""

BUDGET_ACTIONS: tuple[tuple[float, str], ...] = (
    (0.50, "Half the budget is spent: the team reviews the top error sources at its next planning."),
    (0.75, "Three quarters spent: risky launches need the service owner's sign-off; reliability work "
           "is prioritised over features."),
    (1.00, "Budget exhausted: feature releases stop (security and reliability fixes excepted) until "
           "the SLI is back within target over the window; a postmortem is written for any incident "
           "that used more than 20% of the budget."),
)
"""What the error budget policy asks of the team once this fraction of the budget is consumed."""

UNIT_TEST_MARGIN = 0.1
"""promtool unit tests burn at (1 ± margin) times each alert's threshold: above must fire, below must not."""


class SLOSettings(BaseSettings):
    """``SHEPHERD_SLO_*`` environment variables: what the SLI queries read, and review policy."""

    model_config = SettingsConfigDict(env_prefix="SHEPHERD_SLO_", extra="ignore")

    requests_metric: str = "http_requests_total"
    """Counter of all requests, labelled by service."""
    errors_matcher: str = 'code=~"5.."'
    """Label matcher that selects failed requests from the requests counter."""
    latency_bucket_metric: str = "http_request_duration_seconds_bucket"
    """Histogram buckets of request duration (the latency SLI counts requests under the threshold)."""
    service_label: str = "service"
    """The label that names the service in the metrics above."""
    max_replans: int = Field(default=2, ge=0)
    """How many times a rejected review may re-plan with the reviewer's overrides before the run stops."""
    review_cron: str = "0 9 * * 1"
    """When the recurring SLO review runs (5-field cron, UTC): Mondays at 09:00 by default."""
    test_ok_labels: str = 'code="200"'
    """Labels of a good request in the generated promtool tests (must not match ``errors_matcher``)."""
    test_error_labels: str = 'code="500"'
    """Labels of a failed request in the generated promtool tests (must match ``errors_matcher``)."""
    chart_points: int = Field(default=240, ge=10, le=10_000)
    """Points in the burn-down chart's range query."""


def _check_tables() -> None:
    missing = {w for a in BURN_RATE_ALERTS for w in (a.long_window, a.short_window)} - set(RECORDING_WINDOWS)
    if missing:
        raise ValueError(f"burn-rate alert windows {sorted(missing)} have no recording rule window")


_check_tables()
