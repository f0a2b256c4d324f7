"""auth.test and apps.connections.open: who the token is, and where Socket Mode connects."""

from __future__ import annotations

from typing import Any

from sandbox.methods.registry import Call, method


@method("auth.test")
async def auth_test(call: Call) -> dict[str, Any]:
    cfg = call.sb.config
    return {"url": f"{call.sb.base_url}/", "team": cfg.team_name, "user": cfg.bot_name, "team_id": cfg.team_id,
            "user_id": cfg.bot_user_id, "bot_id": cfg.bot_id, "is_enterprise_install": False}


@method("apps.connections.open", token_types=("app",))
async def connections_open(call: Call) -> dict[str, Any]:
    return {"url": call.sb.hub.issue_url(call.sb.base_url)}
