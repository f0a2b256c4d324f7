"""Artifacts are uploaded into the run's thread as files, exactly once (restarts, crashes)."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.ledger import LedgerStore
from bot.pacer import ChannelPacer
from bot.sync import RunSync
from engine.client import ShepherdClient
from sandbox import SandboxServer
from tests.bot.conftest import Harness, Slack
from tests.helpers import wait_for_gate
from tests.sandbox.control_client import Control, eventually


async def _files(control: Control) -> list[dict[str, Any]]:
    return (await control.get("/files"))["files"]


async def _plan_posted(slack: Slack, control: Control) -> tuple[dict[str, Any], dict[str, Any]]:
    card = await slack.wait_card("Approval demo")

    async def posted() -> bool:
        return any(m.get("files") for m in await slack.thread(card["ts"]))

    await eventually(posted, 10)
    return card, next(m for m in await slack.thread(card["ts"]) if m.get("files"))


async def test_artifact_uploaded_into_the_thread(harness: Harness, slack: Slack, control: Control,
                                                 client: ShepherdClient) -> None:
    await slack.command("U0ALICE", "approval-demo api")
    card, message = await _plan_posted(slack, control)
    assert message["thread_ts"] == card["ts"]
    files = await _files(control)
    assert len(files) == 1 and files[0]["name"] == "plan.md" and files[0]["id"] == message["files"][0]["id"]
    content = await control.session.get(f"{control.base}/files/{files[0]['id']}/content")
    assert (await content.text()).startswith("# Plan\n\nDeploy api 1.0.0")
    await slack.wait_gate(card["ts"])
    await harness.stop()
    await harness.start()
    await slack.wait_gate(card["ts"])
    assert len(await _files(control)) == 1
    assert len([m for m in await slack.thread(card["ts"]) if m.get("files")]) == 1


class Crash(Exception):
    pass


class CrashAfterComplete(AsyncWebClient):
    async def files_completeUploadExternal(self, **kwargs: Any) -> Any:  # type: ignore[override]
        await super().files_completeUploadExternal(**kwargs)
        raise Crash


class CrashBeforeComplete(AsyncWebClient):
    async def files_completeUploadExternal(self, **kwargs: Any) -> Any:  # type: ignore[override]
        raise Crash


async def _crash_then_sync(server: SandboxServer, client: ShepherdClient, crashing: type[AsyncWebClient],
                           channel: str = "C0OPS") -> str:
    run_id = await client.start("approval-demo", {"service": "api"}, requester="U0ALICE", channel=channel)
    await wait_for_gate(client, run_id)
    ledgers = LedgerStore(client.redis)
    good = AsyncWebClient(token=server.bot_token, base_url=server.api_url)
    bad = crashing(token=server.bot_token, base_url=server.api_url)
    try:
        await RunSync(bad, client, ledgers, ChannelPacer(0)).sync(run_id)
    except Crash:
        assert (await ledgers.load(run_id)).intent["kind"] == "shepherd_file"  # type: ignore[index]
    else:
        raise AssertionError("the upload never crashed")
    await RunSync(good, client, ledgers, ChannelPacer(0)).sync(run_id)
    ledger = await ledgers.load(run_id)
    assert ledger.intent is None and ledger.gates
    return ledger.card


async def test_crash_after_upload_is_not_repeated(server: SandboxServer, slack: Slack, control: Control,
                                                  client: ShepherdClient, worker: Any) -> None:
    card = await _crash_then_sync(server, client, CrashAfterComplete)
    assert len([m for m in await slack.thread(card) if m.get("files")]) == 1
    assert len([f for f in await _files(control) if f.get("channels")]) == 1


async def test_crash_before_completing_uploads_again(server: SandboxServer, slack: Slack, control: Control,
                                                     client: ShepherdClient, worker: Any) -> None:
    card = await _crash_then_sync(server, client, CrashBeforeComplete)
    assert len([m for m in await slack.thread(card) if m.get("files")]) == 1


async def test_crash_after_upload_to_a_private_channel_is_not_repeated(
        server: SandboxServer, control: Control, client: ShepherdClient, worker: Any) -> None:
    """files.info lists a private channel's share under ``groups`` / ``shares.private``, not
    ``channels`` / ``shares.public`` (https://api.slack.com/types/file): recovery must read both."""
    created = await control.post("/channels", {"name": "sec-incident", "is_private": True,
                                               "members": ["U0ALICE", "U0SHEPHERD"]})
    channel = created["channel"]["id"]
    private = Slack(control, channel)
    card = await _crash_then_sync(server, client, CrashAfterComplete, channel)
    assert len([m for m in await private.thread(card) if m.get("files")]) == 1
    (shared,) = [f for f in await _files(control) if f.get("groups")]
    assert shared["groups"] == [channel] and shared["channels"] == [] and channel in shared["shares"]["private"]
