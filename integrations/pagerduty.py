"""PagerDuty: Events v2 (trigger, acknowledge, resolve) and the on-call lookup of the REST API.

Incidents are keyed by a ``dedup_key`` we choose (the Shepherd incident id), so a trigger that
is sent twice opens one PagerDuty incident and the acknowledge/resolve that follow find it.
Configuration comes from the environment only; the routing key and API token are ``SecretStr``
and never appear in a message, a log line or an exception.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from integrations.http import is_set, request_json

log = logging.getLogger(__name__)

EventAction = Literal["trigger", "acknowledge", "resolve"]
PagerSeverity = Literal["critical", "error", "warning", "info"]


class PagerDutySettings(BaseSettings):
    """``PAGERDUTY_*`` environment variables."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    routing_key: SecretStr | None = Field(default=None, validation_alias="PAGERDUTY_ROUTING_KEY")
    """Integration key of an Events v2 service: without it nothing is paged through PagerDuty."""
    api_token: SecretStr | None = Field(default=None, validation_alias="PAGERDUTY_API_TOKEN")
    """REST API token: the on-call lookup, and reading an incident's status back after a worker restart."""
    escalation_policy: str | None = Field(default=None, validation_alias="PAGERDUTY_ESCALATION_POLICY")
    """Escalation policy id whose on-call people are looked up (and invited to the incident channel)."""
    events_url: str = Field(default="https://events.pagerduty.com", validation_alias="PAGERDUTY_EVENTS_URL")
    api_url: str = Field(default="https://api.pagerduty.com", validation_alias="PAGERDUTY_API_URL")
    timeout: float = Field(default=10.0, validation_alias="PAGERDUTY_TIMEOUT")

    @property
    def events_configured(self) -> bool:
        return is_set(self.routing_key)

    @property
    def oncall_configured(self) -> bool:
        return is_set(self.api_token)


class PagerDutyError(Exception):
    """PagerDuty refused or failed a request (the message never carries a key or token)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PagerDutyNotConfigured(PagerDutyError):
    """The setting a call needs is unset; the message names it."""


class EventResult(BaseModel):
    action: EventAction
    dedup_key: str
    status: str
    message: str = ""


class OnCall(BaseModel):
    """One person on call for the escalation policy, at one escalation level."""

    user_id: str
    name: str
    email: str | None = None
    level: int = 1
    schedule: str | None = None


def _problem(body: Any) -> str:
    """PagerDuty's own explanation from an error body, as one line."""
    if isinstance(body, dict):
        errors = body.get("errors") or (body.get("error") or {}).get("errors") or []
        message = body.get("message") or (body.get("error") or {}).get("message") or ""
        return "; ".join(str(p) for p in [message, *errors] if p) or "no detail"
    return str(body)[:200] or "no detail"


