"""The PagerDuty client against a local server that checks the exact requests."""

from __future__ import annotations

import logging

import pytest

from integrations.pagerduty import PagerDuty, PagerDutyError, PagerDutyNotConfigured, PagerDutySettings
from tests.processes.incident_fixtures import API_TOKEN, POLICY, ROUTING_KEY, FakePagerDuty, pagerduty  # noqa: F401


async def test_trigger_acknowledge_resolve_send_exact_events(pagerduty: FakePagerDuty) -> None:  # noqa: F811
    pd = PagerDuty()
    result = await pd.trigger("INC-20260101-1", "INC-20260101-1 SEV-2: checkout down", source="checkout",
                              severity="error", custom_details={"incident": "INC-20260101-1"})
    assert result.status == "success" and result.dedup_key == "INC-20260101-1"
    await pd.acknowledge("INC-20260101-1")
    await pd.resolve("INC-20260101-1")
    assert pagerduty.events == [
        {"routing_key": ROUTING_KEY, "event_action": "trigger", "dedup_key": "INC-20260101-1",
         "payload": {"summary": "INC-20260101-1 SEV-2: checkout down", "severity": "error", "source": "checkout",
                     "custom_details": {"incident": "INC-20260101-1"}}},
        {"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": "INC-20260101-1"},
        {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": "INC-20260101-1"},
    ]
    assert pagerduty.incidents == {"INC-20260101-1": "resolved"}


async def test_refused_event_says_why_without_the_key(pagerduty: FakePagerDuty,  # noqa: F811
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    pd = PagerDuty(PagerDutySettings(PAGERDUTY_ROUTING_KEY="wrong-key-123", PAGERDUTY_EVENTS_URL=pagerduty.url))
    with pytest.raises(PagerDutyError) as err:
        await pd.trigger("INC-1", "x", source="s", severity="error")
    assert err.value.status == 400
    assert "refused the trigger event (400)" in str(err.value) and "'routing_key' is invalid" in str(err.value)
    assert "wrong-key-123" not in str(err.value) and "wrong-key-123" not in caplog.text
    assert "wrong-key-123" not in repr(pd.settings)


async def test_server_errors_and_unreachable_are_errors(pagerduty: FakePagerDuty) -> None:  # noqa: F811
    pagerduty.fail_with = 503
    with pytest.raises(PagerDutyError, match=r"\(503\)"):
        await PagerDuty().resolve("INC-1")
    gone = PagerDuty(PagerDutySettings(PAGERDUTY_ROUTING_KEY=ROUTING_KEY, PAGERDUTY_EVENTS_URL="http://127.0.0.1:9"))
    with pytest.raises(PagerDutyError, match="did not answer"):
        await gone.acknowledge("INC-1")


async def test_oncall_lookup_sends_token_and_policy(pagerduty: FakePagerDuty) -> None:  # noqa: F811
    pagerduty.oncall = [
        {"escalation_level": 2, "user": {"id": "PUSER1", "name": "Bob Baker", "email": "bob@sandbox.example"}},
        {"escalation_level": 1, "user": {"id": "PUSER2", "summary": "Carol Chen", "email": "carol@sandbox.example"},
         "schedule": {"summary": "Primary"}},
        {"escalation_level": 3, "user": {"id": "PUSER1", "name": "Bob Baker"}},
    ]
    people = await PagerDuty().oncalls()
    assert [(p.user_id, p.name, p.email, p.level) for p in people] == [
        ("PUSER2", "Carol Chen", "carol@sandbox.example", 1), ("PUSER1", "Bob Baker", "bob@sandbox.example", 2)]
    assert pagerduty.oncall_queries == [{
        "authorization": f"Token token={API_TOKEN}", "accept": "application/vnd.pagerduty+json;version=2",
        "query": [("escalation_policy_ids[]", POLICY), ("include[]", "users"), ("earliest", "true")]}]


async def test_oncall_lookup_refused_token(pagerduty: FakePagerDuty) -> None:  # noqa: F811
    pd = PagerDuty(PagerDutySettings(PAGERDUTY_API_TOKEN="bad-token-9", PAGERDUTY_API_URL=pagerduty.url,
                                     PAGERDUTY_ESCALATION_POLICY=POLICY))
    with pytest.raises(PagerDutyError, match=r"on-call lookup failed \(401\): Unauthorized") as err:
        await pd.oncalls()
    assert "bad-token-9" not in str(err.value)


async def test_not_configured_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PAGERDUTY_ROUTING_KEY", "PAGERDUTY_API_TOKEN", "PAGERDUTY_ESCALATION_POLICY"):
        monkeypatch.delenv(name, raising=False)
    pd = PagerDuty()
    assert not pd.settings.events_configured and not pd.settings.oncall_configured
    with pytest.raises(PagerDutyNotConfigured, match="set PAGERDUTY_ROUTING_KEY"):
        await pd.trigger("INC-1", "x", source="s", severity="error")
    with pytest.raises(PagerDutyNotConfigured, match="set PAGERDUTY_API_TOKEN"):
        await pd.oncalls()
