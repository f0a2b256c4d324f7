"""What happened, for assertions: Web API calls made by the app and deliveries made to it.

Tests ask "did the bot call chat.update, and how often?" or "how long did the app take to
acknowledge?"; both lists are bounded so a long-running console session stays small.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class CallRecord:
    """One Web API call made by the app, with its outcome."""

    id: int
    method: str
    args: dict[str, Any]
    ok: bool
    error: str | None
    status: int
    at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Attempt:
    """One try at handing a request to the app."""

    number: int
    """0 for the first delivery, 1 for Slack's retry."""
    transport: str
    """socket_mode or http."""
    envelope_id: str | None = None
    retry_reason: str | None = None
    outcome: str = "pending"
    """acked, timeout, http_error, connection_failed, no_connection."""
    http_status: int | None = None
    latency_ms: float | None = None
    error: str | None = None
    signing: str = "valid"
    headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.time)


@dataclass
class Delivery:
    """One request handed to the app (a command, interaction or event) and all its attempts."""

    id: int
    kind: str
    """slash_commands, interactive or events_api (Socket Mode's envelope types)."""
    payload: dict[str, Any]
    attempts: list[Attempt] = field(default_factory=list)
    acked: bool = False
    ack: dict[str, Any] | None = None
    """The acknowledgement's payload (Socket Mode) or parsed response body (HTTP); None if empty."""
    acked_attempt: int | None = None
    late_acks: list[int] = field(default_factory=list)
    """Attempts whose ack arrived after the sandbox had already timed them out."""
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Recorder:
    """Bounded logs of calls and deliveries, cleared on reset."""

    def __init__(self, limit: int = 2000) -> None:
        self._call_ids = 0
        self._delivery_ids = 0
        self.calls: deque[CallRecord] = deque(maxlen=limit)
        self.deliveries: deque[Delivery] = deque(maxlen=limit)

    def call(self, method: str, args: dict[str, Any], ok: bool, error: str | None, status: int) -> CallRecord:
        self._call_ids += 1
        record = CallRecord(self._call_ids, method, args, ok, error, status)
        self.calls.append(record)
        return record

    def delivery(self, kind: str, payload: dict[str, Any]) -> Delivery:
        self._delivery_ids += 1
        record = Delivery(self._delivery_ids, kind, payload)
        self.deliveries.append(record)
        return record

    def clear(self) -> None:
        self.calls.clear()
        self.deliveries.clear()
