"""Slash commands: ``/run <process> [args]``, ``/run help|status|cancel|signal``, ``/runs [mine|waiting|all]``.

Every handler acknowledges first (Slack allows 3 s) and then does its work, awaited inside
the handler; the reply is an ephemeral to the person. In a channel the bot is not in (where it
can post neither a card nor an ephemeral) nothing starts, and the command's ``response_url``,
which needs no membership, says so: see ``bot.membership``. Errors are raised, never formatted
here: ``bot.errors.handle_error`` is the one place that turns them into messages.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.acks import answer_at_ack
from bot.errors import reported, tell
from bot.forms import needs_form, open_start_form
from bot.ids import mention
from bot.membership import NOT_A_MEMBER, Membership
from bot.permissions import Permissions, check_start
from bot.schedule_store import ScheduleStore
from bot.schedules import VERBS as SCHEDULE_VERBS
from bot.schedules import schedule_command
from bot.settings import BotSettings
from bot.signals import VERB as SIGNAL_VERB
from bot.signals import signal_command
from engine.arguments import ArgumentError, parse_command, split_command_text
from engine.client import ShepherdClient
from engine.errors import NotAllowed
from engine.mrkdwn import escape
from engine.registry import PROCESSES, get_process

RUNS_FILTERS = ("mine", "waiting", "all")


def help_text(command: str) -> str:
    if not PROCESSES:
        return "No processes are registered."
    lines = ["*Processes* (details: `" + command + " help <process>`)"]
    for definition in sorted(PROCESSES.values(), key=lambda d: d.id):  # usage has <placeholders>: escaped
        lines.append(f"• `{command} {escape(definition.usage())}` — {escape(definition.summary)}")
    lines.append(f"Also: `{command} status <run>`, `{command} cancel <run> [reason]`, `{command} retry <run>`, "
                 f"`{command} signal <run> <signal> [key=value]`, "
                 f"`{command} schedule <process> \"<cron>\" [args]`, `{command} schedules`, "
                 "`/runs [mine|waiting|all]`")
    return "\n".join(lines)


def process_help(command: str, process_id: str) -> str:
    definition = get_process(process_id)
    lines = [f"*{escape(definition.title)}* — {escape(definition.summary)}",
             f"Usage: `{command} {escape(definition.usage())}`", "Inputs:"]
    for name, info in definition.inputs.model_fields.items():
        default = escape(repr(info.get_default(call_default_factory=True)))
        need = "required" if info.is_required() else f"default `{default}`"
        lines.append(f"• `{name}` {escape(info.description or '')} ({need})")
    return "\n".join(lines)


async def run_command(engine: ShepherdClient, command: str, body: dict[str, Any],
                      client: AsyncWebClient | None = None, permissions: Permissions | None = None, *,
                      schedules: ScheduleStore) -> str | None:
    """What ``/run`` does with its text; returns the reply, or None when a form opened instead
    (errors are raised). ``permissions``: who may start (or retry) which process, and where;
    ``schedules``: the bot's own schedule records (not the engine's: runs go through ``engine``)."""
    tokens = split_command_text(body.get("text") or "")
    user, channel = body["user_id"], body["channel_id"]
    verb = tokens[0].lower() if tokens else "help"
    if verb == "help":
        return process_help(command, tokens[1]) if len(tokens) > 1 else help_text(command)
    if verb in SCHEDULE_VERBS:  # the creator of a schedule starts its runs: the start rule applies now
        return await schedule_command(schedules, command, tokens, body, may_start=lambda process: check_start(
            client, permissions, process, user=user, channel=channel))
    if verb == SIGNAL_VERB:
        return await signal_command(engine, command, tokens, body, client)
    if verb in ("status", "cancel", "retry"):
        if len(tokens) < 2 or (len(tokens) > 2 and verb != "cancel"):  # only cancel takes more: a reason
            raise ArgumentError(f"usage: {command} {verb} <run id>" + (" [reason]" if verb == "cancel" else ""))
        if verb == "status":
            view = await engine.view(tokens[1])
            steps = "\n".join(f"• {escape(s.name)}: {s.state}" + (f" — {escape(s.detail)}" if s.detail else "")
                              for s in view.steps)
            return f"Run `{view.id}` ({escape(view.meta.get('process'))}): *{view.status}*" + (
                f"\n{steps}" if steps else "")
        meta = (await engine.view(tokens[1])).meta
        if meta.get("requester") != user:
            raise NotAllowed(f"only the requester ({mention(meta.get('requester', '?'))}) can {verb} this run")
        if verb == "retry":  # a retry starts the process's work again: the start rule applies, in its channel
            await check_start(client, permissions, meta.get("process", ""), user=user,
                              channel=meta.get("channel") or channel)
            return (await engine.retry(tokens[1], by=user)).capitalize()
        return (await engine.cancel(tokens[1], by=user, reason=" ".join(tokens[2:]))).capitalize()
    definition = get_process(tokens[0])
    await check_start(client, permissions, definition.id, user=user, channel=channel)
    prefill = needs_form(definition, tokens[1:])
    if prefill is not None and client is not None and body.get("trigger_id"):
        return await open_start_form(client, command, definition, prefill, body)
    inputs = parse_command(definition.inputs, definition.positional, tokens[1:])
    run_id = await engine.start(definition.id, inputs, requester=user, channel=channel,
                                dedup=body.get("trigger_id") or None)
    return f"Started *{definition.title}*: run `{run_id}`. Its status card is in this channel."


async def runs_command(engine: ShepherdClient, body: dict[str, Any]) -> str:
    which = (body.get("text") or "mine").strip().lower() or "mine"
    if which not in RUNS_FILTERS:
        shown = which if len(which) <= 60 else which[:57] + "…"  # one line, whatever was pasted
        raise ArgumentError(f"expected one of {', '.join(RUNS_FILTERS)}, got '{shown}'")
    if which == "mine":
        runs = await engine.list_runs(requester=body["user_id"], limit=20)
    else:
        runs = await engine.list_runs(status="waiting" if which == "waiting" else None, limit=20)
    if not runs:
        return f"No runs ({which})."
    return "\n".join(f"• `{r['id']}` {r.get('process')} — *{r.get('status')}* "
                     f"(by {mention(r.get('requester', '?'))}, {r.get('created_at', '')[:16].replace('T', ' ')})"
                     for r in runs)


def register_commands(app: AsyncApp, engine: ShepherdClient, settings: BotSettings,
                      schedules: ScheduleStore) -> None:
    membership = Membership()

    @app.command(settings.run_command)
    @answer_at_ack
    @reported
    async def on_run(ack: Any, body: dict[str, Any], client: AsyncWebClient, respond: Any) -> None:
        await ack()
        if not await membership.bot_is_in(client, body["channel_id"]):
            await respond(text=NOT_A_MEMBER, response_type="ephemeral")
            return
        reply = await run_command(engine, settings.run_command, body, client, settings.permissions,
                                  schedules=schedules)
        if reply:
            await tell(client, body, reply)

    @app.command(settings.runs_command)
    @answer_at_ack
    @reported
    async def on_runs(ack: Any, body: dict[str, Any], client: AsyncWebClient, respond: Any) -> None:
        await ack()
        if not await membership.bot_is_in(client, body["channel_id"]):
            await respond(text=NOT_A_MEMBER, response_type="ephemeral")
            return
        await tell(client, body, await runs_command(engine, body))
