"""The three-step external upload flow, driven by AsyncWebClient.files_upload_v2."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SandboxServer
from tests.sandbox.control_client import Control


async def test_files_upload_v2_into_a_thread(web: AsyncWebClient, control: Control, server: SandboxServer) -> None:
    parent = await web.chat_postMessage(channel="C0OPS", text="Run #7: generate alert rules")
    content = "groups:\n- name: api\n  rules: []\n"
    uploaded = await web.files_upload_v2(channel="C0OPS", thread_ts=parent["ts"], filename="rules.yaml",
                                         content=content, title="Alert rules", initial_comment="Generated rules")
    file = uploaded["file"]
    assert file["id"].startswith("F") and file["name"] == "rules.yaml" and file["title"] == "Alert rules"
    assert file["size"] == len(content.encode()) and file["mimetype"] == "text/yaml"
    thread = await web.conversations_replies(channel="C0OPS", ts=parent["ts"])
    shared = thread["messages"][1]
    assert shared["text"] == "Generated rules" and shared["files"][0]["id"] == file["id"]
    info = await web.files_info(file=file["id"])
    assert info["file"]["channels"] == ["C0OPS"]

    async with aiohttp.ClientSession(trust_env=False) as session:
        async with session.get(file["url_private"], headers={"Authorization": f"Bearer {server.bot_token}"}) as resp:
            assert resp.status == 200 and await resp.text() == content
        async with session.get(file["url_private_download"]) as resp:
            assert resp.status == 401  # like Slack: url_private needs the token
    listed = (await control.get("/files"))["files"]
    assert [(f["id"], f["complete"]) for f in listed] == [(file["id"], True)]


async def test_upload_of_bytes_without_channel_and_errors(web: AsyncWebClient) -> None:
    uploaded = await web.files_upload_v2(file=b"\x89PNG fake", filename="chart.png")
    assert uploaded["file"]["mimetype"] == "image/png" and uploaded["file"]["channels"] == []
    ticket = await web.files_getUploadURLExternal(filename="never.txt", length=5)
    with pytest.raises(SlackApiError) as info:
        await web.files_completeUploadExternal(files=[{"id": ticket["file_id"]}], channel_id="C0OPS")
    assert info.value.response["error"] == "file_not_found"  # bytes were never uploaded
    with pytest.raises(SlackApiError) as info:
        await web.files_upload_v2(channel="C0NOPE", content="x", filename="x.txt")
    assert info.value.response["error"] == "channel_not_found"
