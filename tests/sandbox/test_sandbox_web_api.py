"""Every Web API method through the real AsyncWebClient, including Slack's error answers."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SandboxServer
from tests.sandbox.control_client import Control

BUTTONS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Deploy* api v1.2?"}},
    {"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "Approve"}, "style": "primary", "value": "yes"},
        {"type": "button", "text": {"type": "plain_text", "text": "Reject"}, "action_id": "reject", "value": "no"},
    ]},
]


async def slack_error(call: Any) -> str:
    with pytest.raises(SlackApiError) as info:
        await call
    return str(info.value.response["error"])


async def test_auth_test_and_tokens(server: SandboxServer, web: AsyncWebClient) -> None:
    me = await web.auth_test()
    assert (me["user_id"], me["bot_id"], me["team_id"], me["team"]) == \
        ("U0SHEPHERD", "B0SHEPHERD", "T0SANDBOX", "Shepherd Sandbox")
    assert me["url"] == f"{server.url}/"
    wrong = AsyncWebClient(token="xoxb-not-ours", base_url=server.api_url)
    assert await slack_error(wrong.auth_test()) == "invalid_auth"
    assert await slack_error(AsyncWebClient(base_url=server.api_url).auth_test()) == "not_authed"
    app = AsyncWebClient(token=server.app_token, base_url=server.api_url)
    assert await slack_error(app.chat_postMessage(channel="C0OPS", text="x")) == "not_allowed_token_type"
    assert await slack_error(web.apps_connections_open(app_token=server.bot_token)) == "not_allowed_token_type"
    url = (await web.apps_connections_open(app_token=server.app_token))["url"]
    assert url.startswith(f"ws://127.0.0.1:{server.port}/link/?ticket=")
    assert await slack_error(web.api_call("no.such.method")) == "unknown_method"


async def test_invalid_auth_is_http_200(server: SandboxServer) -> None:
    async with aiohttp.ClientSession(trust_env=False) as session, session.post(
            f"{server.api_url}chat.postMessage", headers={"Authorization": "Bearer xoxb-nope"},
            data={"channel": "C0OPS", "text": "hi"}) as resp:
        assert resp.status == 200
        assert await resp.json() == {"ok": False, "error": "invalid_auth"}


async def test_post_message_by_id_and_name_with_generated_ids(web: AsyncWebClient, control: Control) -> None:
    posted = await web.chat_postMessage(channel="#deploys", text="Deploy api v1.2?", blocks=BUTTONS)
    assert posted["channel"] == "C0DEPLOYS"
    ts = posted["ts"]
    assert isinstance(ts, str) and len(ts.split(".")[1]) == 6
    message = posted["message"]
    assert message["ts"] == ts and message["bot_id"] == "B0SHEPHERD" and message["user"] == "U0SHEPHERD"
    assert all(block.get("block_id") for block in message["blocks"])
    approve, reject = message["blocks"][1]["elements"]
    assert approve["action_id"] and reject["action_id"] == "reject"
    again = await web.chat_postMessage(channel="deploys", text="plain")
    assert again["channel"] == "C0DEPLOYS" and again["ts"] > ts
    stored = await control.get("/channels/C0DEPLOYS/messages")
    assert [m["text"] for m in stored["messages"]] == ["Deploy api v1.2?", "plain"]


async def test_form_encoded_blocks_arrive_as_json_strings(web: AsyncWebClient) -> None:
    posted = await web.api_call("chat.postMessage", data={"channel": "C0OPS", "text": "form",
                                                          "blocks": json.dumps(BUTTONS[:1])})
    assert posted["message"]["blocks"][0]["text"]["text"] == "*Deploy* api v1.2?"
    bad = web.api_call("chat.postMessage", data={"channel": "C0OPS", "blocks": "{not json"})
    assert await slack_error(bad) == "invalid_blocks"


async def test_message_validation_errors(web: AsyncWebClient) -> None:
    with pytest.warns(UserWarning, match="text"):  # slack_sdk warns too; Slack answers no_text
        assert await slack_error(web.chat_postMessage(channel="C0OPS")) == "no_text"
    assert await slack_error(web.chat_postMessage(channel="C0NOPE", text="x")) == "channel_not_found"
    too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    with pytest.raises(SlackApiError) as info:
        await web.chat_postMessage(channel="C0OPS", text="x", blocks=too_long)
    assert info.value.response["error"] == "invalid_blocks"
    assert "json-pointer:/blocks/0/text/text" in info.value.response["errors"][0]
    long_button: list[dict[str, Any]] = [{"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "y" * 76}, "action_id": "a"}]}]
    assert await slack_error(web.chat_postMessage(channel="C0OPS", text="x", blocks=long_button)) == "invalid_blocks"


async def test_threads_and_thread_ts_must_be_a_string(web: AsyncWebClient, control: Control) -> None:
    parent = await web.chat_postMessage(channel="C0OPS", text="status card")
    reply = await web.chat_postMessage(channel="C0OPS", text="step 1", thread_ts=parent["ts"])
    assert reply["message"]["thread_ts"] == parent["ts"]
    nested = await web.chat_postMessage(channel="C0OPS", text="step 2", thread_ts=reply["ts"])
    assert nested["message"]["thread_ts"] == parent["ts"]  # a reply's ts threads under the parent
    broadcast = await web.chat_postMessage(channel="C0OPS", text="done", thread_ts=parent["ts"], reply_broadcast=True)
    assert broadcast["message"]["subtype"] == "thread_broadcast"
    thread = await web.conversations_replies(channel="C0OPS", ts=parent["ts"])
    assert [m["text"] for m in thread["messages"]] == ["status card", "step 1", "step 2", "done"]
    assert thread["messages"][0]["reply_count"] == 3
    assert thread["messages"][1]["parent_user_id"] == "U0SHEPHERD"
    history = await web.conversations_history(channel="C0OPS")
    assert [m["text"] for m in history["messages"]] == ["done", "status card"]  # newest first, no plain replies
    as_float: Any = float(parent["ts"])  # a JSON number, as a careless bot would send it
    assert await slack_error(web.chat_postMessage(channel="C0OPS", text="x", thread_ts=as_float)) \
        == "invalid_thread_ts"
    assert await slack_error(web.chat_postMessage(channel="C0OPS", text="x", thread_ts="1.000001")) \
        == "thread_not_found"
    assert await slack_error(web.conversations_replies(channel="C0OPS", ts="1.000001")) == "thread_not_found"
    via_control = await control.get(f"/channels/C0OPS/threads/{parent['ts']}")
    assert len(via_control["messages"]) == 4


async def test_history_pagination(web: AsyncWebClient) -> None:
    for i in range(5):
        await web.chat_postMessage(channel="C0GENERAL", text=f"m{i}")
    first = await web.conversations_history(channel="C0GENERAL", limit=2)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"] and first["has_more"]
    second = await web.conversations_history(channel="C0GENERAL", limit=2,
                                             cursor=first["response_metadata"]["next_cursor"])
    assert [m["text"] for m in second["messages"]] == ["m2", "m1"]


async def test_update_and_delete(web: AsyncWebClient, control: Control) -> None:
    posted = await web.chat_postMessage(channel="C0OPS", text="Waiting for approval", blocks=BUTTONS)
    updated = await web.chat_update(channel="C0OPS", ts=posted["ts"], text="Approved by bob", blocks=[])
    assert updated["ts"] == posted["ts"] and updated["text"] == "Approved by bob"
    assert "blocks" not in updated["message"] and updated["message"]["edited"]["user"] == "U0SHEPHERD"
    assert await slack_error(web.chat_update(channel="C0OPS", ts="1.000001", text="x")) == "message_not_found"
    human = await control.post("/messages", {"user": "U0ALICE", "channel": "C0OPS", "text": "mine"})
    human_ts = human["message"]["ts"]
    assert await slack_error(web.chat_update(channel="C0OPS", ts=human_ts, text="x")) == "cant_update_message"
    assert await slack_error(web.chat_delete(channel="C0OPS", ts=human_ts)) == "cant_delete_message"
    deleted = await web.chat_delete(channel="C0OPS", ts=posted["ts"])
    assert deleted["ts"] == posted["ts"]
    assert await slack_error(web.chat_delete(channel="C0OPS", ts=posted["ts"])) == "message_not_found"
    history = await web.conversations_history(channel="C0OPS")
    assert [m["text"] for m in history["messages"]] == ["mine"]


async def test_post_ephemeral_is_not_in_history(web: AsyncWebClient, control: Control) -> None:
    sent = await web.chat_postEphemeral(channel="C0OPS", user="U0MALLORY", text="You cannot approve this gate.")
    assert sent["message_ts"]
    assert (await web.conversations_history(channel="C0OPS"))["messages"] == []
    mine = await control.get("/users/U0MALLORY/ephemerals")
    assert [e["text"] for e in mine["ephemerals"]] == ["You cannot approve this gate."]
    assert (await control.get("/users/U0BOB/ephemerals"))["ephemerals"] == []
    assert await slack_error(web.chat_postEphemeral(channel="C0OPS", user="U0NOBODY", text="x")) == "user_not_found"
    private = await control.post("/channels", {"name": "secret", "creator": "U0BOB", "members": ["U0SHEPHERD"]})
    assert await slack_error(web.chat_postEphemeral(channel=private["channel"]["id"], user="U0ALICE", text="x")) \
        == "user_not_in_channel"


async def test_channels_the_bot_was_not_invited_to(web: AsyncWebClient, control: Control) -> None:
    """As https://api.slack.com/methods/chat.postMessage#errors and the chat:write.public scope page say:
    a private channel the bot is not in does not exist for it; a public one takes chat:write.public."""
    channels = {c["id"]: c for c in (await control.get("/channels"))["channels"]}
    assert "U0SHEPHERD" not in channels["C0EXEC"]["members"] and not channels["C0EXEC"]["is_private"]
    assert "U0SHEPHERD" not in channels["C0LEADERSHIP"]["members"] and channels["C0LEADERSHIP"]["is_private"]
    assert await slack_error(web.chat_postMessage(channel="C0LEADERSHIP", text="hi")) == "channel_not_found"
    assert (await web.chat_postMessage(channel="C0EXEC", text="notice"))["ok"]  # chat:write.public
    assert await slack_error(web.conversations_history(channel="C0EXEC")) == "not_in_channel"
    assert [m["text"] for m in (await control.get("/channels/C0EXEC/messages"))["messages"]] == ["notice"]

    scopes = set((await control.get("/settings"))["settings"]["bot_scopes"])
    await control.post("/settings", {"bot_scopes": sorted(scopes - {"chat:write.public"})})
    created = await control.post("/channels", {"name": "bots-not-welcome", "creator": "U0ALICE"})
    channel = created["channel"]["id"]
    assert created["channel"]["is_member"] is False
    assert await slack_error(web.chat_postMessage(channel=channel, text="hi")) == "not_in_channel"
    assert await slack_error(web.chat_postMessage(channel="C0EXEC", text="hi")) == "not_in_channel"
    joined = await web.conversations_join(channel=channel)
    assert joined["channel"]["is_member"] is True
    assert (await web.chat_postMessage(channel=channel, text="hi"))["ok"]


def test_sandbox_scopes_are_the_manifests() -> None:
    """The sandbox behaves as the app installed from manifest.yml: the same bot scopes."""
    import yaml

    from sandbox.config import BOT_SCOPES
    from tests.helpers import ROOT

    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == set(BOT_SCOPES)


async def test_direct_messages(web: AsyncWebClient, control: Control) -> None:
    opened = await web.conversations_open(users=["U0BOB"])
    assert opened["channel"]["id"] == "D0BOB"
    posted = await web.chat_postMessage(channel="U0BOB", text="A gate needs you")
    assert posted["channel"] == "D0BOB"
    assert (await control.get("/channels/D0BOB/messages"))["messages"][0]["text"] == "A gate needs you"


async def test_conversations_create_rules(web: AsyncWebClient, control: Control) -> None:
    created = await web.conversations_create(name="inc-2024-sev2")
    channel = created["channel"]
    assert channel["id"].startswith("C") and channel["name"] == "inc-2024-sev2"
    assert channel["is_member"] is True and channel["creator"] == "U0SHEPHERD"
    assert await slack_error(web.conversations_create(name="inc-2024-sev2")) == "name_taken"
    assert await slack_error(web.conversations_create(name="ops")) == "name_taken"
    assert await slack_error(web.conversations_create(name="Has Spaces")) == "invalid_name_specials"
    assert await slack_error(web.conversations_create(name="x" * 81)) == "invalid_name_maxlength"
    assert await slack_error(web.api_call("conversations.create", params={"name": ""})) == "invalid_name_required"
    await control.post("/settings", {"refuse_channel_creation": True})
    assert await slack_error(web.conversations_create(name="inc-blocked")) == "restricted_action"
    await control.post("/settings", {"refuse_channel_creation": False})
    assert (await web.conversations_create(name="inc-allowed"))["ok"]


async def test_invite_topic_info(web: AsyncWebClient) -> None:
    channel = (await web.conversations_create(name="inc-77"))["channel"]["id"]
    invited = await web.conversations_invite(channel=channel, users=["U0BOB", "U0CAROL"])
    assert invited["channel"]["num_members"] == 3
    assert await slack_error(web.conversations_invite(channel=channel, users=["U0BOB"])) == "already_in_channel"
    assert await slack_error(web.conversations_invite(channel=channel, users=["U0GHOST"])) == "user_not_found"
    assert await slack_error(web.conversations_invite(channel="C0NOPE", users=["U0BOB"])) == "channel_not_found"
    topic = await web.conversations_setTopic(channel=channel, topic="SEV-2: checkout latency")
    assert topic["channel"]["topic"]["value"] == "SEV-2: checkout latency"
    info = await web.conversations_info(channel=channel)
    assert info["channel"]["topic"]["value"] == "SEV-2: checkout latency" and info["channel"]["is_member"]
    members = await web.conversations_members(channel=channel)
    assert set(members["members"]) == {"U0SHEPHERD", "U0BOB", "U0CAROL"}
    assert await slack_error(web.conversations_info(channel="C0NOPE")) == "channel_not_found"
    assert await slack_error(web.conversations_info(channel="#ops")) == "channel_not_found"  # ids only here


async def test_users_and_usergroups(web: AsyncWebClient) -> None:
    alice = (await web.users_info(user="U0ALICE"))["user"]
    assert alice["name"] == "alice" and alice["profile"]["email"] == "alice@sandbox.example"
    assert alice["is_bot"] is False and alice["team_id"] == "T0SANDBOX"
    assert await slack_error(web.users_info(user="U0GHOST")) == "user_not_found"
    members = {m["id"]: m for m in (await web.users_list())["members"]}
    assert {"U0ALICE", "U0BOB", "U0CAROL", "U0MALLORY", "U0SHEPHERD"} <= set(members)
    assert members["U0SHEPHERD"]["is_bot"] and members["U0SHEPHERD"]["profile"]["bot_id"] == "B0SHEPHERD"
    assert (await web.usergroups_users_list(usergroup="S0SRE"))["users"] == ["U0BOB", "U0CAROL"]
    assert await slack_error(web.usergroups_users_list(usergroup="S0NOPE")) == "no_such_subteam"
    groups = (await web.usergroups_list(include_users=True))["usergroups"]
    assert groups[0]["handle"] == "sre" and groups[0]["users"] == ["U0BOB", "U0CAROL"]
    assert (await web.users_lookupByEmail(email="bob@sandbox.example"))["user"]["id"] == "U0BOB"


async def test_reactions(web: AsyncWebClient) -> None:
    posted = await web.chat_postMessage(channel="C0OPS", text="step running")
    await web.reactions_add(channel="C0OPS", timestamp=posted["ts"], name="white_check_mark")
    assert await slack_error(web.reactions_add(channel="C0OPS", timestamp=posted["ts"], name="white_check_mark")) \
        == "already_reacted"
    assert await slack_error(web.reactions_add(channel="C0OPS", timestamp="1.000001", name="eyes")) \
        == "message_not_found"
    message = (await web.conversations_history(channel="C0OPS"))["messages"][0]
    assert message["reactions"] == [{"name": "white_check_mark", "users": ["U0SHEPHERD"], "count": 1}]
    await web.reactions_remove(channel="C0OPS", timestamp=posted["ts"], name="white_check_mark")


async def test_views_publish_update_and_hash(web: AsyncWebClient, control: Control) -> None:
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "No runs yet"}}]}
    published = (await web.views_publish(user_id="U0ALICE", view=home))["view"]
    assert published["type"] == "home" and published["id"].startswith("V")
    again = (await web.views_publish(user_id="U0ALICE", view=home, hash=published["hash"]))["view"]
    assert again["id"] == published["id"] and again["hash"] != published["hash"]
    assert await slack_error(web.views_publish(user_id="U0ALICE", view=home, hash=published["hash"])) \
        == "hash_conflict"
    assert await slack_error(web.views_publish(user_id="U0GHOST", view=home)) == "user_not_found"
    assert (await control.get("/users/U0ALICE/home"))["view"]["id"] == published["id"]
    assert await slack_error(web.views_update(view_id="VNOPE", view=home)) == "not_found"


async def test_trigger_ids_are_single_use(web: AsyncWebClient, control: Control, server: SandboxServer) -> None:
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Hi"}, "blocks": []}
    assert await slack_error(web.views_open(trigger_id="123.456.abc", view=modal)) == "invalid_trigger_id"
    trigger = server.sandbox.triggers.issue("U0ALICE")
    opened = (await web.views_open(trigger_id=trigger, view=modal))["view"]
    assert opened["type"] == "modal" and opened["root_view_id"] == opened["id"]
    assert await slack_error(web.views_open(trigger_id=trigger, view=modal)) == "exchanged_trigger_id"
    long_title = {**modal, "title": {"type": "plain_text", "text": "A title far longer than allowed"}}
    assert await slack_error(web.views_open(trigger_id=server.sandbox.triggers.issue("U0ALICE"), view=long_title)) \
        == "invalid_arguments"
    assert (await control.get("/users/U0ALICE/views"))["top"]["id"] == opened["id"]


async def test_calls_are_recorded(web: AsyncWebClient, control: Control) -> None:
    await web.chat_postMessage(channel="C0OPS", text="one")
    await slack_error(web.chat_postMessage(channel="C0NOPE", text="two"))
    calls = (await control.get("/calls", method="chat.postMessage"))["calls"]
    assert [(c["ok"], c["error"]) for c in calls] == [(True, None), (False, "channel_not_found")]
    assert "token" not in calls[0]["args"]
