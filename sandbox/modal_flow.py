"""Submitting and closing modals, and applying the app's ``response_action``.

The person's values become Slack's ``view.state.values``; Slack's client refuses a submission
with a required field empty before the app ever sees it, and so does the sandbox. The app's
acknowledgement then decides what the person sees: no action closes the view, ``errors``
keeps it open with messages under the named inputs, ``update``/``push``/``clear`` change the
stack; no acknowledgement leaves it open, as Slack does, with the failure recorded.
"""

from __future__ import annotations

from typing import Any

from sandbox import payloads
from sandbox.blocks import check_view
from sandbox.errors import ControlError, SlackError
from sandbox.interactions import Interaction, Interactions
from sandbox.state_values import ValueProblem, build_state, client_problems
from sandbox.views import View


def _active_view(flows: Interactions, user_id: str, view_id: str) -> View:
    views = flows.sb.views
    view = views.views.get(view_id)
    if view is None or view.user != user_id or view.type != "modal":
        raise ControlError(404, "view_not_found")
    if not view.is_open or views.top(user_id) is not view:
        raise ControlError(409, "view_not_active", detail="only the top view of an open modal can be used")
    return view


async def submit_view(flows: Interactions, user_id: str, view_id: str, values: dict[str, dict[str, Any]],
                      *, signing: str = "valid", skip_client_validation: bool = False) -> Interaction:
    sb = flows.sb
    user = sb.workspace.user(user_id)
    view = _active_view(flows, user.id, view_id)
    blocks = view.definition.get("blocks") or []
    try:
        view.state_values = build_state(blocks, values, view.state_values)
    except ValueProblem as exc:
        raise ControlError(400, "invalid_values", detail=str(exc)) from exc
    record = flows.new("view_submission", user.id)
    problems = {} if skip_client_validation else client_problems(blocks, view.state_values)
    if problems:
        record.client_errors = problems
        view.errors = problems
        sb.bus.publish("view_errors", user=user.id, view_id=view.id, errors=problems, source="client")
        return record
    record.trigger_id = sb.triggers.issue(user.id, interaction=record.id)
    record.payload = payloads.view_submission(sb.config, user, sb.views.render(view), trigger_id=record.trigger_id)
    delivery = await flows.deliver(record, "interactive", accepts_response_payload=True, signing=signing)
    if not delivery.acked:
        record.effects.append({"effect": "none", "reason": "not_acknowledged",
                               "shown": "We had some trouble connecting. Try again?"})
        return record
    record.effects.append(apply_response_action(flows, view, delivery.ack or {}))
    return record


def apply_response_action(flows: Interactions, view: View, ack: dict[str, Any]) -> dict[str, Any]:
    """What Slack does with a view_submission acknowledgement."""
    views = flows.sb.views
    action = ack.get("response_action")
    if action is None:
        closed = views.close(view.user)
        return {"effect": "closed", "views": [v.id for v in closed]}
    if action == "errors":
        raw = ack.get("errors")
        errors: dict[str, Any] = raw if isinstance(raw, dict) else {}
        inputs = {b.get("block_id") for b in view.definition.get("blocks") or [] if b.get("type") == "input"}
        view.errors = {str(k): str(v) for k, v in errors.items()}
        flows.sb.bus.publish("view_errors", user=view.user, view_id=view.id, errors=view.errors, source="app")
        unknown = sorted(set(view.errors) - inputs)
        return {"effect": "errors", "errors": view.errors, **({"unknown_block_ids": unknown} if unknown else {})}
    if action in ("update", "push"):
        definition = ack.get("view")
        problems = check_view(definition)
        if problems:
            return {"effect": "rejected", "error": "invalid_view", "problems": problems}
        assert isinstance(definition, dict)
        try:
            changed = views.update(view, definition) if action == "update" else views.push(view.user, definition)
        except SlackError as exc:
            return {"effect": "rejected", "error": exc.error}
        return {"effect": "updated" if action == "update" else "pushed", "view_id": changed.id}
    if action == "clear":
        closed = views.close(view.user, everything=True)
        return {"effect": "cleared", "views": [v.id for v in closed]}
    return {"effect": "rejected", "error": f"unknown response_action {action!r}"}


async def close_view(flows: Interactions, user_id: str, view_id: str, *, signing: str = "valid") -> Interaction:
    """The person dismisses the top view; ``view_closed`` is delivered only if the view asked for it."""
    sb = flows.sb
    user = sb.workspace.user(user_id)
    view = _active_view(flows, user.id, view_id)
    clear = bool(view.definition.get("clear_on_close"))
    rendered = sb.views.render(view)
    closed = sb.views.close(user.id, everything=clear)
    record = flows.new("view_closed", user.id)
    record.effects.append({"effect": "cleared" if clear else "closed", "views": [v.id for v in closed]})
    if view.definition.get("notify_on_close"):
        record.payload = payloads.view_closed(sb.config, user, rendered, is_cleared=clear)
        await flows.deliver(record, "interactive", accepts_response_payload=False, signing=signing)
    return record
