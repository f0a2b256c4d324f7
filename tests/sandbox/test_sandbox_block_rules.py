"""Block Kit and metadata rules the sandbox enforces as Slack does (issue 10, "The sandbox must
show these bugs"): each test posts what Slack refuses and checks the error code and the
json-pointer, then posts the nearest valid variant and checks it is accepted.

Sources: https://api.slack.com/reference/block-kit/blocks ,
https://api.slack.com/reference/block-kit/block-elements#button ,
https://api.slack.com/reference/block-kit/composition-objects , https://api.slack.com/reference/metadata ,
https://api.slack.com/methods/chat.postMessage#errors
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SandboxServer
from tests.sandbox.control_client import Control

IMAGE_URL = "https://example.com/graph.png"


def plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def button(**extra: Any) -> dict[str, Any]:
    return {"type": "button", "text": plain("Open"), "action_id": "open", **extra}


async def refused(call: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as info:
        await call
    return dict(info.value.response.data)  # type: ignore[arg-type]


async def test_button_url_is_at_most_3000_characters(web: AsyncWebClient) -> None:
    too_long = "https://example.com/" + "a" * (3001 - len("https://example.com/"))
    reply = await refused(web.chat_postMessage(channel="C0OPS", text="x", blocks=[
        {"type": "actions", "elements": [button(url=too_long)]}]))
    assert reply["error"] == "invalid_blocks"
    assert reply["errors"] == ["must be less than 3001 characters [json-pointer:/blocks/0/elements/0/url]"]
    fits = too_long[:3000]
    section = [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}, "accessory": button(url=fits)}]
    assert (await web.chat_postMessage(channel="C0OPS", text="x", blocks=section))["ok"]


async def test_image_block_needs_alt_text_and_a_source(web: AsyncWebClient) -> None:
    reply = await refused(web.chat_postMessage(channel="C0OPS", text="x", blocks=[
        {"type": "image", "image_url": IMAGE_URL}]))
    assert reply["error"] == "invalid_blocks"
    assert reply["errors"] == ["missing required field: alt_text [json-pointer:/blocks/0]"]
    reply = await refused(web.chat_postMessage(channel="C0OPS", text="x", blocks=[
        {"type": "image", "alt_text": "error rate"}]))
    assert reply["errors"] == ["must provide either image_url or slack_file [json-pointer:/blocks/0]"]
    ok = [{"type": "image", "image_url": IMAGE_URL, "alt_text": "error rate", "title": plain("Errors")}]
    assert (await web.chat_postMessage(channel="C0OPS", text="x", blocks=ok))["ok"]


async def test_image_elements_need_alt_text_too(web: AsyncWebClient) -> None:
    """An image *element* (in a context block or as a section's accessory) has the same rule."""
    reply = await refused(web.chat_postMessage(channel="C0OPS", text="x", blocks=[
        {"type": "context", "elements": [{"type": "image", "image_url": IMAGE_URL}]},
        {"type": "section", "text": plain("x"), "accessory": {"type": "image", "image_url": IMAGE_URL}}]))
    assert reply["errors"] == ["missing required field: alt_text [json-pointer:/blocks/0/elements/0]",
                               "missing required field: alt_text [json-pointer:/blocks/1/accessory]"]
    ok = [{"type": "context", "elements": [{"type": "image", "image_url": IMAGE_URL, "alt_text": "logo"},
                                           {"type": "mrkdwn", "text": "by *Shepherd*"}]}]
    assert (await web.chat_postMessage(channel="C0OPS", text="x", blocks=ok))["ok"]


async def test_context_blocks_hold_only_images_and_text(web: AsyncWebClient) -> None:
    reply = await refused(web.chat_postMessage(channel="C0OPS", text="x", blocks=[
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Deploy?"}, button()]}]))
    assert reply["error"] == "invalid_blocks"
    assert reply["errors"] == ["unsupported type: button [json-pointer:/blocks/0/elements/1/type]"]
    reply = await refused(web.chat_postMessage(channel="C0OPS", text="x", blocks=[
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "y" * 3001}]}]))
    assert reply["errors"] == ["must be less than 3001 characters [json-pointer:/blocks/0/elements/0/text]"]


async def test_placeholders_are_plain_text_of_at_most_150_characters(web: AsyncWebClient,
                                                                     server: SandboxServer) -> None:
    def select(placeholder: dict[str, str]) -> list[dict[str, Any]]:
        return [{"type": "actions", "elements": [{"type": "users_select", "action_id": "who",
                                                  "placeholder": placeholder}]}]

    reply = await refused(web.chat_postMessage(channel="C0OPS", text="x", blocks=select(plain("p" * 151))))
    assert reply["error"] == "invalid_blocks"
    assert reply["errors"] == ["must be less than 151 characters [json-pointer:/blocks/0/elements/0/placeholder/text]"]
    reply = await refused(web.chat_postMessage(channel="C0OPS", text="x",
                                               blocks=select({"type": "mrkdwn", "text": "*who*"})))
    assert reply["errors"] == ["must be one of: plain_text [json-pointer:/blocks/0/elements/0/placeholder/type]"]
    assert (await web.chat_postMessage(channel="C0OPS", text="x", blocks=select(plain("p" * 150))))["ok"]

    # In a modal the same rule answers invalid_arguments, as every views.* refusal does.
    modal = {"type": "modal", "title": plain("Roles"), "submit": plain("Save"), "blocks": [
        {"type": "input", "label": plain("Commander"),
         "element": {"type": "plain_text_input", "action_id": "c", "placeholder": plain("q" * 151)}}]}
    reply = await refused(web.views_open(trigger_id=server.sandbox.triggers.issue("U0ALICE"), view=modal))
    assert reply["error"] == "invalid_arguments"
    assert reply["response_metadata"]["messages"] == [
        "[ERROR] must be less than 151 characters [json-pointer:/view/blocks/0/element/placeholder/text]"]


async def test_attachment_blocks_are_checked(web: AsyncWebClient, control: Control, server: SandboxServer) -> None:
    """Blocks inside a (secondary) attachment are checked like top-level ones; Slack answers
    ``invalid_attachments`` with pointers into ``/attachments`` (chat.postMessage#errors)."""
    bad = [{"color": "#439FE0", "blocks": [{"type": "image", "image_url": IMAGE_URL}]}]
    reply = await refused(web.chat_postMessage(channel="C0OPS", text="x", attachments=bad))
    assert reply["error"] == "invalid_attachments"
    assert reply["errors"] == ["missing required field: alt_text [json-pointer:/attachments/0/blocks/0]"]
    posted = await web.chat_postMessage(channel="C0OPS", text="x", attachments=[{"text": "fine"}])
    reply = await refused(web.chat_update(channel="C0OPS", ts=posted["ts"], text="x", attachments=bad))
    assert reply["error"] == "invalid_attachments"
    reply = await refused(web.chat_postMessage(channel="C0OPS", text="x", attachments=["not an object"]))
    assert reply["errors"] == ["expected object [json-pointer:/attachments/0]"]
    good = [{"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*All details*"}}]}]
    assert (await web.chat_update(channel="C0OPS", ts=posted["ts"], text="x", attachments=good))["ok"]

    # A response_url is checked the same way (the command's ephemeral answer goes nowhere).
    hook = server.sandbox.hooks.create(server.url, "commands", user="U0ALICE", channel="C0OPS")
    async with aiohttp.ClientSession(trust_env=False) as session, \
            session.post(hook.url, json={"text": "x", "attachments": bad}) as resp:
        assert (resp.status, (await resp.json())["error"]) == (400, "invalid_attachments")
    assert (await control.get("/users/U0ALICE/ephemerals"))["ephemerals"] == []


