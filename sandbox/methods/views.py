"""views.*: modals opened with a trigger_id, updated by id, and App Home tabs."""

from __future__ import annotations

from typing import Any

from sandbox.blocks import check_view
from sandbox.errors import SlackError, invalid_arguments
from sandbox.methods.registry import Call, method


def _definition(call: Call) -> dict[str, Any]:
    view = call.args.json("view")
    if view is None:
        raise invalid_arguments("missing required field: view")
    problems = check_view(view)
    if problems:
        raise invalid_arguments(*problems)
    assert isinstance(view, dict)
    return view


def _trigger_user(call: Call) -> str:
    trigger_id = call.args.opt("trigger_id") or call.args.opt("interactivity_pointer")
    if trigger_id is None:
        raise invalid_arguments("missing required field: trigger_id")
    return call.sb.triggers.consume(trigger_id).user


@method("views.open")
async def open_(call: Call) -> dict[str, Any]:
    definition = _definition(call)
    view = call.sb.views.open(_trigger_user(call), definition)
    return {"view": call.sb.views.render(view)}


@method("views.push")
async def push(call: Call) -> dict[str, Any]:
    definition = _definition(call)
    view = call.sb.views.push(_trigger_user(call), definition)
    return {"view": call.sb.views.render(view)}


@method("views.update")
async def update(call: Call) -> dict[str, Any]:
    definition = _definition(call)
    views = call.sb.views
    view_id, external_id = call.args.opt("view_id"), call.args.opt("external_id")
    if view_id is None and external_id is None:
        raise invalid_arguments("must provide either view_id or external_id")
    view = views.get(view_id) if view_id else views.by_external_id(str(external_id))
    if view.type == "modal" and not view.is_open:
        raise SlackError("not_found")
    updated = views.update(view, definition, call.args.opt("hash"))
    return {"view": views.render(updated)}


@method("views.publish")
async def publish(call: Call) -> dict[str, Any]:
    definition = _definition(call)
    user = call.ws.user(call.args.req("user_id", error="user_not_found"))
    view = call.sb.views.publish_home(user.id, definition, call.args.opt("hash"))
    return {"view": call.sb.views.render(view)}
