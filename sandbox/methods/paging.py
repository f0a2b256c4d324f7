"""Cursor pagination as Slack does it: ``limit``, ``cursor``, ``response_metadata.next_cursor``."""

from __future__ import annotations

import base64
from typing import Any, TypeVar

from sandbox.errors import SlackError
from sandbox.params import Args

T = TypeVar("T")


def page(items: list[T], args: Args, default_limit: int = 100, max_limit: int = 1000) -> tuple[list[T], str]:
    """One page of ``items`` and the cursor for the next ("" when this is the last page)."""
    limit = args.integer("limit", default_limit) or default_limit
    limit = max(1, min(limit, max_limit))
    offset = 0
    cursor = args.opt("cursor")
    if cursor:
        try:
            kind, _, number = base64.b64decode(cursor).decode().partition(":")
            offset = int(number)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SlackError("invalid_cursor") from exc
        if kind != "offset" or offset < 0:
            raise SlackError("invalid_cursor")
    chunk = items[offset:offset + limit]
    more = offset + limit < len(items)
    next_cursor = base64.b64encode(f"offset:{offset + limit}".encode()).decode() if more else ""
    return chunk, next_cursor


def metadata(next_cursor: str) -> dict[str, Any]:
    return {"response_metadata": {"next_cursor": next_cursor}}
