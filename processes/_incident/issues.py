"""Action items as GitHub issues, where a repository and token are configured.

The repository and labels are incident settings; the call itself is the shared GitHub client
(``integrations.github``). The task that uses this records its result under its idempotency key,
so a redelivery does not file a second issue. The token never appears in a message or exception.
"""

from __future__ import annotations

import re

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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


async def create_issue(settings: IssueSettings, title: str, body: str) -> Issue:
    if not settings.configured or settings.repo is None:
        raise IssueError("GitHub issues are not configured: set GITHUB_TOKEN and SHEPHERD_INCIDENT_GITHUB_REPO")
    if not _REPO.match(settings.repo):
        raise IssueError(f"SHEPHERD_INCIDENT_GITHUB_REPO must be owner/name, not {settings.repo!r}")
    owner, name = settings.repo.split("/")
    try:
        return await GitHub().create_issue(owner, name, title=title, body=body, labels=settings.labels)
    except GitHubError as exc:
        raise IssueError(str(exc)) from None
