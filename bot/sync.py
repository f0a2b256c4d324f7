"""Bring one run's Slack messages up to date with its journal and gates, exactly once.

The card is posted once and then edited; journal events go to its thread in order, several
per message; each breakpoint gets its own thread message (also broadcast to the channel). Every
post first records an intent in the ledger; see ``bot.ledger`` and ``recover``.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.ledger import Ledger, LedgerStore, digest
from bot.pacer import ChannelPacer
from bot.render.card import card
from bot.render.gate import gate_message
from bot.render.thread import line
from engine.journal import Event, JournalView
from state.store import RunStore

STEP, GATE, CARD = "shepherd_step", "shepherd_gate", "shepherd_card"


def next_chunk(events: list[Event], cursor: int) -> tuple[list[str], int, Event | None]:
    """Lines from ``cursor`` up to the next breakpoint request (or the end), the index where
    they stop, and that breakpoint request if one stopped them."""
    requests = {e["key"]: e for e in events[:cursor] if e["type"] == "effect_requested"}
    lines: list[str] = []
    for index in range(cursor, len(events)):
        event = events[index]
        if event["type"] == "effect_requested":
            requests[event["key"]] = event
            if event["kind"] == "breakpoint":
                return lines, index, event
        text = line(event, requests)
        if text:
            lines.append(text)
    return lines, len(events), None


class RunSync:
    def __init__(self, web: AsyncWebClient, store: RunStore, ledgers: LedgerStore, pacer: ChannelPacer) -> None:
        self.web, self.store, self.ledgers, self.pacer = web, store, ledgers, pacer

    async def sync(self, run_id: str) -> None:
        meta = await self.store.meta(run_id)
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
                                                     metadata=_meta(CARD, run=run_id))
            await self.ledgers.record(ledger, {"card": posted["ts"], "card_hash": digest(payload)})
        await self._thread(ledger, channel)
        gates = await self.store.gates(run_id)
        await self._gates(ledger, channel, gates)
        payload = await self._card(run_id, await self.store.meta(run_id), gates)
        if digest(payload) != ledger.card_hash:
            await self.web.chat_update(channel=channel, ts=ledger.card, **payload)
            await self.ledgers.record(ledger, {"card_hash": digest(payload)})

    async def _card(self, run_id: str, meta: dict[str, str],
                    gates: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        journal = JournalView(await self.store.read_journal(run_id))
        return card(run_id, meta, journal, gates if gates is not None else await self.store.gates(run_id))

    async def _thread(self, ledger: Ledger, channel: str) -> None:
        run_id = ledger.run_id
        while True:
            events = await self.store.read_journal(run_id)
            lines, stop, gate = next_chunk(events, ledger.cursor)
            if lines:
                await self.pacer.wait(channel)
                events = await self.store.read_journal(run_id)  # coalesce what came meanwhile
                lines, stop, gate = next_chunk(events, ledger.cursor)
                await self.ledgers.intend(ledger, {"kind": STEP, "seq": stop})
                await self.web.chat_postMessage(channel=channel, thread_ts=ledger.card, text="\n".join(lines),
                                                metadata=_meta(STEP, run=run_id, seq=stop))
            if stop != ledger.cursor or lines:
                await self.ledgers.record(ledger, {"cursor": stop})
            if gate is None:
                return
            await self._post_gate(ledger, channel, gate)

    async def _post_gate(self, ledger: Ledger, channel: str, request: Event) -> None:
        key = request["key"]
        gates = await self.store.gates(ledger.run_id)
        gate = gates.get(key) or {"key": key, "title": request["args"].get("title"), "status": "open"}
        payload = gate_message(ledger.run_id, gate, request["args"].get("facts") or {})
        await self.pacer.wait(channel)
        await self.ledgers.intend(ledger, {"kind": GATE, "key": key, "seq": ledger.cursor + 1})
        posted = await self.web.chat_postMessage(channel=channel, thread_ts=ledger.card, reply_broadcast=True,
                                                 **payload, metadata=_meta(GATE, run=ledger.run_id, key=key))
        await self.ledgers.record(ledger, {f"gate:{key}": posted["ts"], f"gate_hash:{key}": digest(payload),
                                           "cursor": ledger.cursor + 1})

    async def _gates(self, ledger: Ledger, channel: str, gates: dict[str, dict[str, Any]]) -> None:
        """Edit gate messages whose gate changed (decided, timed out, a vote counted)."""
        if not ledger.gates:
            return
        journal = JournalView(await self.store.read_journal(ledger.run_id))
        for key, ts in ledger.gates.items():
            request, gate = journal.request(key), gates.get(key)
            if request is None or gate is None:
                continue
            payload = gate_message(ledger.run_id, gate, request["args"].get("facts") or {})
            if digest(payload) != ledger.gate_hashes.get(key):
                await self.web.chat_update(channel=channel, ts=ts, **payload)
                await self.ledgers.record(ledger, {f"gate_hash:{key}": digest(payload)})

    async def recover(self, ledger: Ledger, channel: str) -> None:
        """A post may have been made whose ts was never saved: find it by its metadata."""
        intent = ledger.intent or {}
        kind = intent.get("kind")
        if kind == CARD:
            reply = await self.web.conversations_history(channel=channel, limit=200, include_all_metadata=True)
        elif ledger.card:
            reply = await self.web.conversations_replies(channel=channel, ts=ledger.card, limit=1000,
                                                         include_all_metadata=True)
        else:
            reply = {"messages": []}
        for message in reply.get("messages", []):
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") != kind or payload.get("run") != ledger.run_id:
                continue
            if kind == CARD:
                await self.ledgers.record(ledger, {"card": message["ts"]})  # card_hash unknown: re-edit
                return
            if kind == STEP and payload.get("seq") == intent.get("seq"):
                await self.ledgers.record(ledger, {"cursor": intent["seq"]})
                return
            if kind == GATE and payload.get("key") == intent.get("key"):
                await self.ledgers.record(ledger, {f"gate:{intent['key']}": message["ts"], "cursor": intent["seq"]})
                return
        await self.ledgers.record(ledger, {})  # not posted: forget the intent and post normally


def _meta(event_type: str, **payload: Any) -> dict[str, Any]:
    return {"event_type": event_type, "event_payload": payload}
