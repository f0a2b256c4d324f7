"""``/control/``: drive the sandbox as the people in the workspace, and bend its environment.

Plain JSON over HTTP for tests and the browser console: act (slash commands, clicks, modal
submissions, typed messages, opening the Home tab) and change the world (reset, channels made
by people, rate limits, channel-creation refusal, Socket Mode refresh, where the app lives).
Reading state is :mod:`sandbox.control_read`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox import clicks, control_read, events_api, modal_flow
from sandbox.control_base import endpoint, need, signing_mode
from sandbox.control_read import SETTABLE, settings_json
from sandbox.errors import ControlError
from sandbox.interactions import Interaction
from sandbox.runtime import Sandbox


@endpoint
async def reset(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    sb.reset()
    return {}


@endpoint
async def create_channel(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    """A person creates a channel (the bot is only in it if listed in ``members``)."""
    ws = sb.workspace
    (name,) = need(body, "name")
    creator = ws.user(body.get("creator", "U0ALICE")).id
    members = [ws.user(m).id for m in body.get("members", [])]
    channel = ws.create_channel(name, creator, is_private=bool(body.get("is_private")), members=members)
    return {"channel": channel.to_slack(sb.config.team_id, ws.bot) | {"members": channel.members}}


# ---- acting as people -------------------------------------------------------------------------


@endpoint
async def slash_command(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> Interaction:
    user, channel, command = need(body, "user", "channel", "command")
    return await sb.interactions.slash_command(user, channel, command, str(body.get("text", "")), signing_mode(body))


@endpoint
async def click(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> Interaction:
    (user,) = need(body, "user")
    if not any(body.get(k) is not None for k in ("action_id", "block_id", "value")):
        raise ControlError(400, "missing_fields", detail="give action_id, or block_id and/or value")
    return await clicks.click(
        sb.interactions, user, channel=body.get("channel"), ts=body.get("ts") or body.get("message_ts"),
        view_id=body.get("view_id"), action_id=body.get("action_id"), block_id=body.get("block_id"),
        value=body.get("value"), selected=body.get("selected"), signing=signing_mode(body))


@endpoint
async def submit_view(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> Interaction:
    user, view_id = need(body, "user", "view_id")
    values = body.get("values") or {}
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise ControlError(400, "invalid_values", detail="values is {block_id: {action_id: value}}")
    return await modal_flow.submit_view(sb.interactions, user, view_id, values, signing=signing_mode(body),
                                        skip_client_validation=bool(body.get("skip_client_validation")))


@endpoint
async def close_view(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> Interaction:
    user, view_id = need(body, "user", "view_id")
    return await modal_flow.close_view(sb.interactions, user, view_id, signing=signing_mode(body))


@endpoint
async def post_as_user(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    user, channel, text = need(body, "user", "channel", "text")
    return await events_api.user_message(sb.interactions, user, channel, str(text), body.get("thread_ts"),
                                         signing=signing_mode(body))


@endpoint
async def home_opened(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    (user,) = need(body, "user")
    record = await events_api.app_home_opened(sb.interactions, user, signing=signing_mode(body))
    return {"delivered": record is not None, "interaction": record.to_json() if record else None}


# ---- environment ------------------------------------------------------------------------------


@endpoint
async def add_rate_limit(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    """``{"method"?, "count"?, "seconds"?, "retry_after"?, "match"?}``: refuse the next N calls (whose
    arguments have the ``match`` values), or all for S seconds."""
    try:
        rule = sb.limiter.add(method=body.get("method"), count=body.get("count"), seconds=body.get("seconds"),
                              retry_after=body.get("retry_after"), match=body.get("match"))
    except TypeError as exc:
        raise ControlError(400, "invalid_rule", detail=str(exc)) from exc
    return {"rule": rule.to_json()}


@endpoint
async def set_tier_limits(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    """``{"enabled"?, "retry_after"?, "per_minute"? {tier: n}, "posts_per_second"?, "post_burst"?}``."""
    unknown = set(body) - {"enabled", "retry_after", "per_minute", "posts_per_second", "post_burst"}
    if unknown:
        raise ControlError(400, "unknown_settings", settings=sorted(unknown))
    try:
        sb.tiers.configure(enabled=body.get("enabled"), retry_after=body.get("retry_after"),
                           per_minute=body.get("per_minute"), posts_per_second=body.get("posts_per_second"),
                           post_burst=body.get("post_burst"))
    except (TypeError, ValueError, AttributeError) as exc:
        raise ControlError(400, "invalid_tiers", detail=str(exc)) from exc
    return {"tiers": sb.tiers.to_json()}


@endpoint
async def clear_rate_limits(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    sb.limiter.clear()
    return {}


@endpoint
async def update_settings(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    """Change ``refuse_channel_creation`` (workspace policy) and the app settings in SETTABLE."""
    unknown = set(body) - SETTABLE - {"refuse_channel_creation"}
    if unknown:
        raise ControlError(400, "unknown_settings", settings=sorted(unknown))
    if "refuse_channel_creation" in body:
        sb.workspace.refuse_channel_creation = bool(body["refuse_channel_creation"])
    for name in SETTABLE & set(body):
        value = body[name]
        setattr(sb.config, name, set(value) if name in ("event_subscriptions", "bot_scopes") else value)
    return {"settings": settings_json(sb)}


@endpoint
async def socket_disconnect(sb: Sandbox, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    """Send Socket Mode's ``disconnect`` (default reason ``refresh_requested``) to every connection."""
    count = await sb.hub.request_refresh(str(body.get("reason") or "refresh_requested"))
    return {"connections": count}


def add_routes(app: web.Application) -> None:
    control_read.add_routes(app)
    r = app.router
    r.add_post("/control/reset", reset)
    r.add_post("/control/channels", create_channel)
    r.add_post("/control/commands", slash_command)
    r.add_post("/control/actions", click)
    r.add_post("/control/views/submit", submit_view)
    r.add_post("/control/views/close", close_view)
    r.add_post("/control/messages", post_as_user)
    r.add_post("/control/app_home_opened", home_opened)
    r.add_post("/control/ratelimit", add_rate_limit)
    r.add_delete("/control/ratelimit", clear_rate_limits)
    r.add_post("/control/ratelimit/tiers", set_tier_limits)
    r.add_post("/control/settings", update_settings)
    r.add_post("/control/socket/disconnect", socket_disconnect)
