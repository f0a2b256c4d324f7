"""The incident helpers on their own: ids, recorded results, policy, forms, timeline, postmortem."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from redis.asyncio import Redis

from engine.arguments import parse_command
from integrations.slack import channel_name
from processes.incident.models import ActionItem, ActionItemForm, PostmortemInput, RolesForm
from processes.incident.policy import IncidentSettings, Severity, cadence_seconds
from processes.incident.postmortem import PostmortemFacts, render
from processes.incident.response import IncidentInputs
from processes.incident.store import allocate_id, remember
from processes.incident.timeline import Timeline, durations, human

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def test_incident_ids_count_per_day_and_repeat_per_delivery(redis: Redis) -> None:
    assert await allocate_id(redis, "run1:1", T0) == "INC-20260301-1"
    assert await allocate_id(redis, "run2:1", T0) == "INC-20260301-2"
    assert await allocate_id(redis, "run1:1", T0) == "INC-20260301-1"  # redelivered: same id, no increment
    assert await allocate_id(redis, "run3:1", T0 + timedelta(days=1)) == "INC-20260302-1"
    assert await redis.get("shepherd:{incidents}:seq:20260301") == "2"


async def test_remember_runs_work_once_per_key(redis: Redis) -> None:
    calls: list[int] = []

    async def work() -> dict:
        calls.append(1)
        return {"n": len(calls)}

    assert await remember(redis, "r:5", work) == {"n": 1}
    assert await remember(redis, "r:5", work) == {"n": 1}
    assert await remember(redis, "r:6", work) == {"n": 2}
    assert await remember(None, "r:5", work) == {"n": 3}  # no Redis: nothing to remember with


def test_cadence_comes_from_the_table_and_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SHEPHERD_INCIDENT_CADENCE_SECONDS", "SHEPHERD_INCIDENT_CADENCE_SCALE"):
        monkeypatch.delenv(name, raising=False)
    plain = IncidentSettings()
    assert [cadence_seconds(s, plain) for s in Severity] == [900, 1800, 3600, None]
    assert cadence_seconds(Severity.SEV2, IncidentSettings(cadence_scale=0.5)) == 900
    monkeypatch.setenv("SHEPHERD_INCIDENT_CADENCE_SECONDS", "2")
    assert [cadence_seconds(s, IncidentSettings()) for s in Severity] == [2, 2, 2, None]
    monkeypatch.setenv("SHEPHERD_INCIDENT_CADENCE_SECONDS", "0")
    with pytest.raises(ValidationError):
        IncidentSettings()


def test_inputs_from_command_text() -> None:
    inputs = parse_command(IncidentInputs, ["severity"], ["sev-2", "title=Checkout down", "commander=<@U0BOB|bob>"])
    assert (inputs.severity, inputs.title, inputs.commander) == (Severity.SEV2, "Checkout down", "U0BOB")
    with pytest.raises(ValueError, match="input 'severity': expected one of SEV-1, SEV-2, SEV-3, SEV-4, got 'SEV-5'"):
        parse_command(IncidentInputs, ["severity"], ["SEV-5"])


def test_forms() -> None:
    assert RolesForm.model_json_schema()["properties"]["tech_lead"]["slack"] == "user"
    assert ActionItemForm().title is None  # an empty form: no (more) action items
    with pytest.raises(ValidationError, match="needs an owner and a due date"):
        ActionItemForm(title="Fix it", owner="U0BOB")


def test_channel_names_follow_slack_rules() -> None:
    assert channel_name("inc-20260301-Checkout is DOWN!!") == "inc-20260301-checkout-is-down"
    assert len(channel_name("inc-" + "x" * 200)) == 80
    assert channel_name("***") == "incident"


def test_durations_and_postmortem() -> None:
    spans = durations(T0, T0 + timedelta(minutes=4), T0 + timedelta(minutes=38, seconds=5), T0 + timedelta(hours=2))
    assert (spans.tta, spans.ttm, spans.ttr) == (240, 2285, 7200)
    assert [human(s) for s in (spans.tta, spans.ttm, spans.ttr, None, 7)] == ["4m 00s", "38m 05s", "2h 00m 00s",
                                                                              "—", "7s"]
    timeline = Timeline()
    timeline.add(T0 + timedelta(minutes=10), "later", "update")
    timeline.add(T0, "first")
    facts = PostmortemFacts(
        incident_id="INC-20260301-4", title="Checkout down", severity=Severity.SEV1, service="checkout",
        customer_facing=True, declared_at=T0, acknowledged_at=T0 + timedelta(minutes=4),
        mitigated_at=T0 + timedelta(minutes=38, seconds=5), resolved_at=T0 + timedelta(hours=2), durations=spans,
        roles=RolesForm(commander="U1", tech_lead="U2"), timeline=timeline.sorted(),
        actions=[ActionItem(title="Add canary", owner="U2", due="2026-04-01")])
    doc = render(facts, PostmortemInput(summary="Bad deploy.", impact="All checkouts failed."))
    for needle in ("# Postmortem: INC-20260301-4 — Checkout down", "**Severity:** SEV-1 (customer-facing)",
                   "| Time to acknowledge (TTA) | 4m 00s | 2026-03-01 09:04:00 UTC |",
                   "| Time to mitigate (TTM) | 38m 05s |", "| Time to resolve (TTR) | 2h 00m 00s |",
                   "- **Incident commander:** <@U1>", "- **Scribe:** —", "## What went well\n\n_(not given)_",
                   "- 2026-03-01 09:00:00 UTC — first\n- 2026-03-01 09:10:00 UTC — 📣 later",
                   "| 1 | Add canary | <@U2> | 2026-04-01 |"):
        assert needle in doc, (needle, doc)
    assert render(facts, PostmortemInput(summary="Bad deploy.", impact="All checkouts failed.")) == doc
