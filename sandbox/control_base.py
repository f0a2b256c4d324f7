"""Plumbing shared by the control API's endpoints: JSON in, JSON out, errors as HTTP statuses.

An endpoint is ``async (sandbox, request, body) -> dict | Interaction | web.Response``; a
ControlError or SlackError it raises becomes ``{"ok": false, "error": ...}`` with a 4xx status,
and an interaction whose delivery could not reach any app is a 503 so a misconfigured test
fails loudly instead of asserting on an empty record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox.appkey import sandbox_of
from sandbox.errors import ControlError, SlackError
from sandbox.interactions import Interaction
from sandbox.runtime import Sandbox
from sandbox.signing import SIGNING_MODES

Route = Callable[[web.Request], Awaitable[web.Response]]
Endpoint = Callable[[Sandbox, web.Request, dict[str, Any]], Awaitable[Any]]


def endpoint(func: Endpoint) -> Route:
    """Parse the JSON body, run, and turn results and errors into JSON responses."""

    async def route(request: web.Request) -> web.Response:
        body: dict[str, Any] = {}
        if request.method in ("POST", "PUT", "PATCH") and request.can_read_body:
            try:
                parsed = await request.json()
            except ValueError:
                return web.json_response({"ok": False, "error": "invalid_json"}, status=400)
            if not isinstance(parsed, dict):
                return web.json_response({"ok": False, "error": "invalid_json"}, status=400)
            body = parsed
        try:
            result = await func(sandbox_of(request), request, body)
        except ControlError as exc:
            return web.json_response(exc.body(), status=exc.status)
        except SlackError as exc:
            status = 404 if exc.error.endswith("_not_found") else 400
            return web.json_response(exc.body(), status=status)
        if isinstance(result, web.Response):
            return result
        if isinstance(result, Interaction):
            status = 503 if result.delivery and result.delivery.error == "no_app_connected" else 200
            if result.client_errors:
                status = 422
            return web.json_response({"ok": status == 200, **result.to_json(),
                                      **({"error": "client_validation_failed"} if status == 422 else {}),
                                      **({"error": "no_app_connected"} if status == 503 else {})}, status=status)
        return web.json_response({"ok": True, **(result or {})})

    return route


def need(body: dict[str, Any], *names: str) -> list[Any]:
    missing = [n for n in names if body.get(n) in (None, "")]
    if missing:
        raise ControlError(400, "missing_fields", fields=missing)
    return [body[n] for n in names]


def signing_mode(body: dict[str, Any]) -> str:
    mode = body.get("signing", "valid")
    if mode not in SIGNING_MODES:
        raise ControlError(400, "invalid_signing", allowed=list(SIGNING_MODES))
    return str(mode)
