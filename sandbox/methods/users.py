"""users.* and usergroups.*: the people an app checks permissions against."""

from __future__ import annotations

import time
from typing import Any

from sandbox.errors import SlackError
from sandbox.methods.paging import metadata, page
from sandbox.methods.registry import Call, method


@method("users.info")
async def info(call: Call) -> dict[str, Any]:
    user = call.ws.user(call.args.req("user", error="user_not_found"))
    return {"user": user.to_slack(call.sb.config.team_id)}


@method("users.list")
async def list_(call: Call) -> dict[str, Any]:
    members = [u.to_slack(call.sb.config.team_id) for u in call.ws.users.values()]
    chunk, cursor = page(members, call.args, default_limit=1000)
    return {"members": chunk, "cache_ts": int(time.time()), **metadata(cursor)}


@method("users.lookupByEmail")
async def lookup_by_email(call: Call) -> dict[str, Any]:
    email = call.args.req("email", error="users_not_found").lower()
    for user in call.ws.users.values():
        if user.email and user.email.lower() == email:
            return {"user": user.to_slack(call.sb.config.team_id)}
    raise SlackError("users_not_found")


@method("usergroups.list")
async def usergroups_list(call: Call) -> dict[str, Any]:
    include = call.args.flag("include_users")
    return {"usergroups": [g.to_slack(call.sb.config.team_id, include) for g in call.ws.usergroups.values()]}


@method("usergroups.users.list")
async def usergroup_users(call: Call) -> dict[str, Any]:
    group = call.ws.usergroups.get(call.args.opt("usergroup") or "")
    if group is None:
        raise SlackError("no_such_subteam")
    return {"users": list(group.users)}
