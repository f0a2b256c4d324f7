"""A real slack-bolt AsyncApp over Socket Mode: button round-trips, modals, trigger expiry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SandboxServer
from tests.sandbox.control_client import Control, eventually

GATE: list[dict[str, Any]] = [
    {"type": "section", "block_id": "gate", "text": {"type": "mrkdwn", "text": "Approve deploy of *api*?"}},
    {"type": "actions", "block_id": "decide", "elements": [
        {"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "Approve"},
         "style": "primary", "value": "run-1"},
        {"type": "button", "action_id": "reject", "text": {"type": "plain_text", "text": "Reject"},
         "style": "danger", "value": "run-1"},
    ]},
]

FORM = {
    "type": "modal",
    "callback_id": "run_form",
    "private_metadata": "run-42",
    "title": {"type": "plain_text", "text": "Start incident"},
    "submit": {"type": "plain_text", "text": "Start"},
    "blocks": [
        {"type": "input", "block_id": "title", "label": {"type": "plain_text", "text": "Title"},
         "element": {"type": "plain_text_input", "action_id": "value"}},
        {"type": "input", "block_id": "severity", "label": {"type": "plain_text", "text": "Severity"},
         "element": {"type": "static_select", "action_id": "pick", "options": [
             {"text": {"type": "plain_text", "text": "SEV-1"}, "value": "sev1"},
             {"text": {"type": "plain_text", "text": "SEV-2"}, "value": "sev2"}]}},
        {"type": "input", "block_id": "commander", "label": {"type": "plain_text", "text": "Commander"},
         "element": {"type": "users_select", "action_id": "user"}},
        {"type": "input", "block_id": "notify", "optional": True, "label": {"type": "plain_text", "text": "Notify"},
         "element": {"type": "checkboxes", "action_id": "where", "options": [
             {"text": {"type": "plain_text", "text": "Status page"}, "value": "statuspage"},
             {"text": {"type": "plain_text", "text": "Customers"}, "value": "customers"}]}},
        {"type": "input", "block_id": "minutes", "label": {"type": "plain_text", "text": "Update every (min)"},
         "element": {"type": "number_input", "action_id": "n", "is_decimal_allowed": False, "min_value": "5"}},
    ],
}


class Bot:
    """A tiny Shepherd stand-in written the way the real bot will be: Bolt handlers."""

    def __init__(self, server: SandboxServer) -> None:
        self.app = AsyncApp(client=AsyncWebClient(token=server.bot_token, base_url=server.api_url))
        self.submissions: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.server = server
        app = self.app

        @app.command("/run")
        async def run(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
            await ack()
            await client.views_open(trigger_id=body["trigger_id"], view=FORM)

        @app.command("/slow")
        async def slow(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
            await ack()
            await asyncio.sleep(server.config.trigger_ttl + 0.2)
            try:
                await client.views_open(trigger_id=body["trigger_id"], view=FORM)
            except SlackApiError as exc:
                self.errors.append(exc.response["error"])

        @app.view("run_form")
        async def submitted(ack: Any, view: dict[str, Any]) -> None:
            values = view["state"]["values"]
            if len(values["title"]["value"]["value"] or "") < 5:
                await ack(response_action="errors", errors={"title": "Give the incident a longer title"})
                return
            self.submissions.append(view)
            await ack()

        @app.action("approve")
        async def approve(ack: Any, body: dict[str, Any], respond: Any) -> None:
            await ack()
            await respond(replace_original=True, text=f"Approved by <@{body['user']['id']}>")

        @app.action("reject")
        async def reject(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
            await ack()
            await client.chat_postEphemeral(channel=body["channel"]["id"], user=body["user"]["id"],
                                            text="Only SRE approvers can reject.")


@pytest.fixture
async def bot(server: SandboxServer) -> AsyncIterator[Bot]:
    bot = Bot(server)
    handler = AsyncSocketModeHandler(bot.app, server.app_token)
    await handler.connect_async()
    yield bot
    await handler.close_async()


async def test_button_click_round_trip(bot: Bot, control: Control, web: AsyncWebClient) -> None:
    posted = await web.chat_postMessage(channel="C0DEPLOYS", text="Approve deploy of api?", blocks=GATE)
    ts = posted["ts"]
    result = await control.post("/actions", {"user": "U0BOB", "channel": "C0DEPLOYS", "ts": ts,
                                             "action_id": "approve"})
    assert result["acked"]
    payload = result["payload"]
    assert payload["type"] == "block_actions" and payload["user"]["id"] == "U0BOB"
    assert payload["container"] == {"type": "message", "message_ts": ts, "channel_id": "C0DEPLOYS",
                                    "is_ephemeral": False}
    assert payload["channel"] == {"id": "C0DEPLOYS", "name": "deploys"}
    assert payload["message"]["ts"] == ts and payload["message"]["blocks"][0]["block_id"] == "gate"
    action = payload["actions"][0]
    assert {k: action[k] for k in ("type", "action_id", "block_id", "value", "style")} == \
        {"type": "button", "action_id": "approve", "block_id": "decide", "value": "run-1", "style": "primary"}
    assert action["text"]["text"] == "Approve" and action["action_ts"]

    async def replaced() -> bool:
        messages = (await control.get("/channels/C0DEPLOYS/messages"))["messages"]
        return messages[-1]["text"] == "Approved by <@U0BOB>" and "blocks" not in messages[-1]

    await eventually(replaced)
    interaction = (await control.get(f"/interactions/{result['id']}"))["interaction"]
    assert interaction["responses"][0]["effect"] == "replaced"


async def test_click_reject_posts_ephemeral(bot: Bot, control: Control, web: AsyncWebClient) -> None:
    posted = await web.chat_postMessage(channel="C0DEPLOYS", text="gate", blocks=GATE)
    await control.post("/actions", {"user": "U0MALLORY", "channel": "C0DEPLOYS", "ts": posted["ts"],
                                    "action_id": "reject"})

    async def told() -> bool:
        items = (await control.get("/users/U0MALLORY/ephemerals"))["ephemerals"]
        return [e["text"] for e in items] == ["Only SRE approvers can reject."]

    await eventually(told)
    missing = await control.session.post(f"{control.base}/actions", json={
        "user": "U0BOB", "channel": "C0DEPLOYS", "ts": posted["ts"], "action_id": "nope"})
    assert missing.status == 404 and (await missing.json())["error"] == "action_not_found"


async def test_modal_errors_then_success(bot: Bot, control: Control) -> None:
    await control.post("/commands", {"user": "U0ALICE", "channel": "C0OPS", "command": "/run"})

    async def opened() -> bool:
        return (await control.get("/users/U0ALICE/views"))["top"] is not None

    await eventually(opened)
    view = (await control.get("/users/U0ALICE/views"))["top"]
    assert view["callback_id"] == "run_form" and view["private_metadata"] == "run-42"

    values = {"title": {"value": "db"}, "severity": {"pick": "sev2"}, "commander": {"user": "U0CAROL"},
              "notify": {"where": ["statuspage"]}, "minutes": {"n": 15}}
    first = await control.post("/views/submit", {"user": "U0ALICE", "view_id": view["id"], "values": values})
    assert first["acked"]
    assert first["ack"] == {"response_action": "errors", "errors": {"title": "Give the incident a longer title"}}
    assert first["effects"] == [{"effect": "errors", "errors": {"title": "Give the incident a longer title"}}]
    still = (await control.get("/users/U0ALICE/views"))["top"]
    assert still["id"] == view["id"] and still["is_open"]
    assert still["errors"] == {"title": "Give the incident a longer title"}

    values["title"] = {"value": "Checkout latency"}
    second = await control.post("/views/submit", {"user": "U0ALICE", "view_id": view["id"], "values": values})
    assert second["effects"][0]["effect"] == "closed"
    assert (await control.get("/users/U0ALICE/views"))["views"] == []
    state = bot.submissions[0]["state"]["values"]
    assert state["title"]["value"] == {"type": "plain_text_input", "value": "Checkout latency"}
    assert state["severity"]["pick"] == {"type": "static_select", "selected_option": {
        "text": {"type": "plain_text", "text": "SEV-2"}, "value": "sev2"}}
    assert state["commander"]["user"] == {"type": "users_select", "selected_user": "U0CAROL"}
    assert state["notify"]["where"] == {"type": "checkboxes", "selected_options": [
        {"text": {"type": "plain_text", "text": "Status page"}, "value": "statuspage"}]}
    assert state["minutes"]["n"] == {"type": "number_input", "value": "15"}
    payload = second["payload"]
    assert payload["type"] == "view_submission" and payload["view"]["id"] == view["id"]
    assert payload["response_urls"] == [] and payload["trigger_id"]


async def test_client_side_validation_blocks_submission(bot: Bot, control: Control) -> None:
    await control.post("/commands", {"user": "U0ALICE", "channel": "C0OPS", "command": "/run"})

    async def opened() -> bool:
        return (await control.get("/users/U0ALICE/views"))["top"] is not None

    await eventually(opened)
    view_id = (await control.get("/users/U0ALICE/views"))["top"]["id"]
    refused = await control.post("/views/submit", {"user": "U0ALICE", "view_id": view_id, "values": {
        "title": {"value": "Checkout latency"}, "minutes": {"n": "2"}}}, expect=422)
    assert refused["error"] == "client_validation_failed" and refused["delivery"] is None
    assert refused["client_errors"] == {"severity": "Please fill out this field.",
                                        "commander": "Please fill out this field.",
                                        "minutes": "Please enter a number no less than 5."}
    assert bot.submissions == []
    bad_option = await control.session.post(f"{control.base}/views/submit", json={
        "user": "U0ALICE", "view_id": view_id, "values": {"severity": {"pick": "sev9"}}})
    assert bad_option.status == 400 and (await bad_option.json())["error"] == "invalid_values"


async def test_expired_trigger_id(bot: Bot, control: Control, server: SandboxServer) -> None:
    server.config.trigger_ttl = 0.2
    result = await control.post("/commands", {"user": "U0ALICE", "channel": "C0OPS", "command": "/slow"})
    assert result["acked"]
    await eventually(lambda: bool(bot.errors))
    assert bot.errors == ["expired_trigger_id"]
    assert (await control.get("/users/U0ALICE/views"))["views"] == []
