"""What Slack echoes back of ours is checked before a listener reads it.

A button's ``value`` (a ``GateRef``) and a modal's ``private_metadata`` (a context model) are
written by the bot and come back in every click and submission. One that does not parse is not
a person's mistake but a forged or corrupted request: it is refused (400 over HTTP; no ack in
Socket Mode, which is what Slack gets for any request no listener takes) and logged as one
line. Before, it reached the listener after its ack, raised there, and logged a traceback and
"Sorry, something went wrong" to whoever the body named. Runs in both transports (a Bolt
middleware); ``bot.inbound`` has already checked the Slack-defined shape in HTTP mode.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from bot.ids import ActionId, AnswerContext, CallbackId, GateRef, RejectContext, StartContext

log = logging.getLogger(__name__)

BUTTON_VALUES: dict[str, type[BaseModel]] = {ActionId.APPROVE: GateRef, ActionId.REJECT: GateRef,
                                             ActionId.FILL_IN: GateRef}
MODAL_METADATA: dict[str, type[BaseModel]] = {CallbackId.REJECT_REASON: RejectContext,
                                              CallbackId.START_FORM: StartContext,
                                              CallbackId.ANSWER_FORM: AnswerContext}


def _parses(model: type[BaseModel], text: Any) -> bool:
    if not isinstance(text, str):
        return False
    try:
        model.model_validate_json(text)
    except ValidationError:
        return False
    return True


def echo_problem(body: dict[str, Any]) -> str | None:
    """What of ours came back unreadable, or None (also for requests that carry nothing of ours)."""
    kind = body.get("type")
    if kind == "block_actions":
        for action in body.get("actions") or []:
            model = BUTTON_VALUES.get(action.get("action_id", "")) if isinstance(action, dict) else None
            if model is not None and not _parses(model, action.get("value")):
                return f"the value of button {action['action_id']} is not a {model.__name__}"
    if kind in ("view_submission", "view_closed"):
        view = body.get("view")
        if not isinstance(view, dict):
            return None
        model = MODAL_METADATA.get(view.get("callback_id", ""))
        if model is not None:
            if not _parses(model, view.get("private_metadata")):
                return f"the metadata of modal {view['callback_id']} is not a {model.__name__}"
            values = (view.get("state") or {}).get("values")
            if not isinstance(values, dict) or not all(
                    isinstance(block, dict) and all(isinstance(element, dict) for element in block.values())
                    for block in values.values()):
                return f"the state of modal {view['callback_id']} is not blocks of elements"
    return None


def register_echo_check(app: AsyncApp) -> None:
    @app.middleware
    async def refuse_unreadable_echoes(body: dict[str, Any], next: Callable[[], Awaitable[Any]]) -> Any:
        problem = echo_problem(body)
        if problem is None:
            return await next()
        log.info("refused an interaction: %s", problem)
        return BoltResponse(status=400, body=problem)
