"""The process documents come from jinja2 templates (processes/<domain>/templates/), byte for byte
what the string-built documents were (golden files written by the code before the templates)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from processes.common.templates import render as render_template
from processes.common.templates import templates_dir
from processes.incident.models import ActionItem, PostmortemInput, RolesForm
from processes.incident.policy import Severity
from processes.incident.postmortem import PostmortemFacts, render
from processes.incident.timeline import Timeline, durations
from processes.slo.documents import policy_document
from tests.processes.test_slo_rules import plan

GOLDEN = Path(__file__).parent / "golden"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def timeline() -> Timeline:
    t = Timeline()
    t.add(T0 + timedelta(minutes=5), "Roles assigned")
    t.add(T0, "SEV-1 declared by <@U1>: x")
    t.add(T0 + timedelta(minutes=9), "Rolled back | now", "update")
    t.add(T0 + timedelta(minutes=7), "pinned *this*", "pin")
    return t


def test_the_full_postmortem_is_what_it_was() -> None:
    ack, mitigated, resolved = T0 + timedelta(minutes=5), T0 + timedelta(minutes=40), T0 + timedelta(hours=2, seconds=3)
    facts = PostmortemFacts(
        incident_id="INC-20260301-1", title="Checkout | down", severity=Severity("SEV-1"), service="checkout",
        customer_facing=True, declared_at=T0, acknowledged_at=ack, mitigated_at=mitigated, resolved_at=resolved,
        durations=durations(T0, ack, mitigated, resolved), roles=RolesForm(commander="U0BOB", tech_lead="U0CAROL"),
        timeline=timeline().entries, revision=2, review_comment="  Say why alerting was late\n",
        actions=[ActionItem(title="Add a canary", owner="U0CAROL", due=date(2030, 1, 31)),
                 ActionItem(title="Alert | faster", owner="U0BOB", due=date(2030, 2, 1))])
    people = PostmortemInput(summary="Bad deploy.", impact="All failed.", root_cause=" ", went_well="Fast rollback",
                             went_badly="Late alert")
    assert render(facts, people) == (GOLDEN / "postmortem-full.md").read_text()


def test_a_bare_postmortem_is_what_it_was() -> None:
    facts = PostmortemFacts(incident_id="INC-1", title="t", severity=Severity("SEV-3"), declared_at=T0,
                            durations=durations(T0, None, None, None), roles=RolesForm(commander="U1", tech_lead="U2"),
                            timeline=[], actions=[])
    assert render(facts, PostmortemInput(summary="s", impact="i")) == (GOLDEN / "postmortem-bare.md").read_text()


def test_the_timeline_document() -> None:
    assert timeline().document("INC-1") == (
        "# INC-1 timeline\n\n"
        "- 2026-03-01 09:00:00 UTC — SEV-1 declared by <@U1>: x\n"
        "- 2026-03-01 09:05:00 UTC — Roles assigned\n"
        "- 2026-03-01 09:07:00 UTC — 📌 pinned *this*\n"
        "- 2026-03-01 09:09:00 UTC — 📣 Rolled back | now\n")
    assert Timeline().markdown() == "" and Timeline().document("INC-2") == "# INC-2 timeline\n\n\n"


def test_a_misspelt_name_in_a_template_is_an_error_not_an_empty_string() -> None:
    assert (templates_dir("processes.incident") / "postmortem.md.j2").is_file()
    with pytest.raises(UndefinedError, match="'incident' is undefined"):
        render_template("processes.incident", "timeline.md.j2", entries="")


def test_the_error_budget_policy_is_what_it_was() -> None:
    p = plan()
    document = policy_document(p.spec, p.budget, p.window, p.queries, "bob", "2026-03-01 09:00 UTC",
                               "No recurring review is scheduled yet.")
    assert document == (GOLDEN / "slo-policy-availability.md").read_text()
    latency = plan(sli="latency", threshold="300ms", target=99.5, window="28d")
    measured = latency.budget.model_copy(update={"requests": 123456.0, "allowed_failures": 617.28})
    assert policy_document(latency.spec, measured, latency.window, latency.queries, None, None,
                           "`slo-review` runs weekly.") == (GOLDEN / "slo-policy-latency.md").read_text()
    assert (templates_dir("processes.slo") / "error-budget-policy.md.j2").is_file()
