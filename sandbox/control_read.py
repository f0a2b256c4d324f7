"""Read-only control endpoints: what the workspace, the app's connections and the records hold.

These are what tests assert on and what the console renders: channels and their messages,
threads, each person's ephemerals, modal stacks and Home tab, files, interactions, deliveries,
Web API calls, settings and the recent event history.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from sandbox.control_base import endpoint
from sandbox.errors import ControlError
from sandbox.escaping import notifies
from sandbox.runtime import Sandbox
from sandbox.sse import stream


@endpoint
async def seed_info(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    cfg, ws = sb.config, sb.workspace
    return {
        "team": {"id": cfg.team_id, "name": cfg.team_name, "domain": cfg.team_domain},
        "app": {"app_id": cfg.app_id, "bot_user_id": cfg.bot_user_id, "bot_id": cfg.bot_id,
                "bot_token": cfg.bot_token, "app_token": cfg.app_token, "signing_secret": cfg.signing_secret},
        "urls": {"base": sb.base_url, "api": f"{sb.base_url}/api/", "control": f"{sb.base_url}/control/",
                 "events": f"{sb.base_url}/control/events"},
        "users": [u.to_slack(cfg.team_id) for u in ws.users.values()],
        "channels": [c.to_slack(cfg.team_id, ws.bot) | {"members": c.members} for c in ws.channels.values()],
        "usergroups": [g.to_slack(cfg.team_id, include_users=True) for g in ws.usergroups.values()],
    }


@endpoint
async def list_channels(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    ws = sb.workspace
    return {"channels": [c.to_slack(sb.config.team_id, ws.bot) | {"members": c.members}
                         for c in ws.channels.values()]}


@endpoint
async def channel_info(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    ws = sb.workspace
    channel = ws.channel(request.match_info["channel"], names=True, users=True)
    return {"channel": channel.to_slack(sb.config.team_id, ws.bot) | {"members": channel.members}}


@endpoint
async def channel_messages(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    """Oldest first; ``?include_replies=1`` lists thread replies too (in ts order)."""
    ws = sb.workspace
    channel = ws.channel(request.match_info["channel"], names=True, users=True)
    if request.query.get("include_replies") in ("1", "true"):
        messages = list(ws.messages.get(channel.id, {}).values())
    else:
        messages = ws.history(channel.id)
    return {"channel": channel.id, "messages": [ws.shown(m) for m in messages]}


@endpoint
async def thread(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    ws = sb.workspace
    channel = ws.channel(request.match_info["channel"], names=True, users=True)
    messages = ws.thread(channel.id, request.match_info["ts"])
    return {"channel": channel.id, "messages": [ws.shown(m) for m in messages]}


@endpoint
async def ephemerals(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    """A person's ephemeral messages, oldest first (``?channel=`` narrows, ``?all=1`` adds deleted ones)."""
    ws = sb.workspace
    user = ws.user(request.match_info["user"])
    channel = request.query.get("channel")
    items = [e for e in ws.ephemerals if e.user == user.id and (request.query.get("all") or not e.deleted)]
    if channel:
        items = [e for e in items if e.channel == ws.channel(channel, names=True, users=True).id]
    return {"user": user.id, "ephemerals": [e.to_json() | {"notifies": notifies(e.text, e.blocks, e.attachments)}
                                            for e in items]}


@endpoint
async def user_views(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    user = sb.workspace.user(request.match_info["user"])
    stack = [sb.views.snapshot(v) for v in sb.views.stack(user.id)]
    return {"user": user.id, "views": stack, "top": stack[-1] if stack else None}


@endpoint
async def view_info(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    return {"view": sb.views.snapshot(sb.views.get(request.match_info["view_id"]))}


@endpoint
async def user_home(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    user = sb.workspace.user(request.match_info["user"])
    home = sb.views.home(user.id)
    return {"user": user.id, "view": sb.views.snapshot(home) if home else None}


@endpoint
async def list_files(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    ws = sb.workspace
    return {"files": [ws.render_file(f) | {"complete": f.complete} for f in ws.files.values()]}


@endpoint
async def file_info(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    file = sb.workspace.files.get(request.match_info["file_id"])
    if file is None:
        raise ControlError(404, "file_not_found")
    return {"file": sb.workspace.render_file(file) | {"complete": file.complete}}


@endpoint
async def file_content(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> web.Response:
    """The bytes, without the bearer token ``url_private`` needs (for the console and tests)."""
    file = sb.workspace.files.get(request.match_info["file_id"])
    if file is None or file.content is None:
        raise ControlError(404, "file_not_found")
    return web.Response(body=file.content, content_type=file.mimetype)


@endpoint
async def interactions(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    return {"interactions": [r.to_json() for r in sb.interactions.records.values()]}


@endpoint
async def interaction(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    return {"interaction": sb.interactions.get(request.match_info["id"]).to_json()}


@endpoint
async def deliveries(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    return {"deliveries": [d.to_json() for d in sb.recorder.deliveries]}


@endpoint
async def calls(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    method = request.query.get("method")
    return {"calls": [c.to_json() for c in sb.recorder.calls if method in (None, c.method)]}


@endpoint
async def event_history(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    since = int(request.query.get("since", "0") or 0)
    return {"events": [e.to_json() for e in sb.bus.history(since)]}


@endpoint
async def rate_limits(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    return {"rules": sb.limiter.to_json(), "tiers": sb.tiers.to_json()}


SETTABLE = {"request_url", "ack_timeout", "trigger_ttl", "connect_wait", "event_subscriptions", "bot_scopes"}


def settings_json(sb: Sandbox) -> dict[str, Any]:
    cfg = dataclasses.asdict(sb.config)
    return {"refuse_channel_creation": sb.workspace.refuse_channel_creation, "transport": sb.deliverer.transport,
            **{k: sorted(v) if isinstance(v, set) else v for k, v in cfg.items() if k in SETTABLE}}


@endpoint
async def get_settings(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    return {"settings": settings_json(sb)}


@endpoint
async def socket_info(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    return {"connections": [c.to_json() for c in sb.hub.connections], "total_connections": sb.hub.total_connections}


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/control/seed", seed_info)
    r.add_get("/control/channels", list_channels)
    r.add_get("/control/channels/{channel}", channel_info)
    r.add_get("/control/channels/{channel}/messages", channel_messages)
    r.add_get("/control/channels/{channel}/threads/{ts}", thread)
    r.add_get("/control/users/{user}/ephemerals", ephemerals)
    r.add_get("/control/users/{user}/views", user_views)
    r.add_get("/control/users/{user}/home", user_home)
    r.add_get("/control/views/{view_id}", view_info)
    r.add_get("/control/files", list_files)
    r.add_get("/control/files/{file_id}", file_info)
    r.add_get("/control/files/{file_id}/content", file_content)
    r.add_get("/control/interactions", interactions)
    r.add_get("/control/interactions/{id}", interaction)
    r.add_get("/control/deliveries", deliveries)
    r.add_get("/control/calls", calls)
    r.add_get("/control/events", stream)
    r.add_get("/control/events/history", event_history)
    r.add_get("/control/ratelimit", rate_limits)
    r.add_get("/control/settings", get_settings)
    r.add_get("/control/socket", socket_info)
