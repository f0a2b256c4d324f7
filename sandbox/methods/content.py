"""Message content arguments shared by chat.* and files.*: text, blocks, attachments, thread_ts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.blocks import check_blocks, fill_ids
from sandbox.errors import SlackError
from sandbox.params import Args
from sandbox.workspace import valid_ts

MAX_TEXT = 40_000


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
            raise SlackError("invalid_blocks", errors=problems,
                             response_metadata={"messages": [f"[ERROR] {p}" for p in problems]})
        fill_ids(blocks)
    attachments = args.json("attachments", error="invalid_attachments")
    if attachments is not None and not isinstance(attachments, list):
        raise SlackError("invalid_attachments")
    content = Content(text, blocks, attachments)
    if require and content.empty:
        raise SlackError("no_text")
    if text and len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    return content


def read_thread_ts(args: Args) -> str | None:
    """``thread_ts`` must be a ts *string*: a JSON number (a float that lost digits) is refused."""
    raw = args.raw("thread_ts")
    if raw is None or raw == "":
        return None
    if not valid_ts(raw):
        raise SlackError("invalid_thread_ts")
    return str(raw)
