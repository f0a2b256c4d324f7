"""Request payloads exactly as Slack builds them for an app.

Bolt routes on these fields (``command``, ``type``, ``actions[0].action_id``,
``view.callback_id``) and Shepherd's bot reads the rest (who clicked, in which channel, on
which message, with which trigger), so every builder follows the shape of Slack's own
payloads field by field, including the ones nobody reads but a real payload always has.
"""

from __future__ import annotations

import time
from typing import Any

from sandbox.config import SandboxConfig
from sandbox.ids import new_event_id, ts_from
from sandbox.model import Channel, User


def _team(cfg: SandboxConfig) -> dict[str, Any]:
    return {"id": cfg.team_id, "domain": cfg.team_domain}


def _user(cfg: SandboxConfig, user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": cfg.team_id}


def _channel_name(channel: Channel) -> str:
    return "directmessage" if channel.is_im else channel.name


def slash_command(cfg: SandboxConfig, user: User, channel: Channel, command: str, text: str, *,
                  trigger_id: str, response_url: str) -> dict[str, Any]:
    """A slash command: flat string fields (Slack posts them as a form, and sends strings over Socket Mode)."""
    payload = {
        "token": cfg.verification_token,
        "team_id": cfg.team_id,
        "team_domain": cfg.team_domain,
        "channel_id": channel.id,
        "channel_name": _channel_name(channel),
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": cfg.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    if cfg.enterprise_id:
        payload.update(enterprise_id=cfg.enterprise_id, enterprise_name=cfg.team_name)
    return payload


def action(element: dict[str, Any], block_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """One entry of ``actions``: the element's identity and what was chosen, stamped with ``action_ts``."""
    kind = element.get("type")
    out: dict[str, Any] = {"type": kind, "action_id": element.get("action_id"), "block_id": block_id}
    if kind == "button":
        out["text"] = element.get("text")
        for name in ("value", "style", "url"):
            if name in element:
                out[name] = element[name]
    else:
        out.update(fields)
        if "placeholder" in element:
            out["placeholder"] = element["placeholder"]
    out["action_ts"] = ts_from(time.time())
    return out


def block_actions(cfg: SandboxConfig, user: User, actions: list[dict[str, Any]], *, trigger_id: str,
                  container: dict[str, Any], channel: Channel | None = None, message: dict[str, Any] | None = None,
                  view: dict[str, Any] | None = None, response_url: str | None = None,
                  state: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``block_actions`` interaction from a message, an ephemeral message or a view."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(cfg, user),
        "api_app_id": cfg.app_id,
        "token": cfg.verification_token,
        "container": container,
        "trigger_id": trigger_id,
        "team": _team(cfg),
        "enterprise": None,
        "is_enterprise_install": False,
    }
    if channel is not None:
        payload["channel"] = {"id": channel.id, "name": _channel_name(channel)}
    if message is not None:
        payload["message"] = message
    if view is not None:
        payload["view"] = view
    payload["state"] = {"values": state or {}}
    if response_url is not None:
        payload["response_url"] = response_url
    payload["actions"] = actions
    return payload


def view_submission(cfg: SandboxConfig, user: User, view: dict[str, Any], *, trigger_id: str) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": _team(cfg),
        "user": _user(cfg, user),
        "api_app_id": cfg.app_id,
        "token": cfg.verification_token,
        "trigger_id": trigger_id,
        "view": view,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_closed(cfg: SandboxConfig, user: User, view: dict[str, Any], *, is_cleared: bool) -> dict[str, Any]:
    return {
        "type": "view_closed",
        "team": _team(cfg),
        "user": _user(cfg, user),
        "api_app_id": cfg.app_id,
        "token": cfg.verification_token,
        "view": view,
        "is_cleared": is_cleared,
        "is_enterprise_install": False,
        "enterprise": None,
    }


def event_callback(cfg: SandboxConfig, event: dict[str, Any]) -> dict[str, Any]:
    """The Events API wrapper around one event, with the bot's authorization."""
    return {
        "token": cfg.verification_token,
        "team_id": cfg.team_id,
        "context_team_id": cfg.team_id,
        "context_enterprise_id": cfg.enterprise_id,
        "api_app_id": cfg.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": new_event_id(),
        "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": cfg.enterprise_id, "team_id": cfg.team_id, "user_id": cfg.bot_user_id,
                            "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
        "event_context": f"4-sandbox-{cfg.team_id}",
    }
