"""The control API: seed, reset, response_url semantics, view stacks, the event stream, the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SandboxServer
from tests.sandbox.control_client import Control

Answer = Callable[[SocketModeRequest], dict[str, Any] | None]


class App:
    """A bare Socket Mode app whose acks the test scripts: ``answer(req) -> ack payload``."""

    def __init__(self) -> None:
        self.requests: list[SocketModeRequest] = []
        self.answer: Answer = lambda req: None

    async def __call__(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        self.requests.append(req)
        await client.send_socket_mode_response(SocketModeResponse(req.envelope_id, self.answer(req)))


@pytest.fixture
async def app(server: SandboxServer) -> AsyncIterator[App]:
    handler = App()
    client = SocketModeClient(app_token=server.app_token, web_client=AsyncWebClient(base_url=server.api_url))
    client.socket_mode_request_listeners.append(handler)
    await client.connect()
    yield handler
    await client.close()


async def respond(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with session.post(url, json=body) as resp:
        return resp.status, await resp.json()


async def test_seed(control: Control, server: SandboxServer) -> None:
    seed = await control.get("/seed")
    assert seed["team"] == {"id": "T0SANDBOX", "name": "Shepherd Sandbox", "domain": "shepherd-sandbox"}
    assert seed["app"]["bot_token"] == "xoxb-sandbox" and seed["app"]["app_token"] == "xapp-sandbox"
    assert seed["app"]["signing_secret"] == "sandbox-signing-secret"
    users = {u["id"]: u["name"] for u in seed["users"]}
    assert {"U0ALICE": "alice", "U0BOB": "bob", "U0CAROL": "carol", "U0MALLORY": "mallory",
            "U0SHEPHERD": "shepherd"}.items() <= users.items()
    channels = {c["name"]: c for c in seed["channels"]}
    assert {"general", "ops", "deploys", "exec", "leadership"} <= set(channels)
    invited = {n for n, c in channels.items() if c["is_member"] and "U0SHEPHERD" in c["members"]}
    assert invited == set(channels) - {"exec", "leadership"}  # the bot was never invited to those two
    assert channels["leadership"]["is_private"] and not channels["exec"]["is_private"]
    group = seed["usergroups"][0]
    assert (group["id"], group["handle"], group["users"]) == ("S0SRE", "sre", ["U0BOB", "U0CAROL"])
    assert seed["urls"]["api"] == server.api_url


async def test_overrides_in_constructor() -> None:
    async with SandboxServer(port=0, bot_token="xoxb-other", team_name="Other") as sb:
        client = AsyncWebClient(token="xoxb-other", base_url=sb.api_url)
        assert (await client.auth_test())["team"] == "Other"


async def test_reset_keeps_the_app_connected(app: App, control: Control, web: AsyncWebClient) -> None:
    await web.chat_postMessage(channel="C0OPS", text="before")
    await control.post("/settings", {"refuse_channel_creation": True})
    await control.post("/reset")
    assert (await control.get("/channels/C0OPS/messages"))["messages"] == []
    assert (await control.get("/settings"))["settings"]["refuse_channel_creation"] is False
    assert (await control.post("/commands", {"user": "U0ALICE", "channel": "C0OPS", "command": "/run"}))["acked"]


async def test_response_url_semantics(app: App, control: Control, web: AsyncWebClient) -> None:
    session = control.session
    command = await control.post("/commands", {"user": "U0ALICE", "channel": "C0OPS", "command": "/run"})
    url = command["response_url"]
    assert await respond(session, url, {"text": "only you"}) == (200, {"ok": True})
    assert await respond(session, url, {"text": "everyone", "response_type": "in_channel"}) == (200, {"ok": True})
    status, body = await respond(session, url, {"response_type": "in_channel"})
    assert (status, body["error"]) == (400, "no_text")
    assert [e["text"] for e in (await control.get("/users/U0ALICE/ephemerals"))["ephemerals"]] == ["only you"]
    assert [m["text"] for m in (await control.get("/channels/C0OPS/messages"))["messages"]] == ["everyone"]
    for _ in range(2):
        await respond(session, url, {"text": "more"})
    assert await respond(session, url, {"text": "sixth"}) == (404, {"ok": False, "error": "used_url"})
    assert (await respond(session, url + "x", {"text": "x"}))[0] == 404
    record = (await control.get(f"/interactions/{command['id']}"))["interaction"]
    assert [r.get("effect") for r in record["responses"]] == ["ephemeral", "in_channel", None, "ephemeral",
                                                              "ephemeral"]

    blocks = [{"type": "actions", "block_id": "b", "elements": [
        {"type": "button", "action_id": "ok", "text": {"type": "plain_text", "text": "OK"}, "value": "1"},
        {"type": "static_select", "action_id": "env", "placeholder": {"type": "plain_text", "text": "Env"},
         "options": [{"text": {"type": "plain_text", "text": "Production"}, "value": "prod"}]}]}]
    posted = await web.chat_postMessage(channel="C0OPS", text="card", blocks=blocks)
    click = await control.post("/actions", {"user": "U0BOB", "channel": "C0OPS", "ts": posted["ts"], "value": "1"})
    assert click["payload"]["actions"][0]["action_id"] == "ok"
    picked = await control.post("/actions", {"user": "U0BOB", "channel": "C0OPS", "ts": posted["ts"],
                                             "action_id": "env", "selected": "prod"})
    action = picked["payload"]["actions"][0]
    assert action["selected_option"]["value"] == "prod" and action["placeholder"]["text"] == "Env"
    assert await respond(session, click["response_url"], {"replace_original": True, "text": "done"}) \
        == (200, {"ok": True})
    assert (await control.get("/channels/C0OPS/messages"))["messages"][-1]["text"] == "done"
    assert await respond(session, picked["response_url"], {"delete_original": True}) == (200, {"ok": True})
    assert [m["text"] for m in (await control.get("/channels/C0OPS/messages"))["messages"]] == ["everyone"]


async def test_click_on_ephemeral_and_replace_it(app: App, control: Control, web: AsyncWebClient) -> None:
    blocks = [{"type": "actions", "elements": [
        {"type": "button", "action_id": "confirm", "text": {"type": "plain_text", "text": "Confirm"}}]}]
    sent = await web.chat_postEphemeral(channel="C0OPS", user="U0CAROL", text="Confirm?", blocks=blocks)
    click = await control.post("/actions", {"user": "U0CAROL", "channel": "C0OPS", "ts": sent["message_ts"],
                                            "action_id": "confirm"})
    payload = click["payload"]
    assert payload["container"]["is_ephemeral"] is True and "message" not in payload
    status, _ = await respond(control.session, click["response_url"], {"replace_original": True, "text": "Confirmed"})
    assert status == 200
    items = (await control.get("/users/U0CAROL/ephemerals"))["ephemerals"]
    assert [e["text"] for e in items] == ["Confirmed"]


def _modal(title: str, **extra: Any) -> dict[str, Any]:
    return {"type": "modal", "title": {"type": "plain_text", "text": title},
            "submit": {"type": "plain_text", "text": "OK"}, **extra,
            "blocks": [{"type": "input", "block_id": "when", "optional": True,
                        "label": {"type": "plain_text", "text": "When"},
                        "element": {"type": "datepicker", "action_id": "d", "initial_date": "2024-05-01"}},
                       {"type": "input", "block_id": "who", "optional": True,
                        "label": {"type": "plain_text", "text": "Who"},
                        "element": {"type": "multi_users_select", "action_id": "u"}}]}


async def test_response_actions_update_push_clear_and_close(app: App, control: Control, server: SandboxServer,
                                                            web: AsyncWebClient) -> None:
    opened = (await web.views_open(trigger_id=server.sandbox.triggers.issue("U0BOB"), view=_modal("One")))["view"]
    app.answer = lambda req: {"response_action": "update", "view": _modal("One, updated")}
    result = await control.post("/views/submit", {"user": "U0BOB", "view_id": opened["id"],
                                                  "values": {"who": {"u": ["U0ALICE", "U0CAROL"]}}})
    state = app.requests[-1].payload["view"]["state"]["values"]
    assert state["when"]["d"] == {"type": "datepicker", "selected_date": "2024-05-01"}
    assert state["who"]["u"] == {"type": "multi_users_select", "selected_users": ["U0ALICE", "U0CAROL"]}
    assert result["effects"][0] == {"effect": "updated", "view_id": opened["id"]}
    top = (await control.get("/users/U0BOB/views"))["top"]
    assert top["title"]["text"] == "One, updated" and top["hash"] != opened["hash"]

    app.answer = lambda req: {"response_action": "push", "view": _modal("Two", notify_on_close=True)}
    pushed = await control.post("/views/submit", {"user": "U0BOB", "view_id": opened["id"]})
    second = pushed["effects"][0]["view_id"]
    stack = (await control.get("/users/U0BOB/views"))["views"]
    assert [v["id"] for v in stack] == [opened["id"], second] and stack[1]["previous_view_id"] == opened["id"]
    refused = await control.session.post(f"{control.base}/views/submit", json={"user": "U0BOB",
                                                                                "view_id": opened["id"]})
    assert refused.status == 409  # only the top view can be submitted

    app.answer = lambda req: None
    closed = await control.post("/views/close", {"user": "U0BOB", "view_id": second})
    assert app.requests[-1].payload["type"] == "view_closed" and closed["acked"]
    assert [v["id"] for v in (await control.get("/users/U0BOB/views"))["views"]] == [opened["id"]]

    app.answer = lambda req: {"response_action": "clear"}
    cleared = await control.post("/views/submit", {"user": "U0BOB", "view_id": opened["id"]})
    assert cleared["effects"][0]["effect"] == "cleared"
    assert (await control.get("/users/U0BOB/views"))["views"] == []
    with pytest.raises(Exception, match="not_found"):
        await web.views_update(view_id=opened["id"], view=_modal("late"))


async def read_events(resp: aiohttp.ClientResponse, count: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while len(events) < count:
        line = (await asyncio.wait_for(resp.content.readline(), 3)).decode().strip()
        if line.startswith("data: "):
            events.append(json.loads(line[6:]))
    return events


async def test_event_stream(server: SandboxServer, control: Control, web: AsyncWebClient) -> None:
    async with control.session.get(f"{control.base}/events") as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        posted = await web.chat_postMessage(channel="C0OPS", text="hello stream")
        await web.chat_update(channel="C0OPS", ts=posted["ts"], text="edited")
        await web.chat_postEphemeral(channel="C0OPS", user="U0ALICE", text="psst")
        await web.views_publish(user_id="U0ALICE", view={"type": "home", "blocks": []})
        await web.files_upload_v2(channel="C0OPS", content="x", filename="x.txt")
        await web.chat_delete(channel="C0OPS", ts=posted["ts"])
        events = await read_events(resp, 7)
    kinds = [e["type"] for e in events]
    assert kinds == ["message_posted", "message_updated", "ephemeral_posted", "home_published", "message_posted",
                     "file_shared", "message_deleted"]
    assert events[0]["data"]["message"]["text"] == "hello stream" and events[6]["data"]["ts"] == posted["ts"]
    async with control.session.get(f"{control.base}/events", params={"since": str(events[4]["id"])}) as resp:
        replay = await read_events(resp, 2)
    assert [e["type"] for e in replay] == ["file_shared", "message_deleted"]


def test_cli_starts_and_prints_its_url(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--port", "0"], cwd=root, env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("Slack sandbox listening on http://127.0.0.1:")
        url = line.split()[-1]

        async def seed() -> dict[str, Any]:
            async with aiohttp.ClientSession(trust_env=False) as session, session.get(f"{url}/control/seed") as r:
                return await r.json()

        assert asyncio.run(seed())["team"]["id"] == "T0SANDBOX"
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


async def test_message_state_and_home_tab_clicks(app: App, control: Control, web: AsyncWebClient) -> None:
    picker: list[dict[str, Any]] = [{"type": "section", "block_id": "env", "text": {"type": "mrkdwn", "text": "Where?"},
               "accessory": {"type": "static_select", "action_id": "pick", "options": [
                   {"text": {"type": "plain_text", "text": "Staging"}, "value": "staging"},
                   {"text": {"type": "plain_text", "text": "Production"}, "value": "prod"}]}},
              {"type": "actions", "block_id": "go", "elements": [
                  {"type": "button", "action_id": "deploy", "text": {"type": "plain_text", "text": "Deploy"}}]}]
    posted = await web.chat_postMessage(channel="C0DEPLOYS", text="Deploy where?", blocks=picker)
    await control.post("/actions", {"user": "U0ALICE", "channel": "C0DEPLOYS", "ts": posted["ts"],
                                    "action_id": "pick", "selected": "prod"})
    pressed = await control.post("/actions", {"user": "U0ALICE", "channel": "C0DEPLOYS", "ts": posted["ts"],
                                              "action_id": "deploy"})
    assert pressed["payload"]["state"]["values"]["env"]["pick"]["selected_option"]["value"] == "prod"
    other = await control.post("/actions", {"user": "U0BOB", "channel": "C0DEPLOYS", "ts": posted["ts"],
                                            "action_id": "deploy"})
    assert other["payload"]["state"]["values"] == {}  # picks are per person, like Slack's client

    home = {"type": "home", "blocks": [{"type": "actions", "elements": [
        {"type": "button", "action_id": "refresh", "text": {"type": "plain_text", "text": "Refresh"}}]}]}
    view = (await web.views_publish(user_id="U0BOB", view=home))["view"]
    clicked = await control.post("/actions", {"user": "U0BOB", "view_id": view["id"], "action_id": "refresh"})
    payload = clicked["payload"]
    assert payload["container"] == {"type": "view", "view_id": view["id"]} and payload["view"]["type"] == "home"
    assert "response_url" not in payload and "channel" not in payload and clicked["response_url"] is None
    assert (await control.post("/app_home_opened", {"user": "U0BOB"}))["delivered"]
    assert app.requests[-1].payload["event"]["view"]["id"] == view["id"]


async def test_stop_is_prompt_with_open_streams() -> None:
    server = await SandboxServer(port=0).start()
    async with aiohttp.ClientSession(trust_env=False) as session:
        stream = await session.get(f"{server.control_url}/events")
        socket_url = server.sandbox.hub.issue_url(server.url)
        ws = await session.ws_connect(socket_url)
        assert (await ws.receive_json())["type"] == "hello"
        loop = asyncio.get_running_loop()
        started = loop.time()
        await server.stop()
        assert loop.time() - started < 1.5
        assert (await ws.receive()).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        stream.close()
