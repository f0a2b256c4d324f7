"""An ``ask`` in Slack: a "Fill in" message for its assignees, a modal from its form, the answer."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

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


async def _ask(slack: Slack) -> tuple[dict[str, Any], dict[str, Any]]:
    await slack.command("U0ALICE", "ask-demo")
    card = await slack.wait_card("Ask demo")

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

    # Someone else: the form opens, but the engine refuses the answer, inline.
    view = await _open(control, "U0MALLORY", ask["ts"])
    values = {"field:user": {"value": "U0CAROL"}, "field:hours": {"value": "8"}}
    refused = await control.post("/views/submit", {"user": "U0MALLORY", "view_id": view["id"], "values": values})
    assert refused["ack"]["response_action"] == "errors"
    assert "This question is for U0BOB" in json.dumps(refused["ack"]["errors"])
    await control.post("/views/close", {"user": "U0MALLORY", "view_id": view["id"]})

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
