"""``/control/events``: the event bus as a server-sent-events stream (for the live console).

Each event is ``id``/``event``/``data`` so a browser ``EventSource`` reconnects with
``Last-Event-ID`` and resumes from the sandbox's recent history; ``?since=<id>`` does the same
for other clients. Comment lines keep idle connections alive through proxies.
"""

from __future__ import annotations

import contextlib
import json

from aiohttp import web

from sandbox.appkey import sandbox_of

HEARTBEAT = 15.0


async def stream(request: web.Request) -> web.StreamResponse:
    bus = sandbox_of(request).bus
    since_raw = request.headers.get("Last-Event-ID") or request.query.get("since")
    since = int(since_raw) if since_raw and since_raw.isdigit() else None
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    try:
        await response.write(b"retry: 1000\n\n")
        async with contextlib.aclosing(bus.subscribe(since=since, heartbeat=HEARTBEAT)) as events:
            async for event in events:
                if event is None:
                    await response.write(b": keep-alive\n\n")
                    continue
                data = json.dumps(event.to_json(), default=str)
                await response.write(f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n".encode())
    except ConnectionError:
        pass  # the reader went away
    return response
