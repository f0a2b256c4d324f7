"""Slack mrkdwn from text people typed: the one place user text is made safe to show in Slack.

Every surface that puts a person's words into a Slack message (the bot's card, gates, thread,
App Home and error replies; a process's notes; a worker's posts and channel topics) passes them
through ``escape``, and builds mentions only with ``mention`` / ``channel`` / ``group``, which
accept nothing but a well-formed Slack id. So a title typed as ``@channel db down
<https://evil.example|Approve here>`` shows as exactly those characters: no ping, no disguised link.

Slack's rule (https://api.slack.com/reference/surfaces/formatting#escaping): ``&``, ``<`` and
``>`` are control characters and must be sent as ``&amp;``, ``&lt;`` and ``&gt;``; nothing else
is escaped. With them escaped, no ``<!channel>``, ``<!here>``, ``<!everyone>``,
``<!subteam^…>``, ``<@U…>``, ``<#C…>`` or ``<url|label>`` can form out of user text; and ``@channel``
written out is plain text, since Shepherd never posts with ``link_names``.

It lives in ``engine`` (not ``bot`` or ``integrations``) because both the bot and processes need
it, and ``engine`` is the one package both already import: ``engine.arguments`` decodes Slack's
escaping on the way in, this module encodes it on the way out. It imports nothing.
"""

from __future__ import annotations

import re

_CONTROL = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,}")
_GROUP_ID = re.compile(r"S[A-Z0-9]{2,}")


def escape(text: object) -> str:
    """``text`` as mrkdwn that shows exactly these characters (``&``, ``<``, ``>`` escaped)."""
    return str(text).translate(_CONTROL)


def is_user_id(value: str) -> bool:
    return bool(_USER_ID.fullmatch(value))


def mention(user: str) -> str:
    """``<@U…>`` for a Slack user id; anything else (a terminal's login name) as plain text."""
    return f"<@{user}>" if is_user_id(user) else escape(user)


def channel(channel_id: str) -> str:
    """``<#C…>`` for a Slack channel id; anything else as plain text."""
    return f"<#{channel_id}>" if _CHANNEL_ID.fullmatch(channel_id) else escape(channel_id)


def group(group_id: str) -> str:
    """``<!subteam^S…>`` for a user group id; a handle as plain ``@handle`` (no ping)."""
    return f"<!subteam^{group_id}>" if _GROUP_ID.fullmatch(group_id) else "@" + escape(group_id.lstrip("@"))
