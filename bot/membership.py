"""Is the bot in the channel a slash command was typed in?

In a channel the bot was never invited to, Slack refuses its posts there: the run's card, and the
ephemerals that would say so (``not_in_channel``), so a ``/run`` there used to start a run nobody
could see. The slash command's ``response_url`` needs no membership, so the command handler asks
here right after it acknowledges and, when the bot is not a member, answers there and starts
nothing.

``conversations.info``'s ``is_member`` (https://api.slack.com/methods/conversations.info) says so;
a private channel the bot is not in is ``channel_not_found`` to it. The check is bounded
(``TIMEOUT``: a command should not wait on a slow Slack), and anything inconclusive (a slow or
rate-limited Slack, a missing scope for DMs) counts as a member: the command then behaves as it
did before. A channel found to have the bot is remembered for ``KEEP`` seconds, so a busy channel
costs one call a minute; absence is never remembered, so inviting the bot takes effect at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

TIMEOUT = 1.0
"""Seconds the check may take before the command goes ahead as if the bot were in the channel."""
KEEP = 60.0
NOT_A_MEMBER = ("I'm not in this channel, so I could not show anything here: invite @shepherd to this "
                "channel first (`/invite @shepherd`), then type the command again. Nothing was started.")


class Membership:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.known: dict[str, float] = {}
        """channel -> when the bot was last seen to be a member."""

    async def bot_is_in(self, client: AsyncWebClient, channel: str) -> bool:
        """False only when Slack says the bot is not in ``channel``."""
        now = self.clock()
        if now - self.known.get(channel, -KEEP) < KEEP:
            return True
        try:
            reply = await asyncio.wait_for(client.conversations_info(channel=channel), TIMEOUT)
        except SlackApiError as exc:
            code = exc.response.get("error")
            if code == "channel_not_found":
                return False
            log.warning("could not check the bot's membership of %s (%s): assuming it is in", channel, code)
            return True
        except (TimeoutError, OSError) as exc:
            log.warning("could not check the bot's membership of %s (%s): assuming it is in", channel,
                        exc.__class__.__name__)
            return True
        info = reply.get("channel") or {}
        member = bool(info.get("is_member", info.get("is_im", False)))  # a DM has no is_member: the bot's own
        if member:
            self.known[channel] = now
        return member
