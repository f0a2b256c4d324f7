"""Forms: the start form of ``/run`` and the answer form of an ``ask``.

Start forms: ``/run <process>`` without its required inputs opens a modal instead of failing.

The modal is built from the process's input model (``bot.render.form``), pre-filled with what
the command line gave. A submission is validated by ``engine.arguments``; problems come back
inline (``response_action: errors``, keyed by block), otherwise the modal is cleared and the
run started once, deduplicated on the view id (Slack may deliver a submission twice).

Answer forms: an ask's "Fill in" button opens a modal built from the ask's form model; a
submission is checked against that model (inline errors), acknowledged, and only then given to
``ShepherdClient.answer``. Slack allows 3 seconds for the acknowledgement, and the answer needs
the person's groups from Slack (rate-limited: a 429 says wait 30 s) and Redis, so those wait
until after it; the engine's refusals (not an assignee, already answered, run closed) reach the
person as an ephemeral, as the start form's do. The notifier then edits the ask message.
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic import BaseModel
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.acks import answer_at_ack
from bot.actions import from_home, member_groups
from bot.errors import reported, tell
from bot.ids import ActionId, AnswerContext, CallbackId, GateRef, StartContext
from bot.permissions import Permissions, check_start
from bot.render.form import form_blocks, read_submission
from bot.render.text import short, shown
from engine.arguments import ArgumentError, missing_required, parse_arguments
from engine.client import ShepherdClient, import_form
from engine.errors import UnknownGate
from engine.registry import ProcessDef, get_process

TRIGGER_PROBLEMS = ("expired_trigger_id", "exchanged_trigger_id", "invalid_trigger_id")


def start_modal(definition: ProcessDef, prefill: dict[str, Any], ctx: StartContext) -> dict[str, Any]:
    return {
        "type": "modal", "callback_id": CallbackId.START_FORM, "private_metadata": ctx.model_dump_json(),
        "title": {"type": "plain_text", "text": short(f"Run {definition.title}", 24)},
        "submit": {"type": "plain_text", "text": "Start"}, "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": short(definition.summary, 3000)}},
                   *form_blocks(definition.inputs, prefill)],
    }


def needs_form(definition: ProcessDef, tokens: list[str]) -> dict[str, Any] | None:
    """The values given so far when only required inputs are missing; None to parse as usual
    (complete, or malformed: then the command's own error lists every problem)."""
    try:
        raw = parse_arguments(definition.inputs, definition.positional, tokens)
    except ArgumentError:
        return None
    return raw if missing_required(definition.inputs, raw) else None


async def open_start_form(client: AsyncWebClient, command: str, definition: ProcessDef,
                          prefill: dict[str, Any], body: dict[str, Any]) -> str | None:
    """Open the form; returns a message for the person when Slack refused the trigger."""
    ctx = StartContext(process=definition.id, channel=body["channel_id"])
    try:
        await client.views_open(trigger_id=body["trigger_id"], view=start_modal(definition, prefill, ctx))
    except SlackApiError as exc:
        if exc.response.get("error") not in TRIGGER_PROBLEMS:
            raise
        return (f"The form for *{definition.title}* could not be opened in time (Slack allows 3 seconds). "
                f"Run the command again, or give every input: `{command} {definition.usage()}`")
    return None


def answer_modal(title: str, form: type[BaseModel], ctx: AnswerContext) -> dict[str, Any]:
    return {
        "type": "modal", "callback_id": CallbackId.ANSWER_FORM, "private_metadata": ctx.model_dump_json(),
        "title": {"type": "plain_text", "text": "Answer"}, "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{shown(title, 2900)}*"}},
                   *form_blocks(form)],
    }


async def ask_form(engine: ShepherdClient, run_id: str, key: str) -> tuple[str, str]:
    """The ask's title and its form's import path, from its request in the journal."""
    request = next((e for e in await engine.journal(run_id)
                    if e["type"] == "effect_requested" and e["key"] == key and e["kind"] == "ask"), None)
    if request is None:
        raise UnknownGate(run_id, key, "question")
    return str(request["args"].get("title") or key), str(request["args"]["form"])


def loaded_form(ref: str | None) -> type[BaseModel] | None:
    """The form model ``ref`` names, if its module is already loaded (process modules are, at start).

    The ref comes back from Slack in a modal's metadata: it may name a class, never cause an
    import. The engine checks the answer against the journal's own form again in any case."""
    module_name, _, qualname = (ref or "").partition(":")
    obj: Any = sys.modules.get(module_name)
    if obj is None or not qualname:
        return None
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj if isinstance(obj, type) and issubclass(obj, BaseModel) else None


def register_forms(app: AsyncApp, engine: ShepherdClient, permissions: Permissions | None = None) -> None:
    @app.action(ActionId.FILL_IN)
    @answer_at_ack
    @reported
    async def on_fill_in(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        ref = GateRef.model_validate_json(body["actions"][0]["value"])
        await from_home(engine, body, ref.run)
        title, form_ref = await ask_form(engine, ref.run, ref.gate)
        message = body.get("message") or {}
        ctx = AnswerContext(run=ref.run, gate=ref.gate, channel=(body.get("channel") or {}).get("id", ""),
                            thread_ts=message.get("thread_ts"), form=form_ref)
        await client.views_open(trigger_id=body["trigger_id"], view=answer_modal(title, import_form(form_ref), ctx))

    @app.view(CallbackId.ANSWER_FORM)
    @answer_at_ack
    @reported
    async def on_answer(ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        ctx = AnswerContext.model_validate_json(view["private_metadata"])
        form = loaded_form(ctx.form) or import_form((await ask_form(engine, ctx.run, ctx.gate))[1])
        answer, errors = read_submission(form, view["state"]["values"])
        if answer is None:
            await ack(response_action="errors", errors=errors)
            return
        await ack(response_action="clear")
        user = body["user"]["id"]
        groups = await member_groups(client, engine, ctx, user)
        # not an assignee, already answered, run closed: raised, and told to the person by bot.errors
        await engine.answer(ctx.run, ctx.gate, user=user, values=answer.model_dump(mode="json"), groups=groups)

    @app.view(CallbackId.START_FORM)
    @answer_at_ack
    @reported
    async def on_start(ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        ctx = StartContext.model_validate_json(view["private_metadata"])
        definition = get_process(ctx.process)
        inputs, errors = read_submission(definition.inputs, view["state"]["values"])
        if inputs is None:
            await ack(response_action="errors", errors=errors)
            return
        await ack(response_action="clear")
        user = body["user"]["id"]
        # checked again at submission: the form may have been opened before the rules (or groups) changed
        await check_start(client, permissions, definition.id, user=user, channel=ctx.channel)
        run_id = await engine.start(definition.id, inputs, requester=user, channel=ctx.channel,
                                    dedup=f"view:{view['id']}")
        await tell(client, body, f"Started *{definition.title}*: run `{run_id}`. Its status card is in this channel.")
