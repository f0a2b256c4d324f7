"""The worker-side Slack client: what tasks do in Slack besides the run's own thread.

The bot owns the run's card and thread; tasks that act on the workspace (create an incident
channel, set its topic, invite people, post updates there, read pinned messages) use this
client with the same ``SLACK_BOT_TOKEN`` / ``SLACK_API_URL``. Slack's errors that a process
must act on (a channel name taken, channel creation not allowed) become return values, not
exceptions; anything else is a ``SlackProblem`` with Slack's error code and no token.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from integrations.slack_metadata import find_message

log = logging.getLogger(__name__)

NOT_ALLOWED = {"restricted_action", "not_allowed_token_type", "missing_scope", "no_permission",
               "team_access_not_granted", "ekm_access_denied", "not_authed"}
"""conversations.create errors meaning "this app may not create channels here"."""
NOT_A_MEMBER = {"not_in_channel", "channel_not_found"}
"""chat.postMessage errors meaning "the bot is not in that channel": inviting it is the fix, retrying is not
(https://api.slack.com/methods/chat.postMessage#errors)."""
MAX_SUFFIX = 20
_NAME_BAD = re.compile(r"[^a-z0-9_-]+")


class SlackSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    api_url: str | None = Field(default=None, validation_alias="SLACK_API_URL")

    @property
    def configured(self) -> bool:
        return self.bot_token is not None and bool(self.bot_token.get_secret_value())


class SlackNotConfigured(Exception):
    """No ``SLACK_BOT_TOKEN`` on this worker."""

    def __init__(self) -> None:
        super().__init__("Slack is not configured on the worker: set SLACK_BOT_TOKEN (and SLACK_API_URL "
                         "for the sandbox)")


class SlackProblem(Exception):
    """A Slack call failed; ``code`` is Slack's error string (e.g. ``channel_not_found``)."""

    def __init__(self, method: str, code: str) -> None:
        super().__init__(f"Slack {method} failed: {code}")
        self.method, self.code = method, code


class ChannelOutcome(BaseModel):
    """Where an incident lives: a new channel, or (``created`` false) the fallback and why."""

    channel: str | None
    name: str | None = None
    created: bool = False
    reason: str | None = None
    """Slack's error code when a channel could not be created."""


class Pinned(BaseModel):
    ts: str
    user: str | None = None
    text: str


def channel_name(base: str) -> str:
    """A valid channel name: lower case, ``a-z0-9-_``, at most 80 characters (Slack's rules)."""
    name = _NAME_BAD.sub("-", base.lower()).strip("-_")
    return re.sub(r"-{2,}", "-", name)[:80].rstrip("-_") or "incident"


def _code(exc: SlackApiError) -> str:
    return str(exc.response.get("error", "unknown_error"))


class WorkerSlack:
    """Thin wrapper over ``AsyncWebClient`` with the handful of calls tasks need."""

    def __init__(self, settings: SlackSettings | None = None) -> None:
        self.settings = settings or SlackSettings()
        if not self.settings.configured:
            raise SlackNotConfigured()
        assert self.settings.bot_token is not None
        kwargs: dict[str, Any] = {"base_url": self.settings.api_url} if self.settings.api_url else {}
        self.web = AsyncWebClient(token=self.settings.bot_token.get_secret_value(), **kwargs)
        self.web.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))

    @classmethod
    def maybe(cls) -> WorkerSlack | None:
        """The client, or None when Slack is not configured (callers say so plainly)."""
        settings = SlackSettings()
        return cls(settings) if settings.configured else None

    async def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return await getattr(self.web, method.replace(".", "_"))(**kwargs)
        except SlackApiError as exc:
            raise SlackProblem(method, _code(exc)) from None

    async def create_channel(self, base: str,
                             claim: Callable[[str], Awaitable[None]] | None = None) -> ChannelOutcome:
        """Create ``base`` (or ``base-2``, ``base-3`` ... when taken); refusals come back as a reason.

        ``claim(name)`` runs before each attempt, so a caller can record which name it was creating
        (a worker killed right after the channel was made finds it again by that name)."""
        name = channel_name(base)
        for n in range(1, MAX_SUFFIX + 1):
            candidate = name if n == 1 else f"{name[:80 - len(str(n)) - 1]}-{n}"
            if claim is not None:
                await claim(candidate)
            try:
                reply = await self.web.conversations_create(name=candidate)
            except SlackApiError as exc:
                code = _code(exc)
                if code == "name_taken":
                    continue
                if code in NOT_ALLOWED:
                    return ChannelOutcome(channel=None, reason=code)
                raise SlackProblem("conversations.create", code) from None
            channel = reply["channel"]
            return ChannelOutcome(channel=channel["id"], name=channel.get("name", candidate), created=True)
        return ChannelOutcome(channel=None, reason=f"name_taken ({name} and {MAX_SUFFIX - 1} suffixes)")

    async def find_channel(self, name: str, creator: str, marker: str) -> ChannelOutcome | None:
        """The channel ``name`` that ``creator`` made for ``marker`` (its topic names it, or is still
        empty because the topic was never set), or None. conversations.list is the only lookup by name."""
        cursor: str | None = None
        for _ in range(50):  # at most 50 pages of 1000 channels
            kwargs: dict[str, Any] = {"types": "public_channel,private_channel", "exclude_archived": True,
                                      "limit": 1000}
            if cursor:
                kwargs["cursor"] = cursor
            reply = await self._call("conversations.list", **kwargs)
            for channel in reply.get("channels") or []:
                topic = str((channel.get("topic") or {}).get("value") or "")
                if channel.get("name") == name and channel.get("creator") == creator and (not topic or marker in topic):
                    return ChannelOutcome(channel=channel["id"], name=name, created=True)
            cursor = (reply.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None
        return None

    async def set_topic(self, channel: str, topic: str) -> None:
        await self._call("conversations.setTopic", channel=channel, topic=topic[:250])

    async def invite(self, channel: str, users: list[str]) -> tuple[list[str], dict[str, str]]:
        """Invite each user; returns (invited, {user: Slack error}) — members already in are not errors."""
        invited: list[str] = []
        problems: dict[str, str] = {}
        me = await self.bot_user()
        for user in dict.fromkeys(u for u in users if u and u != me):
            try:
                await self.web.conversations_invite(channel=channel, users=user)
                invited.append(user)
            except SlackApiError as exc:
                code = _code(exc)
                if code not in ("already_in_channel", "cant_invite_self"):
                    problems[user] = code
        return invited, problems

    async def bot_user(self) -> str:
        reply = await self._call("auth.test")
        return str(reply.get("user_id", ""))

    async def post(self, channel: str, text: str, metadata: dict[str, Any] | None = None) -> str:
        extra: dict[str, Any] = {"metadata": metadata} if metadata else {}
        reply = await self._call("chat.postMessage", channel=channel, text=text, **extra)
        return str(reply["ts"])

    async def find_posted(self, channel: str, event_type: str, **match: Any) -> str | None:
        """The ts of the bot's recent top-level post in ``channel`` whose metadata matches, if any."""
        reply = await self._call("conversations.history", channel=channel, limit=200, include_all_metadata=True)
        found = find_message(reply.get("messages") or [], event_type, **match)
        return str(found["ts"]) if found else None

    async def user_by_email(self, email: str) -> str | None:
        try:
            reply = await self.web.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            if _code(exc) == "users_not_found":
                return None
            raise SlackProblem("users.lookupByEmail", _code(exc)) from None
        return str(reply["user"]["id"])

    async def pinned(self, channel: str, oldest: float, reaction: str = "pushpin") -> list[Pinned]:
        """Channel messages since ``oldest`` that carry the ``reaction`` (oldest first)."""
        found: list[Pinned] = []
        cursor: str | None = None
        for _ in range(20):  # at most 20 pages of history
            kwargs: dict[str, Any] = {"channel": channel, "oldest": str(oldest), "limit": 200}
            if cursor:
                kwargs["cursor"] = cursor
            try:
                reply = await self.web.conversations_history(**kwargs)
            except SlackApiError as exc:
                raise SlackProblem("conversations.history", _code(exc)) from None
            for message in reply.get("messages") or []:
                if any(r.get("name") == reaction for r in message.get("reactions") or []):
                    found.append(Pinned(ts=message["ts"], user=message.get("user"), text=message.get("text", "")))
            cursor = (reply.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return sorted(found, key=lambda p: float(p.ts))
