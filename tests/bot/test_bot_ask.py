"""An ``ask`` in Slack: a "Fill in" message for its assignees, a modal from its form, the answer.

A submission is acknowledged as soon as the form's values check out, before Slack is asked for
the person's groups or Redis for the answer: Slack allows 3 seconds, and a rate-limited lookup
waits out its Retry-After. So the engine's refusal (not an assignee) comes as an ephemeral."""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import BaseModel, Field
from slack_sdk.web.async_client import AsyncWebClient

from bot.forms import loaded_form
from engine import Approvers, Context, process
from engine.client import ShepherdClient
from tests.bot.conftest import Harness, Slack
from tests.helpers import wait_for
from tests.sandbox.control_client import Control, eventually


class OnCall(BaseModel):
    user: str = Field(description="who is on call")
    hours: int = Field(ge=1, le=24)
    handover: bool = False


class AskInputs(BaseModel):
    name: str = "db"


@process("ask-demo", title="Ask demo", inputs=AskInputs)
async def ask_demo(inputs: AskInputs, ctx: Context) -> dict:
    """Ask Bob who is on call."""
    answer = await ctx.ask("Who is on call?", form=OnCall, assignees=Approvers(users=["U0BOB"]))
    return answer.model_dump()


@process("ask-group-demo", title="Ask group demo", inputs=AskInputs)
async def ask_group_demo(inputs: AskInputs, ctx: Context) -> dict:
    """Ask the SRE group who is on call."""
    answer = await ctx.ask("Who is on call?", form=OnCall, assignees=Approvers(groups=["S0SRE"]))
    return answer.model_dump()


async def _ask(slack: Slack, process_id: str = "ask-demo") -> tuple[dict[str, Any], dict[str, Any]]:
    await slack.command("U0ALICE", process_id)
    card = await slack.wait_card()

    async def posted() -> bool:
        return any("shepherd_fill_in" in json.dumps(m.get("blocks")) for m in await slack.thread(card["ts"]))

    await eventually(posted, 10)
    ask = next(m for m in await slack.thread(card["ts"]) if "shepherd_fill_in" in json.dumps(m.get("blocks")))
    return card, ask


async def _open(control: Control, user: str, ts: str) -> dict[str, Any]:
    await control.post("/actions", {"user": user, "channel": "C0OPS", "ts": ts, "action_id": "shepherd_fill_in"})

    async def opened() -> bool:
        return (await control.get(f"/users/{user}/views"))["top"] is not None

    await eventually(opened, 10)
    return (await control.get(f"/users/{user}/views"))["top"]


async def test_ask_filled_in_through_a_modal(harness: Harness, slack: Slack, control: Control,
                                             client: ShepherdClient) -> None:
    card, ask = await _ask(slack)
    assert "<@U0BOB>" in ask["text"] and ask["thread_ts"] == card["ts"]
    run_id = (await client.list_runs())[0]["id"]

    # Someone else: the form opens and is acknowledged, then the engine refuses the answer, and says so.
    view = await _open(control, "U0MALLORY", ask["ts"])
    values = {"field:user": {"value": "U0CAROL"}, "field:hours": {"value": "8"}}
    refused = await control.post("/views/submit", {"user": "U0MALLORY", "view_id": view["id"], "values": values})
    assert refused["ack"] == {"response_action": "clear"}
    await slack.wait_ephemeral("U0MALLORY", "This question is for <@U0BOB>")

    view = await _open(control, "U0BOB", ask["ts"])
    assert view["callback_id"] == "shepherd_answer_form"
    elements = {b["block_id"]: b["element"]["type"] for b in view["blocks"] if b["type"] == "input"}
    assert elements == {"field:user": "users_select", "field:hours": "number_input", "field:handover": "checkboxes"}
    bad = await control.post("/views/submit", {"user": "U0BOB", "view_id": view["id"], "skip_client_validation": True,
                                               "values": {**values, "field:hours": {"value": "99"}}})
    assert list(bad["ack"]["errors"]) == ["field:hours"]
    good = await control.post("/views/submit", {"user": "U0BOB", "view_id": view["id"], "values": {
        **values, "field:handover": {"value": ["yes"]}}})
    assert good["ack"]["response_action"] == "clear", good["ack"]
    run = await wait_for(client, run_id)
    assert json.loads(run.meta["result"]) == {"user": "U0CAROL", "hours": 8, "handover": True}

    async def edited() -> bool:
        text = json.dumps((await slack.message(ask["ts"]))["blocks"])
        return "Answered by <@U0BOB>" in text and "user=U0CAROL" in text and '"actions"' not in text

    await eventually(edited, 10)

    async def shown() -> bool:
        return "answered by <@U0BOB>: user=U0CAROL hours=8 handover=true" in json.dumps(await slack.thread(card["ts"]))

    await eventually(shown, 10)