class PagerDuty:
    """A small async client; one ``aiohttp`` session per call keeps it safe to use from any task."""

    def __init__(self, settings: PagerDutySettings | None = None) -> None:
        self.settings = settings or PagerDutySettings()

    async def _request(self, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
        return await request_json(method, url, timeout=self.settings.timeout, what=f"{method} {url}",
                                  failed=lambda reason: PagerDutyError(f"PagerDuty {reason}"), **kwargs)

    async def event(self, action: EventAction, dedup_key: str, *, summary: str = "", source: str = "",
                    severity: PagerSeverity = "error", custom_details: dict[str, Any] | None = None,
                    links: list[dict[str, str]] | None = None) -> EventResult:
        """Send one Events v2 event. ``trigger`` needs summary/source/severity; the others only the key."""
        if not self.settings.events_configured:
            raise PagerDutyNotConfigured("PagerDuty is not configured: set PAGERDUTY_ROUTING_KEY")
        assert self.settings.routing_key is not None
        body: dict[str, Any] = {"routing_key": self.settings.routing_key.get_secret_value(),
                                "event_action": action, "dedup_key": dedup_key}
        if action == "trigger":
            payload: dict[str, Any] = {"summary": summary[:1024], "severity": severity, "source": source}
            if custom_details:
                payload["custom_details"] = custom_details
            body["payload"] = payload
            if links:
                body["links"] = links
        url = self.settings.events_url.rstrip("/") + "/v2/enqueue"
        status, reply = await self._request("POST", url, json=body)
        if status != 202:
            raise PagerDutyError(f"PagerDuty refused the {action} event ({status}): {_problem(reply)}", status)
        log.info("pagerduty %s sent for %s", action, dedup_key)
        reply = reply if isinstance(reply, dict) else {}
        return EventResult(action=action, dedup_key=str(reply.get("dedup_key") or dedup_key),
                           status=str(reply.get("status", "success")), message=str(reply.get("message", "")))

    async def trigger(self, dedup_key: str, summary: str, *, source: str, severity: PagerSeverity,
                      custom_details: dict[str, Any] | None = None) -> EventResult:
        return await self.event("trigger", dedup_key, summary=summary, source=source, severity=severity,
                                custom_details=custom_details)

    async def acknowledge(self, dedup_key: str) -> EventResult:
        return await self.event("acknowledge", dedup_key)

    async def resolve(self, dedup_key: str) -> EventResult:
        return await self.event("resolve", dedup_key)

    def _rest_headers(self) -> dict[str, str]:
        assert self.settings.api_token is not None
        return {"Authorization": f"Token token={self.settings.api_token.get_secret_value()}",
                "Accept": "application/vnd.pagerduty+json;version=2"}

    async def incident_status(self, dedup_key: str) -> str | None:
        """``triggered``, ``acknowledged`` or ``resolved`` for the incident an event with ``dedup_key``
        opened, or None when PagerDuty has none (REST ``GET /incidents?incident_key=``; needs the token).

        Events are processed asynchronously, so an event sent a moment ago may not show yet."""
        if not self.settings.oncall_configured:
            raise PagerDutyNotConfigured("PagerDuty incident lookup is not configured: set PAGERDUTY_API_TOKEN")
        url = self.settings.api_url.rstrip("/") + "/incidents"
        params = [("incident_key", dedup_key), ("date_range", "all")]
        status, reply = await self._request("GET", url, headers=self._rest_headers(), params=params)
        if status != 200 or not isinstance(reply, dict):
            raise PagerDutyError(f"PagerDuty incident lookup failed ({status}): {_problem(reply)}", status)
        for incident in reply.get("incidents") or []:
            if isinstance(incident, dict) and incident.get("status"):
                return str(incident["status"])
        return None

    async def oncalls(self, escalation_policy: str | None = None) -> list[OnCall]:
        """Who is on call now for the escalation policy (lowest level first)."""
        if not self.settings.oncall_configured:
            raise PagerDutyNotConfigured("PagerDuty on-call lookup is not configured: set PAGERDUTY_API_TOKEN")
        policy = escalation_policy or self.settings.escalation_policy
        if not policy:
            raise PagerDutyNotConfigured("PagerDuty on-call lookup needs PAGERDUTY_ESCALATION_POLICY")
        headers = self._rest_headers()
        params = [("escalation_policy_ids[]", policy), ("include[]", "users"), ("earliest", "true")]
        url = self.settings.api_url.rstrip("/") + "/oncalls"
        status, reply = await self._request("GET", url, headers=headers, params=params)
        if status != 200 or not isinstance(reply, dict):
            raise PagerDutyError(f"PagerDuty on-call lookup failed ({status}): {_problem(reply)}", status)
        people: dict[str, OnCall] = {}
        for entry in reply.get("oncalls") or []:
            user = entry.get("user") or {}
            if not user.get("id"):
                continue
            level = int(entry.get("escalation_level") or 1)
            known = people.get(user["id"])
            if known is None or level < known.level:
                people[user["id"]] = OnCall(
                    user_id=user["id"], name=user.get("name") or user.get("summary") or user["id"],
                    email=user.get("email"), level=level, schedule=(entry.get("schedule") or {}).get("summary"))
        return sorted(people.values(), key=lambda p: (p.level, p.name))
