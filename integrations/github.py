"""GitHub issues and pull requests over the REST API, where a token is configured.

Processes that change code push a branch with git; this opens (or finds) the pull request for that
branch, so a redelivered task that already opened one reuses it instead of opening a second. The
token is a ``SecretStr``: it goes into the Authorization header only, never a message or exception.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from integrations.http import is_set, request_json

# https://github.com/o/r(.git), ssh://git@github.com/o/r(.git), git@github.com:o/r(.git)
_GITHUB_URL = re.compile(
    r"^(?:https?://(?:[^@/]+@)?github\.com/|ssh://git@github\.com/|git@github\.com:)"
    r"(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?/?$")


class GitHubSettings(BaseSettings):
    """``GITHUB_*`` environment variables."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    token: SecretStr | None = Field(default=None, validation_alias="GITHUB_TOKEN")
    """A token allowed to open pull requests: without it, branches are pushed but no PR is opened."""
    api_url: str = Field(default="https://api.github.com", validation_alias="GITHUB_API_URL")
    timeout: float = Field(default=15.0, validation_alias="GITHUB_TIMEOUT")

    @property
    def configured(self) -> bool:
        return is_set(self.token)


class GitHubError(Exception):
    """GitHub refused or failed a request; the message names the status and GitHub's reason, never the token."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Issue(BaseModel):
    number: int
    url: str


class PullRequest(BaseModel):
    number: int
    url: str
    """The page people open (``html_url``)."""
    created: bool
    """False when an open pull request for the branch already existed and was reused."""


def github_repository(url: str) -> tuple[str, str] | None:
    """``(owner, name)`` of a github.com repository URL, or None for anything else."""
    match = _GITHUB_URL.match(url.strip())
    return (match["owner"], match["name"]) if match else None


def _reason(body: Any) -> str:
    if isinstance(body, dict):
        details = [e.get("message") or e.get("code") or "" for e in body.get("errors") or [] if isinstance(e, dict)]
        return "; ".join(p for p in [str(body.get("message") or ""), *details] if p) or "no detail"
    return str(body)[:200] or "no detail"


class GitHub:
    """A small async client for the calls Shepherd makes: issues and pull requests."""

    def __init__(self, settings: GitHubSettings | None = None) -> None:
        self.settings = settings or GitHubSettings()
        if not self.settings.configured:
            raise GitHubError("GitHub is not configured: set GITHUB_TOKEN")

    def _headers(self) -> dict[str, str]:
        assert self.settings.token is not None
        return {"Authorization": f"Bearer {self.settings.token.get_secret_value()}",
                "Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "shepherd"}

    async def _request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await request_json(method, self.settings.api_url.rstrip("/") + path, timeout=self.settings.timeout,
                                  headers=self._headers(), what=f"{method} {path}",
                                  failed=lambda reason: GitHubError(f"GitHub {reason}"), **kwargs)

    async def find_pull(self, owner: str, name: str, branch: str) -> PullRequest | None:
        """The open pull request whose head is ``owner:branch``, if there is one."""
        status, body = await self._request("GET", f"/repos/{owner}/{name}/pulls",
                                           params={"head": f"{owner}:{branch}", "state": "open"})
        if status != 200 or not isinstance(body, list):
            raise GitHubError(f"GitHub could not list pull requests of {owner}/{name} ({status}): {_reason(body)}",
                              status)
        for pull in body:
            if isinstance(pull, dict) and pull.get("number") is not None:
                return PullRequest(number=int(pull["number"]), url=str(pull.get("html_url") or ""), created=False)
        return None

    async def open_pull(self, owner: str, name: str, *, branch: str, base: str, title: str,
                        body: str) -> PullRequest:
        """Reuse the open pull request for ``branch`` or open one into ``base``."""
        if found := await self.find_pull(owner, name, branch):
            return found
        status, reply = await self._request("POST", f"/repos/{owner}/{name}/pulls",
                                            json={"title": title, "head": branch, "base": base, "body": body})
        if status == 422 and (found := await self.find_pull(owner, name, branch)):
            return found  # opened by a concurrent attempt between our GET and POST
        if status != 201 or not isinstance(reply, dict) or reply.get("number") is None:
            raise GitHubError(f"GitHub refused the pull request on {owner}/{name} ({status}): {_reason(reply)}",
                              status)
        return PullRequest(number=int(reply["number"]), url=str(reply.get("html_url") or ""), created=True)

    async def find_issue(self, owner: str, name: str, marker: str, labels: list[str] | None = None,
                         pages: int = 3) -> Issue | None:
        """The newest issue whose body contains ``marker``, among the latest ``pages`` hundred (with
        ``labels``). Listing, not the search API: search is indexed with a delay, so an issue filed a
        moment ago may not be found there yet (https://docs.github.com/en/rest/issues/issues#list-repository-issues)."""
        params: dict[str, str | int] = {"state": "all", "sort": "created", "direction": "desc", "per_page": 100}
        if labels:
            params["labels"] = ",".join(labels)
        for page in range(1, pages + 1):
            status, reply = await self._request("GET", f"/repos/{owner}/{name}/issues", params={**params, "page": page})
            if status != 200 or not isinstance(reply, list):
                raise GitHubError(f"GitHub could not list the issues of {owner}/{name} ({status}): {_reason(reply)}",
                                  status)
            for issue in reply:
                if isinstance(issue, dict) and marker in str(issue.get("body") or "") and issue.get("number"):
                    return Issue(number=int(issue["number"]), url=str(issue.get("html_url") or ""))
            if len(reply) < 100:
                return None
        return None

    async def create_issue(self, owner: str, name: str, *, title: str, body: str,
                           labels: list[str] | None = None) -> Issue:
        """File an issue (GitHub caps titles at 256 characters)."""
        payload: dict[str, Any] = {"title": title[:256], "body": body, "labels": labels or []}
        status, reply = await self._request("POST", f"/repos/{owner}/{name}/issues", json=payload)
        if status != 201 or not isinstance(reply, dict) or reply.get("number") is None:
            raise GitHubError(f"GitHub refused the issue on {owner}/{name} ({status}): {_reason(reply)}", status)
        return Issue(number=int(reply["number"]), url=str(reply.get("html_url") or ""))
