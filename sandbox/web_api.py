"""``/api/<method>``: Slack's Web API front door.

Order of checks follows Slack: an unknown method is ``unknown_method``; a missing token is
``not_authed``, an unknown one ``invalid_auth`` and the wrong kind (a bot token for
apps.connections.open, an app token for chat.postMessage) ``not_allowed_token_type``; then an
injected rate limit, or Slack's tier limit when enabled, answers HTTP 429 with ``Retry-After``. Errors are HTTP 200 with
``ok: false``, which is what slack_sdk turns into ``SlackApiError``. Every call is recorded.
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from sandbox.appkey import sandbox_of
from sandbox.errors import SlackError
from sandbox.methods import METHODS, Call
from sandbox.params import Args, read_arguments


def _token_type(request: web.Request, args: dict[str, Any], bot_token: str, app_token: str) -> str | None:
    """bot, app, "" (no token at all) or None (a token this workspace does not know)."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    body_token = args.pop("token", None)
    token = token or (body_token if isinstance(body_token, str) else None)
    if not token:
        return ""
    return {bot_token: "bot", app_token: "app"}.get(token)


def _reply(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status,
                             headers={"X-Slack-Req-Id": secrets.token_hex(16), **(headers or {})})


async def handle(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    name = request.match_info["method"]
    try:
        raw = await read_arguments(request)
    except SlackError as exc:
        sb.recorder.call(name, {}, False, exc.error, 200)
        return _reply(exc.body())
    token_type = _token_type(request, raw, sb.config.bot_token, sb.config.app_token)
    method = METHODS.get(name)
    status, headers = 200, {}
    if method is None:
        body: dict[str, Any] = {"ok": False, "error": "unknown_method", "req_method": name}
    elif token_type == "":
        body = {"ok": False, "error": "not_authed"}
    elif token_type is None:
        body = {"ok": False, "error": "invalid_auth"}
    elif token_type not in method.token_types:
        body = {"ok": False, "error": "not_allowed_token_type"}
    elif (retry_after := sb.limiter.check(name, raw)) is not None or (
            retry_after := sb.tiers.check(name, raw.get("channel") or raw.get("channel_id"))) is not None:
        status, headers = 429, {"Retry-After": str(retry_after)}
        body = {"ok": False, "error": "ratelimited"}
    else:
        try:
            body = {"ok": True, **await method.handler(Call(sb, Args(raw), token_type))}
        except SlackError as exc:
            body = exc.body()
    sb.recorder.call(name, raw, bool(body.get("ok")), body.get("error"), status)
    return _reply(body, status, headers)


def add_routes(app: web.Application) -> None:
    app.router.add_route("GET", "/api/{method}", handle)
    app.router.add_route("POST", "/api/{method}", handle)