async def test_answer_is_acknowledged_before_slack_is_asked_for_groups(harness: Harness, slack: Slack,
                                                                        control: Control,
                                                                        client: ShepherdClient) -> None:
    """Before, the submission waited for ``usergroups.users.list`` (and the journal) before its ack:
    one 429 with Retry-After 2 and the ack missed Slack's deadline (1 s here)."""
    _, ask = await _ask(slack, "ask-group-demo")
    run_id = (await client.list_runs())[0]["id"]
    view = await _open(control, "U0BOB", ask["ts"])
    harness.server.config.ack_timeout = 1.0
    await control.post("/ratelimit", {"method": "usergroups.users.list", "count": 1, "retry_after": 2})
    values = {"field:user": {"value": "U0CAROL"}, "field:hours": {"value": "8"}}
    submitted = await control.post("/views/submit", {"user": "U0BOB", "view_id": view["id"], "values": values})
    assert [a["outcome"] for a in submitted["delivery"]["attempts"]] == ["acked"], submitted["delivery"]
    assert submitted["ack"] == {"response_action": "clear"}
    run = await wait_for(client, run_id)  # the answer went in once Slack answered the lookup
    assert json.loads(run.meta["result"]) == {"user": "U0CAROL", "hours": 8, "handover": False}
    lookups = (await control.get("/calls", method="usergroups.users.list"))["calls"]
    assert [c["status"] for c in lookups][:2] == [429, 200], lookups  # the slow path really was taken


def test_a_form_named_in_modal_metadata_is_looked_up_never_imported() -> None:
    """The form's path comes back from Slack: it may name a loaded model, never load a module."""
    assert loaded_form(f"{__name__}:OnCall") is OnCall
    assert loaded_form(f"{__name__}:AskInputs.model_fields") is None  # not a model class
    assert loaded_form("json:JSONDecoder") is None  # a class, but not a form
    assert loaded_form("antigravity:Anything") is None and "antigravity" not in sys.modules
    assert loaded_form(None) is None and loaded_form("") is None


async def test_a_form_opened_by_the_previous_version_still_answers(harness: Harness, slack: Slack,
                                                                   control: Control, client: ShepherdClient) -> None:
    """A modal opened before the form's path was carried in its metadata finds it in the journal."""
    _, ask = await _ask(slack)
    run_id = (await client.list_runs())[0]["id"]
    view = await _open(control, "U0BOB", ask["ts"])
    old = {k: v for k, v in json.loads(view["private_metadata"]).items() if k != "form"}
    web = AsyncWebClient(token=harness.server.bot_token, base_url=harness.server.api_url)
    definition = {k: view[k] for k in ("type", "callback_id", "title", "submit", "close", "blocks")}
    await web.views_update(view_id=view["id"], view={**definition, "private_metadata": json.dumps(old)})
    shown = (await control.get(f"/views/{view['id']}"))["view"]
    assert "form" not in json.loads(shown["private_metadata"])
    values = {"field:user": {"value": "U0CAROL"}, "field:hours": {"value": "3"}}
    submitted = await control.post("/views/submit", {"user": "U0BOB", "view_id": view["id"], "values": values})
    assert submitted["ack"] == {"response_action": "clear"}
    run = await wait_for(client, run_id)
    assert json.loads(run.meta["result"]) == {"user": "U0CAROL", "hours": 3, "handover": False}
