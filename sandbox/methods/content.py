"""Message content arguments shared by chat.* and files.*: text, blocks, attachments, thread_ts,
metadata."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sandbox.blocks import check_attachments, check_blocks, fill_ids
from sandbox.errors import SlackError
from sandbox.params import Args
from sandbox.workspace import valid_ts

MAX_TEXT = 40_000
EVENT_TYPE = re.compile(r"[A-Za-z0-9_-]+")
"""https://docs.slack.dev/messaging/message-metadata#defining: "letters, numbers, underscores, and hyphens"."""


@dataclass
class Content:
    """A message body after validation; any part may be absent."""

    text: str | None
    blocks: list[dict[str, Any]] | None
    attachments: list[dict[str, Any]] | None

    @property
    def empty(self) -> bool:
        return not self.text and not self.blocks and not self.attachments


def read_content(args: Args, *, require: bool = True) -> Content:
    """Validate a message body the way Slack does: ``no_text``, ``invalid_blocks``, ``msg_too_long``."""
    text = args.opt("text")
    blocks = args.json("blocks", error="invalid_blocks")
    if blocks is not None:
        problems = check_blocks(blocks)
        if problems:
            raise invalid("invalid_blocks", problems)
        fill_ids(blocks)
    attachments = args.json("attachments", error="invalid_attachments")
    if attachments is not None:
        problems = check_attachments(attachments)
        if problems:
            raise invalid("invalid_attachments", problems)
    content = Content(text, blocks, attachments)
    if require and content.empty:
        raise SlackError("no_text")
    if text and len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    return content


def invalid(error: str, problems: list[str]) -> SlackError:
    """Slack's shape for a refused message part: the code, ``errors`` and ``[ERROR]`` lines."""
    return SlackError(error, errors=problems, response_metadata={"messages": [f"[ERROR] {p}" for p in problems]})


@dataclass
class Metadata:
    """``metadata`` after validation: the value to store (None: none given, or ignored) and any warning."""

    value: dict[str, Any] | None
    warning: str | None = None


def read_metadata(args: Args) -> Metadata:
    """Message metadata is an object with a string ``event_type`` and an object ``event_payload``.

    Anything else is ``invalid_metadata_format`` (https://api.slack.com/methods/chat.postMessage#errors);
    a well-formed one whose event_type has other characters than letters, digits, ``_`` and ``-``
    "returns an invalid_metadata_schema warning and is ignored" (https://api.slack.com/reference/metadata,
    now https://docs.slack.dev/messaging/message-metadata#defining).
    """
    metadata = args.json("metadata", error="invalid_metadata_format")
    if metadata is None:
        return Metadata(None)
    if not isinstance(metadata, dict):
        raise invalid("invalid_metadata_format", ["expected object [json-pointer:/metadata]"])
    problems = []
    if not isinstance(metadata.get("event_type"), str) or not metadata["event_type"]:
        problems.append("event_type must be a non-empty string [json-pointer:/metadata/event_type]")
    if not isinstance(metadata.get("event_payload"), dict):
        problems.append("event_payload must be an object [json-pointer:/metadata/event_payload]")
    if problems:
        raise invalid("invalid_metadata_format", problems)
    if not EVENT_TYPE.fullmatch(metadata["event_type"]):
        return Metadata(None, warning="invalid_metadata_schema")
    return Metadata(metadata)


def read_thread_ts(args: Args) -> str | None:
    """``thread_ts`` must be a ts *string*: a JSON number (a float that lost digits) is refused."""
    raw = args.raw("thread_ts")
    if raw is None or raw == "":
        return None
    if not valid_ts(raw):
        raise SlackError("invalid_thread_ts")
    return str(raw)
