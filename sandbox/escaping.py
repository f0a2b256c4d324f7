"""Slack's escaping of what people type, and the marks of a message that would notify people.

Inbound: Slack never hands an app the raw text of a slash command. ``&``, ``<`` and ``>`` always
arrive as ``&amp;``, ``&lt;`` and ``&gt;`` (https://api.slack.com/reference/surfaces/formatting#escaping),
and with the command's ``should_escape`` on ("Escape channels, users, and links sent to your app",
https://api.slack.com/interactivity/slash-commands) typed ``@name`` arrives as ``<@U…|name>``,
``#channel`` as ``<#C…|channel>``, ``@here`` / ``@channel`` / ``@everyone`` as ``<!here>`` …,
``@group`` as ``<!subteam^S…|@group>``, a URL as ``<https://…>`` and an e-mail address as
``<mailto:a@b.example|a@b.example>``. Shepherd's manifest sets
``should_escape: true`` on both its commands, so the sandbox does the same by default: an app that
puts that text back into a message unescaped pings and links just as it would in Slack.

Outbound: ``notifies`` reads a stored message as Slack's clients would and lists whom it would
notify: ``channel``, ``here``, ``everyone``, ``subteam^S…`` and user ids
(https://api.slack.com/reference/surfaces/formatting#mentioning-users). Only mrkdwn counts:
``plain_text`` objects show ``<!channel>`` as those characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

_CONTROL = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_SPECIAL = ("here", "channel", "everyone")
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]|[A-Za-z0-9]"
_TYPED = re.compile(
    r"(?P<email>(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
    rf"|(?<![\w@#/])(?P<sigil>[@#])(?P<name>{_NAME})"
    r"|(?P<url>https?://[^\s<>|\"'\\\u201c\u201d\u2018\u2019]+)"
)


def escape_command_text(text: str, *, users: Mapping[str, str], channels: Mapping[str, str],
                        groups: Mapping[str, str], should_escape: bool = True) -> str:
    """The ``text`` field Slack sends for a command typed as ``text``.

    ``users``, ``channels`` and ``groups`` map a name (``bob``, ``ops``, ``sre``) to its id. Names
    nobody has stay as typed, as Slack leaves an ``@nobody`` alone.
    """
    escaped = text.translate(_CONTROL)
    if not should_escape:
        return escaped

    def reference(match: re.Match[str]) -> str:
        if match["email"]:
            return f"<mailto:{match['email']}|{match['email']}>"
        if match["url"]:
            return f"<{match['url']}>"
        name = match["name"]
        if match["sigil"] == "#":
            return f"<#{channels[name]}|{name}>" if name in channels else match[0]
        if name in _SPECIAL:
            return f"<!{name}>"
        if name in users:
            return f"<@{users[name]}|{name}>"
        if name in groups:
            return f"<!subteam^{groups[name]}|@{name}>"
        return match[0]

    return _TYPED.sub(reference, escaped)


_PING = re.compile(r"<!(here|channel|everyone)(?:\|[^<>]*)?>|<!(subteam\^[A-Za-z0-9]+)(?:\|[^<>]*)?>"
                   r"|<@([UW][A-Za-z0-9]+)(?:\|[^<>]*)?>")


_SHOWN = ("text", "pretext", "fallback", "title", "footer", "author_name")
"""Keys whose string is shown to people (a button's ``value`` is data nobody sees)."""


def _mrkdwn_texts(node: Any) -> Iterator[str]:
    """Every shown string in blocks or attachments (``plain_text`` objects skipped)."""
    if isinstance(node, list):
        for item in node:
            yield from _mrkdwn_texts(item)
    elif isinstance(node, dict) and node.get("type") != "plain_text":
        for key, value in node.items():
            if isinstance(value, str):
                if key in _SHOWN:
                    yield value
            else:
                yield from _mrkdwn_texts(value)


def notifies(text: str, blocks: Any = None, attachments: Any = None) -> list[str]:
    """Whom a message would notify, in order: ``channel``, ``here``, ``everyone``, ``subteam^S…``
    or a user id; empty for a message that pings nobody."""
    found: dict[str, None] = {}
    for piece in [text or "", *_mrkdwn_texts(blocks or []), *_mrkdwn_texts(attachments or [])]:
        for match in _PING.finditer(piece):
            found[match[1] or match[2] or match[3]] = None
    return list(found)
