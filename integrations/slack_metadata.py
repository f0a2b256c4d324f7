"""Finding a message Shepherd posted by the metadata it carries, after a crash lost its ts.

Both the bot (cards, thread lines, gates) and the workers (incident channel posts) post with
`message metadata <https://api.slack.com/metadata/using>`_ naming what the post is for; a
process that died between ``chat.postMessage`` and recording its ts reads the channel back
(``conversations.history`` / ``replies`` with ``include_all_metadata``) and looks for it here
before posting again. This module is the Redis-free part they share: the shape and the match.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def metadata(event_type: str, **payload: Any) -> dict[str, Any]:
    """``metadata`` for chat.postMessage: an ``event_type`` and a flat ``event_payload``."""
    return {"event_type": event_type, "event_payload": payload}


def find_message(messages: Iterable[dict[str, Any]], event_type: str, **match: Any) -> dict[str, Any] | None:
    """The first message whose metadata has ``event_type`` and every ``match`` field in its payload."""
    for message in messages:
        meta = message.get("metadata") or {}
        payload = meta.get("event_payload") or {}
        if meta.get("event_type") == event_type and all(payload.get(k) == v for k, v in match.items()):
            return message
    return None
