"""The one place that turns errors into what a person reads in Slack.

Typed engine errors carry a line meant for people; they become an ephemeral message to the
person who acted. Anything else is a bug: it is logged with an error id, and the person gets
that id (never the exception text, which may hold internals).
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ids import mention
from bot.render.text import who_may_act
from engine.arguments import ArgumentError
from engine.errors import GateClosed, NotAllowed, ShepherdError
from engine.mrkdwn import escape

log = logging.getLogger(__name__)

STORE_DOWN = ("Shepherd cannot reach its state store (Redis) right now. Try again in a minute "
              "(`/runs` shows what did start); if it goes on, tell whoever runs Shepherd.")
"""An outage, not a bug: said plainly, without an error id."""


def user_message(error: BaseException) -> tuple[str, bool]:
    """(text for the person, whether it was expected). Expected errors are not logged as bugs.

    An error's text is escaped for mrkdwn (``engine.mrkdwn``): it often quotes what the person
    typed (``unknown process '…'``, ``got '…'``), which must not ping or link. Only ``NotAllowed``
    is kept as written: the bot composes those from validated ids, with their mentions."""
    if isinstance(error, ArgumentError):
        return "\n".join(f"• {escape(line)}" for line in error.lines), True
    if isinstance(error, GateClosed) and error.by:
        text = escape(str(error)).replace(f" by {error.by}", f" by {mention(error.by)}")
        return f"This gate is closed: {text}", True
    if isinstance(error, NotAllowed) and error.gate is not None and error.who:
        text = str(error).replace(error.who, who_may_act({**error.gate, "four_eyes": False}))
        return text[:1].upper() + text[1:], True
    if isinstance(error, ShepherdError):
        text = str(error) if isinstance(error, NotAllowed) else escape(str(error))
        return text[:1].upper() + text[1:], True
    if isinstance(error, RedisConnectionError | RedisTimeoutError):
        return (STORE_DOWN, True)
    error_id = secrets.token_hex(4)
    return f"Sorry, something went wrong (error id {error_id}).", False


def where(body: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(channel, user, thread_ts) of the person who acted, for commands, clicks and modals."""
    if "command" in body:
        return body.get("channel_id"), body.get("user_id"), None
    user = (body.get("user") or {}).get("id")
    if body.get("type") == "view_submission":
        try:  # every modal's private_metadata carries the channel (and thread) it was opened from
            ctx = json.loads(body["view"].get("private_metadata") or "{}")
        except (ValueError, KeyError):
            return None, user, None
        if not isinstance(ctx, dict):
            return None, user, None
        return ctx.get("channel"), user, ctx.get("thread_ts")
    message = body.get("message") or {}
    return (body.get("channel") or {}).get("id"), user, message.get("thread_ts")


async def tell(client: AsyncWebClient, body: dict[str, Any], text: str) -> None:
    """An ephemeral to whoever acted, in the conversation (and thread) where they acted."""
    channel, user, thread_ts = where(body)
    if not channel or not user:
        log.warning("no channel/user to tell: %s", text)
        return
    args: dict[str, Any] = {"channel": channel, "user": user, "text": text}
    if thread_ts:
        args["thread_ts"] = thread_ts
    await client.chat_postEphemeral(**args)


async def handle_error(error: Exception, body: dict[str, Any], client: AsyncWebClient,
                       logger: logging.Logger | None = None) -> None:
    """Bolt's global error handler (``app.error``): every listener failure ends here."""
    text, expected = user_message(error)
    if not expected:
        log.error("%s (listener failed)", text, exc_info=error)
    elif text == STORE_DOWN:
        log.warning("Redis is unreachable: %s", error)
    try:
        await tell(client, body, text)
    except SlackApiError as exc:
        log.warning("could not tell the user about an error: %s", exc.response.get("error"))


def reported(listener: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Route a listener's errors (after its ack) to ``handle_error`` instead of letting them escape.

    Bolt's runner, when a listener raises, overwrites an ack it has not yet sent with its error
    response, so a quick refusal would leave the request unacknowledged and Slack would retry it
    (showing the refusal twice). The listener must take ``body`` and ``client``.
    """

    @functools.wraps(listener)
    async def run(**kwargs: Any) -> None:
        try:
            await listener(**kwargs)
        except Exception as exc:
            await handle_error(exc, kwargs["body"], kwargs["client"])

    return run
