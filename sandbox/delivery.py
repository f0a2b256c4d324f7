"""Getting a request to the app and its acknowledgement back, over whichever transport it uses.

Slack gives an app 3 seconds to acknowledge. Only Events API deliveries are retried when it
does not (``retry_attempt`` / ``X-Slack-Retry-Num``,
https://api.slack.com/apis/connections/events-api#retries); a slash command, a click or a form
submission is sent once, and a late or missing ack shows the person an error instead
(https://api.slack.com/interactivity/slash-commands#responding_basic_receipt,
https://api.slack.com/interactivity/handling#acknowledgment_response). The sandbox does the
same: an event is retried exactly once, anything else never. Every attempt's outcome and
latency is recorded, and an event's first ack arriving during its retry is noticed, so a slow
or lost ack is visible in a test rather than silently absorbed.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sandbox.config import SandboxConfig
from sandbox.events import EventBus
from sandbox.http_delivery import HttpDelivery
from sandbox.ids import new_envelope_id
from sandbox.records import Attempt, Delivery, Recorder
from sandbox.socket_mode import Ack, SocketHub

HTTP_RETRY_REASONS = {"timeout": "http_timeout", "connection_failed": "connection_failed", "http_error": "http_error"}

RETRIED_KINDS = frozenset({"events_api"})
"""The only kind of delivery Slack sends again (see the module docstring)."""


def attempt_numbers(kind: str) -> tuple[int, ...]:
    """The attempts a delivery of ``kind`` gets: a first one, and a retry for events only."""
    return (0, 1) if kind in RETRIED_KINDS else (0,)


class Deliverer:
    """Sends each request over the app's transport (HTTP if a request URL is set, else Socket Mode)."""

    def __init__(self, config: SandboxConfig, hub: SocketHub, http: HttpDelivery, recorder: Recorder,
                 bus: EventBus) -> None:
        self.config = config
        self.hub = hub
        self.http = http
        self.recorder = recorder
        self.bus = bus

    @property
    def transport(self) -> str:
        return "http" if self.config.request_url else "socket_mode"

    async def deliver(self, kind: str, payload: dict[str, Any], *, accepts_response_payload: bool = False,
                      signing: str = "valid") -> Delivery:
        """Deliver (an event again once if needed); the returned record says whether and how it was acked."""
        record = self.recorder.delivery(kind, payload)
        if self.config.request_url:
            await self._over_http(record, self.config.request_url, signing)
        else:
            await self._over_socket(record, accepts_response_payload)
        self.bus.publish("delivery", delivery=record.to_json())
        return record

    async def _over_http(self, record: Delivery, url: str, signing: str) -> None:
        reason: str | None = None
        for number in attempt_numbers(record.kind):
            attempt, ack = await self.http.post(url, record.kind, record.payload, number=number,
                                                retry_reason=reason, signing=signing)
            record.attempts.append(attempt)
            if attempt.outcome == "acked":
                record.acked, record.ack, record.acked_attempt = True, ack, number
                return
            reason = HTTP_RETRY_REASONS[attempt.outcome]
        record.error = "not_acknowledged"

    async def _over_socket(self, record: Delivery, accepts_response_payload: bool) -> None:
        waiting: dict[asyncio.Future[Ack], tuple[Attempt, float]] = {}
        try:
            for number in attempt_numbers(record.kind):
                conn = await self.hub.wait_for_connection(self.config.connect_wait)
                if conn is None:
                    record.attempts.append(Attempt(number, "socket_mode", outcome="no_connection"))
                    record.error = "no_app_connected"
                    return
                envelope_id = new_envelope_id()
                envelope = {
                    "envelope_id": envelope_id,
                    "payload": record.payload,
                    "type": record.kind,
                    "accepts_response_payload": accepts_response_payload,
                    "retry_attempt": number,
                    "retry_reason": "timeout" if number else "",
                }
                attempt = Attempt(number, "socket_mode", envelope_id,
                                  retry_reason="timeout" if number else None)
                record.attempts.append(attempt)
                try:
                    future = await self.hub.send(conn, envelope)
                except ConnectionError as exc:
                    attempt.outcome, attempt.error = "connection_failed", str(exc)
                    continue
                waiting[future] = (attempt, time.monotonic())
                done, _ = await asyncio.wait(waiting, timeout=self.config.ack_timeout,
                                             return_when=asyncio.FIRST_COMPLETED)
                if done:
                    self._acked(record, waiting, done.pop())
                    return
                attempt.outcome = "timeout"
            record.error = "not_acknowledged"
        finally:
            for acked_attempt, _ in waiting.values():
                if acked_attempt.envelope_id:
                    self.hub.forget(acked_attempt.envelope_id)

    @staticmethod
    def _acked(record: Delivery, waiting: dict[asyncio.Future[Ack], tuple[Attempt, float]],
               future: asyncio.Future[Ack]) -> None:
        payload, arrived = future.result()
        attempt, sent = waiting[future]
        attempt.latency_ms = round((arrived - sent) * 1000, 1)
        record.acked, record.ack, record.acked_attempt = True, payload, attempt.number
        if attempt is record.attempts[-1]:
            attempt.outcome = "acked"
        else:  # the first try's ack turned up while the retry was out
            attempt.outcome = "acked_late"
            record.late_acks.append(attempt.number)
            record.attempts[-1].outcome = "superseded"
