"""Start forms: missing required inputs open a modal built from the process's inputs."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, Field

from engine import Context, process
from engine.client import ShepherdClient
from tests.bot.conftest import Harness, Slack
from tests.helpers import wait_for
from tests.sandbox.control_client import Control, eventually


class Severity(Enum):
    SEV1 = "SEV-1"
    SEV2 = "SEV-2"


class IncidentInputs(BaseModel):
    title: str = Field(description="what is broken")
    severity: Severity
    commander: str
    region: Literal["eu", "us"] = "eu"
    page: bool = False
    responders: int = Field(default=2, ge=1, le=9)


@process("form-demo", title="Form demo", inputs=IncidentInputs, positional=["title"])
async def form_demo(inputs: IncidentInputs, ctx: Context) -> dict:
    """Open an incident (a form test)."""
    return inputs.model_dump(mode="json")


async def _form(control: Control, user: str) -> dict[str, Any]:
    async def opened() -> bool:
        return (await control.get(f"/users/{user}/views"))["top"] is not None

    await eventually(opened, 10)
    return (await control.get(f"/users/{user}/views"))["top"]


def _elements(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}


async def test_missing_inputs_open_a_prefilled_form(harness: Harness, slack: Slack, control: Control,
                                                    client: ShepherdClient) -> None:
    await slack.command("U0ALICE", 'form-demo "db down" region=us')
    view = await _form(control, "U0ALICE")
    assert view["callback_id"] == "shepherd_start_form"
    elements = _elements(view)
    assert elements["field:title"]["type"] == "plain_text_input"
    assert elements["field:title"]["initial_value"] == "db down"
    assert elements["field:severity"]["type"] == "static_select"
    assert [o["value"] for o in elements["field:severity"]["options"]] == ["SEV-1", "SEV-2"]
    assert elements["field:commander"]["type"] == "users_select"
    assert elements["field:region"]["initial_option"]["value"] == "us"
    assert elements["field:page"]["type"] == "checkboxes"
    assert elements["field:responders"]["type"] == "number_input"
    assert await client.list_runs() == []

    # Invalid: errors inline, keyed by block, the modal stays open and nothing starts.
    bad = await control.post("/views/submit", {"user": "U0ALICE", "view_id": view["id"], "values": {
        "field:severity": {"value": "SEV-1"}, "field:commander": {"value": "U0BOB"},
        "field:responders": {"value": "40"}}, "skip_client_validation": True})
    assert bad["ack"]["response_action"] == "errors", bad["ack"]
    assert "field:responders" in bad["ack"]["errors"] and "9" in bad["ack"]["errors"]["field:responders"]
    top = (await control.get("/users/U0ALICE/views"))["top"]
    assert top["id"] == view["id"] and top["errors"] == bad["ack"]["errors"]
    assert await client.list_runs() == []

    good = await control.post("/views/submit", {"user": "U0ALICE", "view_id": view["id"], "values": {
        "field:severity": {"value": "SEV-1"}, "field:commander": {"value": "U0BOB"},
        "field:page": {"value": ["yes"]}, "field:responders": {"value": "3"}}})
    assert good["ack"]["response_action"] == "clear", good["ack"]
    await slack.wait_ephemeral("U0ALICE", "Started *Form demo*")
    runs = await client.list_runs()
    assert len(runs) == 1 and runs[0]["requester"] == "U0ALICE" and runs[0]["channel"] == "C0OPS"
    run = await wait_for(client, runs[0]["id"])
    assert json.loads(run.meta["result"]) == {"title": "db down", "severity": "SEV-1", "commander": "U0BOB",
                                              "region": "us", "page": True, "responders": 3}
    await slack.wait_card("Form demo", "completed")
    assert (await control.get("/users/U0ALICE/views"))["top"] is None


async def test_approval_demo_form_lists_problems_inline(harness: Harness, slack: Slack, control: Control,
                                                        client: ShepherdClient) -> None:
    await slack.command("U0ALICE", "approval-demo version=2.0")
    view = await _form(control, "U0ALICE")
    elements = _elements(view)
    assert elements["field:version"]["initial_value"] == "2.0"
    assert elements["field:pause"]["type"] == "number_input" and elements["field:pause"]["is_decimal_allowed"]
    reply = await control.post("/views/submit", {"user": "U0ALICE", "view_id": view["id"], "values": {
        "field:service": {"value": ""}}, "skip_client_validation": True})
    assert reply["ack"]["errors"] == {"field:service": "input 'service': required"}


async def test_expired_trigger_gives_an_ephemeral(harness: Harness, slack: Slack, control: Control,
                                                  client: ShepherdClient) -> None:
    await control.post("/settings", {"trigger_ttl": 0})
    await slack.command("U0ALICE", "form-demo")
    await slack.wait_ephemeral("U0ALICE", "could not be opened in time")
    assert (await control.get("/users/U0ALICE/views"))["top"] is None
    assert await client.list_runs() == []
