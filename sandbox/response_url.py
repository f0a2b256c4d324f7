"""response_url: the per-interaction webhook an app answers a command or click through.

Each slash command and message interaction gets its own URL (usable five times, for thirty
minutes). What is POSTed there is applied as Slack applies it: ``delete_original``,
``replace_original`` (for the message or ephemeral the click came from), otherwise a new
message, ephemeral to the person unless ``response_type`` is ``in_channel``. A slash command's
immediate acknowledgement with text is applied the same way.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sandbox.appkey import sandbox_of
from sandbox.blocks import check_attachments, check_blocks, fill_ids
from sandbox.config import SandboxConfig
from sandbox.errors import SlackError
from sandbox.workspace import Workspace

LIFETIME = 30 * 60


@dataclass
class Hook:
    """One response_url and what it may act on (the source message, the person, the thread)."""

    id: str
    secret: str
    kind: str
    """commands or actions (the path segment Slack uses)."""
    user: str
    channel: str
    url: str
    source_ts: str | None = None
    """The message (or ephemeral message) the interaction came from, if any."""
    source_ephemeral: bool = False
    thread_ts: str | None = None
    interaction_id: str | None = None
    uses: int = 0
    created: float = field(default_factory=time.monotonic)
    posts: list[dict[str, Any]] = field(default_factory=list)


class ResponseUrls:
    """Issues response URLs; long-expired ones are forgotten so the table stays small."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.hooks: dict[str, Hook] = {}

    def create(self, base_url: str, kind: str, *, user: str, channel: str, source_ts: str | None = None,
               source_ephemeral: bool = False, thread_ts: str | None = None,
               interaction_id: str | None = None) -> Hook:
        horizon = time.monotonic() - 2 * LIFETIME  # long expired ones are forgotten (then: no_service)
        self.hooks = {k: h for k, h in self.hooks.items() if h.created > horizon}
        hook_id, secret = str(secrets.randbelow(10**13)), secrets.token_urlsafe(18)
        url = f"{base_url}/hooks/{kind}/{self.config.team_id}/{hook_id}/{secret}"
        hook = Hook(hook_id, secret, kind, user, channel, url, source_ts, source_ephemeral, thread_ts, interaction_id)
        self.hooks[hook_id] = hook
        return hook


def apply_response(ws: Workspace, hook: Hook, body: dict[str, Any], source: str) -> dict[str, Any]:
    """Carry out one response (from a response_url POST or a command's ack); returns what it did."""
    channel = ws.channel(hook.channel)
    raw_text = body.get("text")
    text = raw_text if isinstance(raw_text, str) else ""
    blocks = body.get("blocks")
    attachments = body.get("attachments")
    if blocks is not None:
        problems = check_blocks(blocks)
        if problems:
            raise SlackError("invalid_blocks", errors=problems)
        fill_ids(blocks)
    if attachments is not None:
        problems = check_attachments(attachments)
        if problems:
            raise SlackError("invalid_attachments", errors=problems)
    if body.get("delete_original"):
        if hook.source_ts is None:
            raise SlackError("message_not_found")
        if hook.source_ephemeral:
            item = ws.ephemeral(channel.id, hook.source_ts, hook.user)
            if item is None:
                raise SlackError("message_not_found")
            ws.delete_ephemeral(item)
        else:
            ws.delete(channel, hook.source_ts, by=ws.message(channel.id, hook.source_ts).user)
        return {"effect": "deleted", "ts": hook.source_ts}
    if not text and not blocks and not attachments:
        raise SlackError("no_text")
    if body.get("replace_original") and hook.source_ts is not None:
        if hook.source_ephemeral:
            item = ws.ephemeral(channel.id, hook.source_ts, hook.user)
            if item is None:
                raise SlackError("message_not_found")
            ws.replace_ephemeral(item, text=text, blocks=blocks, attachments=attachments)
        else:
            original = ws.message(channel.id, hook.source_ts)
            ws.update(channel, original.ts, original.user, text=text, blocks=blocks or [],
                      attachments=attachments or [], mark_edited=False)
        return {"effect": "replaced", "ts": hook.source_ts}
    thread_ts = body.get("thread_ts") if isinstance(body.get("thread_ts"), str) else hook.thread_ts
    if body.get("response_type") == "in_channel":
        message = ws.post(channel, ws.bot, text=text, blocks=blocks, attachments=attachments, thread_ts=thread_ts)
        return {"effect": "in_channel", "ts": message.ts}
    item = ws.post_ephemeral(channel, hook.user, text=text, blocks=blocks, attachments=attachments,
                             thread_ts=thread_ts, source=source)
    return {"effect": "ephemeral", "ts": item.ts}


async def handle_hook(request: web.Request) -> web.Response:
    """``POST /hooks/{kind}/{team}/{id}/{secret}``: JSON in, ``{"ok": true}`` out (or Slack's error)."""
    sandbox = sandbox_of(request)
    hook = sandbox.hooks.hooks.get(request.match_info["hook_id"])
    if hook is None or hook.secret != request.match_info["secret"] or hook.kind != request.match_info["kind"]:
        return web.json_response({"ok": False, "error": "no_service"}, status=404)
    if time.monotonic() - hook.created > LIFETIME:
        return web.json_response({"ok": False, "error": "expired_url"}, status=404)
    if hook.uses >= sandbox.config.response_url_uses:
        return web.json_response({"ok": False, "error": "used_url"}, status=404)
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return web.json_response({"ok": False, "error": "invalid_payload"}, status=400)
    hook.uses += 1
    try:
        result = apply_response(sandbox.workspace, hook, body, source="response_url")
    except SlackError as exc:
        hook.posts.append({"body": body, "error": exc.error})
        return web.json_response(exc.body(), status=400 if exc.error != "message_not_found" else 404)
    hook.posts.append({"body": body, **result})
    sandbox.bus.publish("response_url_used", hook=hook.id, interaction=hook.interaction_id, body=body, **result)
    return web.json_response({"ok": True})
