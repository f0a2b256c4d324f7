"""The postmortem document (markdown), rendered from what the run recorded
(``templates/postmortem.md.j2``).

Pure: the same recorded facts give the same bytes, so the artifact is stable on replay.
Durations are computed from the recorded declaration, acknowledgement, mitigation and
resolution times, never typed in by a person.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from processes.common.templates import render as render_template
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
    """The postmortem, from ``templates/postmortem.md.j2``."""
    timeline = Timeline()
    timeline.extend(facts.timeline)
    roles = [(label, getattr(facts.roles, field)) for field, label in ROLES.items()]
    return render_template("processes.incident", "postmortem.md.j2", facts=facts, people=people, roles=roles,
                           timeline=timeline.markdown(), at=_at, text=_text, human=human)
