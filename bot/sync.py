"""Bring one run's Slack messages up to date with its journal and gates, exactly once.

The card is posted once and then edited; journal events go to its thread in order, several
per message; each breakpoint gets its own thread message (also broadcast to the channel). Every
post first records an intent in the ledger; see ``bot.ledger`` and ``recover``.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.ledger import Ledger, LedgerStore, digest
from bot.pacer import UPDATE, ChannelPacer
from bot.render.ask import ask_message
from bot.render.card import card
from bot.render.gate import gate_message
from bot.render.thread import line
from engine.client import ShepherdClient
from engine.journal import Event, JournalView
from engine.mrkdwn import escape
from integrations.slack_metadata import find_message, metadata

STEP, GATE, CARD, FILE = "shepherd_step", "shepherd_gate", "shepherd_card", "shepherd_file"


def next_chunk(events: list[Event], cursor: int) -> tuple[list[str], int, Event | None]:
    """Lines from ``cursor`` up to the next event with a message of its own (a breakpoint or ask
    request, an artifact) or the end, the index where they stop, and that event if one stopped them."""
    requests = {e["key"]: e for e in events[:cursor] if e["type"] == "effect_requested"}
    lines: list[str] = []
    for index in range(cursor, len(events)):
        event = events[index]
        if event["type"] == "effect_requested":
            requests[event["key"]] = event
            if event["kind"] in ("breakpoint", "ask"):  # each gets its own message
                return lines, index, event
        if event["type"] == "artifact" and event.get("size"):  # uploaded as a file of its own
            return lines, index, event
        text = line(event, requests)
        if text:
            lines.append(text)
    return lines, len(events), None


def gate_payload(run_id: str, request: Event, gate: dict[str, Any], journal: JournalView) -> dict[str, Any]:
    """The message of a breakpoint (buttons, then the verdict) or of an ask (Fill in, then the answer)."""
    if request["kind"] == "ask":
        resolved = journal.resolutions.get(request["key"]) or {}
        answer = resolved.get("value") if resolved.get("ok") else None
        return ask_message(run_id, gate, answer if isinstance(answer, dict) else None)
    return gate_message(run_id, gate, request["args"].get("facts") or {})


class RunSync:
    def __init__(self, web: AsyncWebClient, engine: ShepherdClient, ledgers: LedgerStore, pacer: ChannelPacer) -> None:
        self.web, self.engine, self.ledgers, self.pacer = web, engine, ledgers, pacer

    async def sync(self, run_id: str) -> None:
        meta = await self.engine.meta(run_id)
        channel = meta.get("channel", "") if meta else ""
        if not channel:
            return  # started from the terminal without a channel: nothing to show in Slack
        ledger = await self.ledgers.load(run_id)
        if ledger.intent:
            await self.recover(ledger, channel)
        if not ledger.card:
            await self.pacer.wait(channel)
            payload = await self._card(run_id, meta)
            await self.ledgers.intend(ledger, {"kind": CARD})
            posted = await self.web.chat_postMessage(channel=channel, **payload,
                                                     metadata=metadata(CARD, run=run_id))
            await self.ledgers.record(ledger, {"card": posted["ts"], "card_hash": digest(payload)})
        await self._thread(ledger, channel)
        gates = await self.engine.gates(run_id)
        await self._gates(ledger, channel, gates)
        payload = await self._card(run_id, await self.engine.meta(run_id), gates)
        if digest(payload) != ledger.card_hash:
            await self.pacer.wait(channel, UPDATE)
            payload = await self._card(run_id, await self.engine.meta(run_id))  # with what came meanwhile
            await self.web.chat_update(channel=channel, ts=ledger.card, **payload)
            await self.ledgers.record(ledger, {"card_hash": digest(payload)})

    async def _card(self, run_id: str, meta: dict[str, str],
                    gates: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        journal = JournalView(await self.engine.journal(run_id))
        return card(run_id, meta, journal, gates if gates is not None else await self.engine.gates(run_id))

    async def _thread(self, ledger: Ledger, channel: str) -> None:
        run_id = ledger.run_id
        while True:
            events = await self.engine.journal(run_id)
            lines, stop, gate = next_chunk(events, ledger.cursor)
            if lines:
                await self.pacer.wait(channel)
                events = await self.engine.journal(run_id)  # coalesce what came meanwhile
                lines, stop, gate = next_chunk(events, ledger.cursor)
                await self.ledgers.intend(ledger, {"kind": STEP, "seq": stop})
                await self.web.chat_postMessage(channel=channel, thread_ts=ledger.card, text="\n".join(lines),
                                                metadata=metadata(STEP, run=run_id, seq=stop))
            if stop != ledger.cursor or lines:
                await self.ledgers.record(ledger, {"cursor": stop})
            if gate is None:
                return
            if gate["type"] == "artifact":
                await self._post_file(ledger, channel, gate)
            else:
                await self._post_gate(ledger, channel, gate)

    async def _post_file(self, ledger: Ledger, channel: str, event: Event) -> None:
        """Upload an artifact into the thread (files.getUploadURLExternal, the bytes, then
        files.completeUploadExternal, as files_upload_v2 does). The file id goes into the intent
        before the upload is completed, so ``recover`` can tell whether it was shared."""
        data = await self.engine.artifact(ledger.run_id, event["key"])
        seq = ledger.cursor + 1
        if not data:  # the bytes are gone (expired): say so instead of uploading nothing
            await self.pacer.wait(channel)
            await self.ledgers.intend(ledger, {"kind": STEP, "seq": seq})
            await self.web.chat_postMessage(channel=channel, thread_ts=ledger.card,
                                            text=f"📎 {escape(event.get('name'))} (no longer available)",
                                            metadata=metadata(STEP, run=ledger.run_id, seq=seq))
            await self.ledgers.record(ledger, {"cursor": seq})
            return
        await self.pacer.wait(channel)
        name = str(event.get("name") or event["key"])
        got = await self.web.files_getUploadURLExternal(filename=name, length=len(data))
        await self.ledgers.intend(ledger, {"kind": FILE, "seq": seq, "file": got["file_id"]})
        async with aiohttp.ClientSession(trust_env=False) as session, session.post(got["upload_url"], data=data,
                                headers={"Content-Type": "application/octet-stream"}) as response:
            response.raise_for_status()
        await self.web.files_completeUploadExternal(files=[{"id": got["file_id"], "title": name}],
                                                    channel_id=channel, thread_ts=ledger.card)
        await self.ledgers.record(ledger, {"cursor": seq})

    async def _post_gate(self, ledger: Ledger, channel: str, request: Event) -> None:
        key = request["key"]
        gates = await self.engine.gates(ledger.run_id)
        gate = gates.get(key) or {"key": key, "title": request["args"].get("title"), "status": "open"}
        payload = gate_payload(ledger.run_id, request, gate, JournalView(await self.engine.journal(ledger.run_id)))
        await self.pacer.wait(channel)
        await self.ledgers.intend(ledger, {"kind": GATE, "key": key, "seq": ledger.cursor + 1})
        posted = await self.web.chat_postMessage(channel=channel, thread_ts=ledger.card,
                                                 reply_broadcast=request["kind"] == "breakpoint",
                                                 **payload, metadata=metadata(GATE, run=ledger.run_id, key=key))
        await self.ledgers.record(ledger, {f"gate:{key}": posted["ts"], f"gate_hash:{key}": digest(payload),
                                           "cursor": ledger.cursor + 1})

    async def _gates(self, ledger: Ledger, channel: str, gates: dict[str, dict[str, Any]]) -> None:
        """Edit gate messages whose gate changed (decided, timed out, a vote counted)."""
        if not ledger.gates:
            return
        journal = JournalView(await self.engine.journal(ledger.run_id))
        for key, ts in ledger.gates.items():
            request, gate = journal.request(key), gates.get(key)
            if request is None or gate is None:
                continue
            payload = gate_payload(ledger.run_id, request, gate, journal)
            if digest(payload) != ledger.gate_hashes.get(key):
                await self.pacer.wait(channel, UPDATE)
                await self.web.chat_update(channel=channel, ts=ts, **payload)
                await self.ledgers.record(ledger, {f"gate_hash:{key}": digest(payload)})

    async def _recover_file(self, ledger: Ledger, channel: str, intent: dict[str, Any]) -> None:
        if intent.get("file") and await _shared(self.web, str(intent["file"]), channel):
            await self.ledgers.record(ledger, {"cursor": intent["seq"]})
        else:
            await self.ledgers.record(ledger, {})  # never completed: upload it again

    async def recover(self, ledger: Ledger, channel: str) -> None:
        """A post may have been made whose ts was never saved: find it by its metadata."""
        intent = ledger.intent or {}
        kind = intent.get("kind")
        if kind == FILE:
            await self._recover_file(ledger, channel, intent)
            return
        reply: AsyncSlackResponse | dict[str, Any]
        if kind == CARD:
            reply = await self.web.conversations_history(channel=channel, limit=200, include_all_metadata=True)
        elif ledger.card:
            reply = await self.web.conversations_replies(channel=channel, ts=ledger.card, limit=1000,
                                                         include_all_metadata=True)
        else:
            reply = {"messages": []}
        match: dict[str, Any] = {"run": ledger.run_id}
        if kind == STEP:
            match["seq"] = intent.get("seq")
        elif kind == GATE:
            match["key"] = intent.get("key")
        message = find_message(reply.get("messages", []), str(kind), **match)
        if message is None:
            await self.ledgers.record(ledger, {})  # not posted: forget the intent and post normally
        elif kind == CARD:
            await self.ledgers.record(ledger, {"card": message["ts"]})  # card_hash unknown: re-edit
        elif kind == STEP:
            await self.ledgers.record(ledger, {"cursor": intent["seq"]})
        else:  # GATE
            await self.ledgers.record(ledger, {f"gate:{intent['key']}": message["ts"], "cursor": intent["seq"]})


async def _shared(web: AsyncWebClient, file_id: str, channel: str) -> bool:
    """Whether an upload was completed into ``channel`` (an uncompleted one is 'file_not_found')."""
    try:
        info = await web.files_info(file=file_id)
    except SlackApiError as exc:
        if exc.response.get("error") == "file_not_found":
            return False
        raise
    file = info.get("file") or {}
    # https://api.slack.com/types/file: public channels are in ``channels`` and ``shares.public``;
    # private channels in ``groups`` and ``shares.private`` (as are DMs, with ``ims``).
    shares = file.get("shares") or {}
    listed = [*(file.get("channels") or []), *(file.get("groups") or []), *(file.get("ims") or [])]
    return channel in listed or channel in (shares.get("public") or {}) or channel in (shares.get("private") or {})