@pytest.mark.parametrize("metadata", [
    "not json",
    [{"event_type": "shepherd_card", "event_payload": {}}],
    {"event_payload": {"run": "r1"}},
    {"event_type": 7, "event_payload": {"run": "r1"}},
    {"event_type": "shepherd_card"},
    {"event_type": "shepherd_card", "event_payload": ["r1"]},
    {"event_type": "shepherd_card", "event_payload": "r1"},
])
async def test_malformed_metadata_is_refused(web: AsyncWebClient, metadata: Any) -> None:
    """Metadata is an object with a string ``event_type`` and an object ``event_payload``
    (https://api.slack.com/reference/metadata); anything else is ``invalid_metadata_format``."""
    reply = await refused(web.chat_postMessage(channel="C0OPS", text="x", metadata=metadata))
    assert reply["error"] == "invalid_metadata_format"
    posted = await web.chat_postMessage(channel="C0OPS", text="x")
    reply = await refused(web.chat_update(channel="C0OPS", ts=posted["ts"], text="y", metadata=metadata))
    assert reply["error"] == "invalid_metadata_format"


async def test_metadata_with_an_odd_event_type_is_ignored_with_a_warning(web: AsyncWebClient,
                                                                         control: Control) -> None:
    """An event_type with a period (or other punctuation) is not an error: Slack drops the
    metadata and warns ``invalid_metadata_schema`` (https://api.slack.com/reference/metadata)."""
    posted = await web.chat_postMessage(channel="C0OPS", text="x",
                                        metadata={"event_type": "shepherd.card", "event_payload": {"run": "r1"}})
    assert posted["warning"] == "invalid_metadata_schema"
    kept = await web.chat_postMessage(channel="C0OPS", text="y",
                                      metadata={"event_type": "shepherd_card-2", "event_payload": {"run": "r1"}})
    assert "warning" not in kept.data
    stored = {m["ts"]: m for m in (await control.get("/channels/C0OPS/messages"))["messages"]}
    assert "metadata" not in stored[posted["ts"]]
    assert stored[kept["ts"]]["metadata"] == {"event_type": "shepherd_card-2", "event_payload": {"run": "r1"}}


async def test_form_encoded_metadata_and_attachments_are_checked_the_same(web: AsyncWebClient) -> None:
    """A form post carries both as JSON strings (as the docs show them: "presented as a URL-encoded string")."""
    form = {"channel": "C0OPS", "text": "x"}
    reply = await refused(web.api_call("chat.postMessage", data={
        **form, "metadata": json.dumps({"event_type": "shepherd_card", "event_payload": "r1"})}))
    assert reply["error"] == "invalid_metadata_format"
    reply = await refused(web.api_call("chat.postMessage", data={
        **form, "attachments": json.dumps([{"blocks": [{"type": "context", "elements": [button()]}]}])}))
    assert (reply["error"], reply["errors"]) == (
        "invalid_attachments", ["unsupported type: button [json-pointer:/attachments/0/blocks/0/elements/0/type]"])
    ok = await web.api_call("chat.postMessage", data={
        **form, "metadata": json.dumps({"event_type": "shepherd_card", "event_payload": {"run": "r1"}})})
    assert ok["message"]["metadata"] == {"event_type": "shepherd_card", "event_payload": {"run": "r1"}}
