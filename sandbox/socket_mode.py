"""Socket Mode: the WebSocket an app opens instead of exposing an HTTP endpoint.

The flow is Slack's: ``apps.connections.open`` (app token) returns a ``ws://`` URL with a
one-time ticket; on connect the server sends ``hello``; requests arrive as envelopes and the
app acknowledges each by sending back ``{"envelope_id": ..., "payload": ...}``. A
``disconnect`` message (``refresh_requested``) asks the app to reconnect, which slack_sdk does
by fetching a new URL. Waiting for acks and retrying is :mod:`sandbox.delivery`'s job.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from sandbox.config import SandboxConfig
from sandbox.events import EventBus

Ack = tuple[dict[str, Any] | None, float]
"""An acknowledgement's payload (None when the app sent none) and its monotonic arrival time."""


@dataclass
class Connection:
    """One open WebSocket from the app."""

    id: int
    ws: web.WebSocketResponse
    opened_at: float = field(default_factory=time.time)
    refresh_requested: bool = False
    received: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "opened_at": self.opened_at, "refresh_requested": self.refresh_requested,
                "received": self.received, "closed": self.ws.closed}


class SocketHub:
    """Live connections, one-time tickets and the acks the delivery layer is waiting for."""

    def __init__(self, config: SandboxConfig, bus: EventBus) -> None:
        self.config = config
        self.bus = bus
        self.connections: list[Connection] = []
        self.total_connections = 0
        self._tickets: set[str] = set()
        self._pending: dict[str, asyncio.Future[Ack]] = {}
        self._opened = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def issue_url(self, base_url: str) -> str:
        """A fresh one-time WebSocket URL, as apps.connections.open returns it."""
        ticket = secrets.token_hex(16)
        self._tickets.add(ticket)
        ws_base = "ws" + base_url.removeprefix("http")
        return f"{ws_base}/link/?ticket={ticket}&app_id={self.config.app_id}"

    def current(self) -> Connection | None:
        """Where the next envelope goes: the newest live connection not asked to refresh."""
        live = [c for c in self.connections if not c.ws.closed]
        fresh = [c for c in live if not c.refresh_requested]
        candidates = fresh or live
        return candidates[-1] if candidates else None

    async def wait_for_connection(self, timeout: float) -> Connection | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (conn := self.current()) is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            self._opened.clear()
            try:
                await asyncio.wait_for(self._opened.wait(), remaining)
            except TimeoutError:
                return None
        return conn

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The ``/link/`` WebSocket endpoint."""
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.json_response({"ok": False, "error": "invalid_ticket"}, status=401)
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.total_connections += 1
        conn = Connection(self.total_connections, ws)
        self.connections.append(conn)
        self._opened.set()
        self.bus.publish("socket_connected", connection=conn.to_json())
        await ws.send_json({
            "type": "hello",
            "num_connections": len([c for c in self.connections if not c.ws.closed]),
            "debug_info": {"host": "sandbox-applink", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.config.app_id},
        })
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    conn.received += 1
                    self._on_text(conn, msg.data)
        finally:
            self.connections.remove(conn)
            self.bus.publish("socket_disconnected", connection=conn.to_json())
        return ws

    def _on_text(self, conn: Connection, data: str) -> None:
        try:
            message = json.loads(data)
        except json.JSONDecodeError:
            self.bus.publish("socket_unexpected", connection=conn.id, data=data[:2000])
            return
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        future = self._pending.pop(envelope_id, None) if isinstance(envelope_id, str) else None
        if future is None or future.done():
            self.bus.publish("socket_unexpected", connection=conn.id, data=message)
            return
        payload = message.get("payload")
        future.set_result((payload if isinstance(payload, dict) else None, time.monotonic()))

    async def send(self, conn: Connection, envelope: dict[str, Any]) -> asyncio.Future[Ack]:
        """Send an envelope and return the future its acknowledgement will resolve."""
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._pending[envelope["envelope_id"]] = future
        try:
            await conn.ws.send_str(json.dumps(envelope))
        except ConnectionError:
            self.forget(envelope["envelope_id"])
            raise
        return future

    def forget(self, envelope_id: str) -> None:
        """Stop waiting for an ack; one arriving later is reported as unexpected."""
        future = self._pending.pop(envelope_id, None)
        if future is not None and not future.done():
            future.cancel()

    async def request_refresh(self, reason: str = "refresh_requested") -> int:
        """Send ``disconnect`` to every live connection; close any the app has not left after the grace."""
        targets = [c for c in self.connections if not c.ws.closed]
        for conn in targets:
            conn.refresh_requested = True
            await conn.ws.send_json({"type": "disconnect", "reason": reason,
                                     "debug_info": {"host": "sandbox-applink"}})
            task = asyncio.create_task(self._close_later(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(targets)

    async def _close_later(self, conn: Connection) -> None:
        await asyncio.sleep(self.config.disconnect_grace)
        if not conn.ws.closed:
            await conn.ws.close(code=1001, message=b"refresh_requested")

    async def close(self) -> None:
        """Server shutdown: end background tasks and close every socket."""
        for task in list(self._tasks):
            task.cancel()
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        for conn in list(self.connections):
            await conn.ws.close(code=1001, message=b"server shutdown")
