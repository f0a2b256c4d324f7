"""What the notifier has already posted for a run, kept in Redis beside the run.

One hash per run, under the run's hash tag (``shepherd:{run:<id>}:slack``), so it moves with
the run on Redis Cluster and a restarted bot continues where the last one stopped:

- ``card``: the status card's ts; ``card_hash``: what it shows now
- ``cursor``: journal events before this index are in the thread
- ``gate:<key>``: the gate message's ts; ``gate_hash:<key>``: what it shows now
- ``intent``: a post about to be made (JSON). Set before chat.postMessage and deleted in the
  same MULTI that records the post's ts, so a crash between the two leaves the intent behind
  and the next sync looks for the message (by its ``metadata``) before posting again.
  File uploads carry no metadata: their intent holds the file id (known before the upload is
  completed), and ``files.info`` tells whether it was shared into the channel.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from state import keys

ledger_key = keys.slack_ledger
lock_key = keys.slack_ledger_lock


def digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Ledger:
    run_id: str
    card: str = ""
    card_hash: str = ""
    cursor: int = 0
    gates: dict[str, str] = field(default_factory=dict)
    gate_hashes: dict[str, str] = field(default_factory=dict)
    intent: dict[str, Any] | None = None

    @classmethod
    def parse(cls, run_id: str, raw: dict[str, str]) -> Ledger:
        ledger = cls(run_id, card=raw.get("card", ""), card_hash=raw.get("card_hash", ""),
                     cursor=int(raw.get("cursor", 0)))
        for name, value in raw.items():
            if name.startswith("gate:"):
                ledger.gates[name[5:]] = value
            elif name.startswith("gate_hash:"):
                ledger.gate_hashes[name[10:]] = value
        ledger.intent = json.loads(raw["intent"]) if raw.get("intent") else None
        return ledger


class LedgerStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def load(self, run_id: str) -> Ledger:
        return Ledger.parse(run_id, await self.redis.hgetall(ledger_key(run_id)))

    async def intend(self, ledger: Ledger, intent: dict[str, Any]) -> None:
        ledger.intent = intent
        await self.redis.hset(ledger_key(ledger.run_id), "intent", json.dumps(intent))

    async def record(self, ledger: Ledger, fields: dict[str, str | int]) -> None:
        """Save what a post or edit achieved and drop the intent, in one MULTI.

        ``fields`` use the hash's names: ``card``, ``card_hash``, ``cursor``, ``gate:<key>`` ...
        """
        pipe = self.redis.pipeline(transaction=True)
        if fields:
            pipe.hset(ledger_key(ledger.run_id), mapping={k: str(v) for k, v in fields.items()})
        pipe.hdel(ledger_key(ledger.run_id), "intent")
        await pipe.execute()
        merged = {"card": ledger.card, "card_hash": ledger.card_hash, "cursor": ledger.cursor,
                  **{f"gate:{k}": v for k, v in ledger.gates.items()},
                  **{f"gate_hash:{k}": v for k, v in ledger.gate_hashes.items()}, **fields}
        fresh = Ledger.parse(ledger.run_id, {k: str(v) for k, v in merged.items()})
        ledger.card, ledger.card_hash, ledger.cursor = fresh.card, fresh.card_hash, fresh.cursor
        ledger.gates, ledger.gate_hashes, ledger.intent = fresh.gates, fresh.gate_hashes, None
