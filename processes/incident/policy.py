"""Incident policy as data: the severity table, the roles, and the settings that tune them.

Changing who gets paged or how often the commander is asked for an update is an edit to
``SEVERITIES`` or an environment variable, never to the process code. (This module declares
no process; the registry imports it like any other, harmlessly.)
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Severity(StrEnum):
    SEV1 = "SEV-1"
    SEV2 = "SEV-2"
    SEV3 = "SEV-3"
    SEV4 = "SEV-4"


class SeverityPolicy(BaseModel):
    """What one severity means for the response."""

    page: bool
    """Page on-call (PagerDuty, or the on-call user group)."""
    exec_notice: bool
    """Tell leadership (a message to the exec channel)."""
    cadence_minutes: float | None
    """Minutes between status updates from the commander; None: no cadence."""
    postmortem: bool
    """A reviewed postmortem is required (customer-facing incidents always get one)."""
    pagerduty_severity: str
    meaning: str


SEVERITIES: dict[Severity, SeverityPolicy] = {
    Severity.SEV1: SeverityPolicy(page=True, exec_notice=True, cadence_minutes=15, postmortem=True,
                                  pagerduty_severity="critical", meaning="critical: major outage or data loss"),
    Severity.SEV2: SeverityPolicy(page=True, exec_notice=False, cadence_minutes=30, postmortem=True,
                                  pagerduty_severity="error", meaning="major: a key feature is down or degraded"),
    Severity.SEV3: SeverityPolicy(page=False, exec_notice=False, cadence_minutes=60, postmortem=False,
                                  pagerduty_severity="warning", meaning="minor: limited impact, a workaround exists"),
    Severity.SEV4: SeverityPolicy(page=False, exec_notice=False, cadence_minutes=None, postmortem=False,
                                  pagerduty_severity="info", meaning="low: no customer impact"),
}

ROLES: dict[str, str] = {
    "commander": "Incident commander",
    "tech_lead": "Tech lead",
    "comms_lead": "Comms lead",
    "scribe": "Scribe",
}


class IncidentSettings(BaseSettings):
    """``SHEPHERD_INCIDENT_*`` environment variables (read by a task, recorded in the journal)."""

    model_config = SettingsConfigDict(env_prefix="SHEPHERD_INCIDENT_", extra="ignore")

    cadence_seconds: float | None = Field(default=None, gt=0)
    """Overrides every severity's update cadence (tests and drills use a few seconds)."""
    cadence_scale: float = Field(default=1.0, gt=0)
    """Multiplies every severity's cadence (0.5 = twice as often)."""
    oncall_group: str | None = None
    """Slack user group id (``S0...``) mentioned as the page when PagerDuty is not configured."""
    exec_channel: str | None = None
    """Slack channel id for the SEV-1 executive notice."""
    responders: list[str] = Field(default_factory=list)
    """Slack user ids always invited to incident channels (JSON list, e.g. ``["U1","U2"]``)."""
    channel_prefix: str = "inc"
    max_updates: int = Field(default=96, ge=1)
    """Bound on status updates (and on re-asked gates) so a forgotten incident cannot loop forever."""
    review_rounds: int = Field(default=3, ge=1)
    """Postmortem revisions allowed after a rejected review before the run stops asking."""
    max_action_items: int = Field(default=20, ge=1)


def cadence_seconds(severity: Severity, settings: IncidentSettings) -> float | None:
    """Seconds between status updates for ``severity`` under ``settings`` (None: no cadence)."""
    minutes = SEVERITIES[severity].cadence_minutes
    if minutes is None:
        return None
    if settings.cadence_seconds is not None:
        return settings.cadence_seconds
    return minutes * 60 * settings.cadence_scale
