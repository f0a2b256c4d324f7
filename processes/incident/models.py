"""The forms people fill in during an incident, and the task arguments and results.

Forms: a field with ``json_schema_extra={"slack": "user"}`` becomes a Slack user picker
(``bot.render.form``); the command line and ``shepherd answer`` take a user id there.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field, model_validator
from pydantic.json_schema import JsonDict

from engine import form
from processes.incident.policy import Severity
from processes.incident.timeline import Durations

USER: JsonDict = {"slack": "user"}


# -- forms -------------------------------------------------------------------------------------


@form("incident.roles", aliases=["processes._incident.models:RolesForm"])
class RolesForm(BaseModel):
    """Who does what in this incident."""

    commander: str = Field(description="Incident commander: runs the response, decides the gates",
                           json_schema_extra=USER)
    tech_lead: str = Field(description="Tech lead: drives diagnosis and the fix", json_schema_extra=USER)
    comms_lead: str | None = Field(default=None, description="Comms lead: status page and stakeholders",
                                   json_schema_extra=USER)
    scribe: str | None = Field(default=None, description="Scribe: keeps the timeline", json_schema_extra=USER)


@form("incident.status_update", aliases=["processes._incident.models:StatusUpdate"])
class StatusUpdate(BaseModel):
    """The commander's periodic update."""

    status: str = Field(min_length=1, max_length=2000, description="What is happening now")
    next_update: str | None = Field(default=None, max_length=500, description="Next steps")
    mitigated: bool = Field(default=False, description="Tick when the impact has stopped")


@form("incident.postmortem", aliases=["processes._incident.models:PostmortemInput"])
class PostmortemInput(BaseModel):
    """What only people know, for the postmortem document."""

    summary: str = Field(min_length=1, max_length=3000, description="What happened, in two or three sentences")
    impact: str = Field(min_length=1, max_length=3000, description="Who was affected, how, for how long")
    root_cause: str | None = Field(default=None, max_length=3000, description="Why it happened")
    went_well: str | None = Field(default=None, max_length=3000, description="What went well")
    went_badly: str | None = Field(default=None, max_length=3000, description="What went badly")


@form("incident.action_item", aliases=["processes._incident.models:ActionItemForm"])
class ActionItemForm(BaseModel):
    """One follow-up action (leave the title empty when there are no more)."""

    title: str | None = Field(default=None, max_length=300, description="What must be done; empty: no more items")
    owner: str | None = Field(default=None, description="Who owns it", json_schema_extra=USER)
    due: date | None = Field(default=None, description="Due date, YYYY-MM-DD")
    another: bool = Field(default=False, description="Tick to add another item after this one")

    @model_validator(mode="after")
    def _complete(self) -> ActionItemForm:
        if self.title and (not self.owner or self.due is None):
            raise ValueError("an action item needs an owner and a due date")
        return self


class ActionItem(BaseModel):
    title: str
    owner: str
    due: date


# -- tasks -------------------------------------------------------------------------------------


class BeginArgs(BaseModel):
    severity: Severity
    title: str


class IncidentStart(BaseModel):
    """The incident id and the policy in force, recorded once so replays see the same values."""

    incident_id: str
    declared_at: datetime
    cadence_seconds: float | None
    oncall_group: str | None = None
    exec_channel: str | None = None
    responders: list[str] = Field(default_factory=list)
    channel_prefix: str = "inc"
    max_updates: int = 96
    review_rounds: int = 3
    max_action_items: int = 20
    slack_configured: bool = False
    pagerduty_configured: bool = False
    oncall_lookup_configured: bool = False
    github_repo: str | None = None
    """``owner/name`` receiving action items as issues; None: not configured."""


class OpenChannelArgs(BaseModel):
    incident_id: str
    name: str
    topic: str
    fallback: str | None
    invite: list[str] = Field(default_factory=list)
    announce: str


class ChannelResult(BaseModel):
    channel: str | None
    name: str | None = None
    created: bool = False
    reason: str | None = None
    invited: list[str] = Field(default_factory=list)
    invite_problems: dict[str, str] = Field(default_factory=dict)
    problems: list[str] = Field(default_factory=list)
    """Setup steps Slack refused (topic, announcement), as ``method: error``."""
    slack_configured: bool = True


class PageArgs(BaseModel):
    incident_id: str
    severity: Severity
    summary: str
    source: str
    channel: str | None
    oncall_group: str | None = None
    exec_channel: str | None = None
    exec_notice: bool = False


class PageResult(BaseModel):
    via: str
    """``pagerduty``, ``usergroup`` or ``none``."""
    detail: str
    dedup_key: str | None = None
    oncall: list[str] = Field(default_factory=list)
    """Slack user ids of the people on call (from PagerDuty), invited to the channel."""
    exec_notice: str | None = None


class PagerEventArgs(BaseModel):
    action: str
    dedup_key: str


class PagerEventResult(BaseModel):
    sent: bool
    detail: str


class PostArgs(BaseModel):
    channel: str | None
    text: str
    topic: str | None = None
    """Also set the channel topic (only for a channel the incident owns)."""


class PostResult(BaseModel):
    posted: bool
    ts: str | None = None
    detail: str = ""
    error: str | None = None
    """Slack's refusal (e.g. ``chat.postMessage: not_in_channel``); the run goes on and says so."""


class InviteArgs(BaseModel):
    channel: str | None
    users: list[str]


class PinArgs(BaseModel):
    channel: str | None
    since: datetime


class StatsRecord(BaseModel):
    incident_id: str
    severity: Severity
    title: str
    declared_at: datetime
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    tta: float | None = None
    ttm: float | None = None
    ttr: float | None = None
    customer_facing: bool = False


class IssueArgs(BaseModel):
    incident_id: str
    item: ActionItem
    number: int


class IssueResult(BaseModel):
    filed: bool
    detail: str
    url: str | None = None


# -- outputs -----------------------------------------------------------------------------------


class PostmortemOutcome(BaseModel):
    approved: bool = Field(description="the four-eyes review approved it")
    artifact: str = Field(description="file name of the last revision attached to the thread")
    revision: int = Field(description="revision number of that file")
    approved_by: str | None = Field(default=None, description="who approved it")


class ActionItemOutcome(ActionItem):
    issue: str | None = Field(default=None, description="the GitHub issue's URL, where one was filed")


class IncidentOutcome(BaseModel):
    """A completed run returns the incident's record:"""

    incident: str = Field(description="the incident id, INC-yyyymmdd-n")
    severity: Severity
    title: str = Field(description="the title given, or one made from the service and severity")
    channel: str | None = Field(description="the incident channel's id (or the channel the run continued in)")
    channel_created: bool = Field(description="a channel of its own was created")
    paged: str = Field(description="pagerduty, usergroup, none, or 'not required' (by the severity's policy)")
    roles: RolesForm = Field(description="user ids of the commander, tech lead, comms lead and scribe")
    durations: Durations = Field(description="seconds from declaration to acknowledgement (tta), mitigation "
                                             "(ttm) and resolution (ttr)")
    updates: int = Field(description="status updates given")
    postmortem: PostmortemOutcome | None = Field(default=None, description="none when not required")
    action_items: list[ActionItemOutcome] = Field(default_factory=list,
                                                  description="title, owner, due date, and GitHub issue URL if filed")
