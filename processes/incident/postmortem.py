"""The postmortem document (markdown), rendered from what the run recorded.

Pure: the same recorded facts give the same bytes, so the artifact is stable on replay.
Durations are computed from the recorded declaration, acknowledgement, mitigation and
resolution times, never typed in by a person.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from processes.incident.models import ActionItem, PostmortemInput, RolesForm
from processes.incident.policy import ROLES, Severity
from processes.incident.timeline import Durations, Entry, Timeline, human


class PostmortemFacts(BaseModel):
    incident_id: str
    title: str
    severity: Severity
    service: str | None = None
    customer_facing: bool = False
    declared_at: datetime
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    durations: Durations
    roles: RolesForm
    timeline: list[Entry]
    actions: list[ActionItem]
    revision: int = 1
    review_comment: str | None = None


def _at(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def _text(value: str | None) -> str:
    return value.strip() if value and value.strip() else "_(not given)_"


def render(facts: PostmortemFacts, people: PostmortemInput) -> str:
    timeline = Timeline()
    timeline.extend(facts.timeline)
    d = facts.durations
    lines = [
        f"# Postmortem: {facts.incident_id} — {facts.title}",
        "",
        f"- **Severity:** {facts.severity.value}" + (" (customer-facing)" if facts.customer_facing else ""),
        f"- **Service:** {facts.service or '—'}",
        f"- **Declared:** {_at(facts.declared_at)}",
        f"- **Resolved:** {_at(facts.resolved_at)}",
        f"- **Revision:** {facts.revision}",
        "",
        "## Summary", "", _text(people.summary), "",
        "## Impact", "", _text(people.impact), "",
        "## Root cause", "", _text(people.root_cause), "",
        "## Durations", "",
        "| Measure | From declaration | At |",
        "|---|---|---|",
        f"| Time to acknowledge (TTA) | {human(d.tta)} | {_at(facts.acknowledged_at)} |",
        f"| Time to mitigate (TTM) | {human(d.ttm)} | {_at(facts.mitigated_at)} |",
        f"| Time to resolve (TTR) | {human(d.ttr)} | {_at(facts.resolved_at)} |",
        "",
        "## Roles", "",
    ]
    for field, label in ROLES.items():
        who = getattr(facts.roles, field)
        lines.append(f"- **{label}:** {f'<@{who}>' if who else '—'}")
    lines += ["", "## Timeline", "", timeline.markdown() or "_(empty)_", "",
              "## What went well", "", _text(people.went_well), "",
              "## What went badly", "", _text(people.went_badly), "",
              "## Action items", ""]
    if facts.actions:
        lines += ["| # | Action | Owner | Due |", "|---|---|---|---|"]
        lines += [f"| {i} | {a.title} | <@{a.owner}> | {a.due.isoformat()} |"
                  for i, a in enumerate(facts.actions, 1)]
    else:
        lines.append("_None recorded._")
    if facts.review_comment:
        lines += ["", "## Review notes addressed in this revision", "", facts.review_comment.strip()]
    return "\n".join(lines) + "\n"
