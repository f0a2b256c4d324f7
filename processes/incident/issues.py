"""Action items as GitHub issues, where a repository and token are configured.

The repository and labels are incident settings; the call itself is the shared GitHub client
(``integrations.github``). Each issue's body carries a marker naming the task delivery that files
it, and the repository is searched for the marker first, so a redelivery (even one after a worker
died between filing and recording) does not file a second issue. The token never appears in a
message or exception.
"""

from __future__ import annotations

import re

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.failpoints import failpoint
from integrations.github import GitHub, GitHubError, GitHubSettings, Issue

_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class IssueSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    repo: str | None = Field(default=None, validation_alias="SHEPHERD_INCIDENT_GITHUB_REPO")
    """``owner/name`` of the repository that receives incident action items."""
    labels: list[str] = Field(default_factory=lambda: ["incident-action-item"],
                              validation_alias="SHEPHERD_INCIDENT_GITHUB_LABELS")

    @property
    def configured(self) -> bool:
        return bool(self.repo) and GitHubSettings().configured


class IssueError(Exception):
    """Not filed: not configured, a malformed repository setting, or GitHub refused or failed."""


def marker(key: str) -> str:
    """The hidden line that ties an issue to the task delivery that filed it (GitHub does not render it)."""
    return f"<!-- shepherd-effect: {key} -->"


async def create_issue(settings: IssueSettings, title: str, body: str, key: str) -> Issue:
    """The issue filed for ``key``: the one already in the repository, else a new one."""
    if not settings.configured or settings.repo is None:
        raise IssueError("GitHub issues are not configured: set GITHUB_TOKEN and SHEPHERD_INCIDENT_GITHUB_REPO")
    if not _REPO.match(settings.repo):
        raise IssueError(f"SHEPHERD_INCIDENT_GITHUB_REPO must be owner/name, not {settings.repo!r}")
    owner, name = settings.repo.split("/")
    github = GitHub()
    try:
        if found := await github.find_issue(owner, name, marker(key), labels=settings.labels):
            return found
        issue = await github.create_issue(owner, name, title=title, body=f"{body}\n{marker(key)}\n",
                                          labels=settings.labels)
    except GitHubError as exc:
        raise IssueError(str(exc)) from None
    failpoint("incident.issue_filed")
    return issue
