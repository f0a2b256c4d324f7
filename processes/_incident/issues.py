"""Action items as GitHub issues, where a repository and token are configured.

Small on purpose (one REST call: ``POST /repos/{owner}/{repo}/issues``); the task that uses it
records its result under its idempotency key, so a redelivery does not file a second issue.
The token is a ``SecretStr`` and never appears in a message or exception.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class IssueSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    token: SecretStr | None = Field(default=None, validation_alias="GITHUB_TOKEN")
    repo: str | None = Field(default=None, validation_alias="SHEPHERD_INCIDENT_GITHUB_REPO")
    """``owner/name`` of the repository that receives incident action items."""
    api_url: str = Field(default="https://api.github.com", validation_alias="GITHUB_API_URL")
    labels: list[str] = Field(default_factory=lambda: ["incident-action-item"],
                              validation_alias="SHEPHERD_INCIDENT_GITHUB_LABELS")

    @property
    def configured(self) -> bool:
        return bool(self.token and self.token.get_secret_value() and self.repo)


class IssueError(Exception):
    """GitHub refused or failed; the message names the status and GitHub's reason, never the token."""


class Issue(BaseModel):
    number: int
    url: str


async def create_issue(settings: IssueSettings, title: str, body: str) -> Issue:
    if not settings.configured:
        raise IssueError("GitHub issues are not configured: set GITHUB_TOKEN and SHEPHERD_INCIDENT_GITHUB_REPO")
    assert settings.token is not None and settings.repo is not None
    if not _REPO.match(settings.repo):
        raise IssueError(f"SHEPHERD_INCIDENT_GITHUB_REPO must be owner/name, not {settings.repo!r}")
    headers = {"Authorization": f"Bearer {settings.token.get_secret_value()}",
               "Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    payload: dict[str, Any] = {"title": title[:256], "body": body, "labels": settings.labels}
    url = f"{settings.api_url.rstrip('/')}/repos/{settings.repo}/issues"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session, \
                session.post(url, json=payload, headers=headers) as resp:
            reply: Any = await resp.json(content_type=None)
            status = resp.status
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise IssueError(f"GitHub did not answer ({exc.__class__.__name__})") from None
    if status != 201 or not isinstance(reply, dict):
        reason = reply.get("message") if isinstance(reply, dict) else None
        raise IssueError(f"GitHub refused the issue ({status}): {reason or 'no detail'}")
    return Issue(number=int(reply["number"]), url=str(reply.get("html_url", "")))
