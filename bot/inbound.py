"""The HTTP door: every request to ``/slack/events`` passes here before Bolt sees it.

Bolt's aiohttp adapter did three things wrong for a bot on the open internet:

- It parsed before it verified, and verified with ``int(timestamp)``: a forged request with a
  timestamp like ``abc`` raised, Bolt's error handler ran on the forged body and posted
  "Sorry, something went wrong" to whoever it named. A body that is not UTF-8 raised too.
- It told an interaction from a slash command by looking for the *substring* ``payload`` in
  the raw form, so ``/run slo-setup service=payload-api`` was read as an empty interaction
  and answered 404.
- It read fields on trust, so a signed but malformed payload (``actions=[]``) answered 500.

So the door, in this order: verifies the signature over the raw bytes (anything else: 401,
and nothing is parsed, logged at length, or sent to Slack); decodes strictly (400); tells the
kind of request by the fields Slack actually sends (a slash command has ``command``; an
interaction's only field that matters is ``payload``; Events API bodies are JSON); checks the
shape of what Bolt and the listeners will read (``bot.slack_shapes``, 400); and hands Bolt the
parsed body re-encoded as JSON, which Bolt parses without guessing. Bolt's own verification is
off in HTTP mode (the body it gets is no longer the signed one): this is the verification.

Signing: https://api.slack.com/authentication/verifying-requests-from-slack
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.slack_shapes import command_problem, event_problem, interaction_problem

log = logging.getLogger(__name__)

MAX_AGE_S = 5 * 60
"""Slack's docs: refuse a request whose timestamp is more than five minutes from now (replays)."""

TIMESTAMP = re.compile(r"[0-9]{1,12}")
"""Unix seconds in ASCII digits; ``int()`` alone would also take ``" 1_7"`` or other scripts' digits."""
SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


class Refused(Exception):
    """A request the door will not pass on: its status, and a reason safe to show the sender."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> None:
    """Raise ``Refused(401)`` unless ``body`` carries Slack's valid, fresh signature.

    The HMAC is over the raw bytes, so a body that is not UTF-8 is verified (and, signed by
    someone without the secret, refused) before anything tries to decode it.
    """
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not TIMESTAMP.fullmatch(timestamp) or not SIGNATURE.fullmatch(signature):
        raise Refused(401, "missing or malformed signature headers")
    if abs(now - int(timestamp)) > MAX_AGE_S:
        raise Refused(401, "stale timestamp")
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise Refused(401, "invalid signature")


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None


def _form(text: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise Refused(400, "form field is not UTF-8") from None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise Refused(400, "a form field is repeated")
    return fields


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise Refused(400, f"{what} is not JSON") from None


def parse(content_type: str, body: bytes) -> dict[str, Any]:
    """The request as Bolt should see it, or ``Refused(400/415)`` naming what is wrong.

    Request kinds by Slack's own encodings: slash commands (a form with ``command``,
    https://api.slack.com/interactivity/slash-commands#app_command_handling), interactions
    (a form whose one field ``payload`` holds JSON, https://api.slack.com/interactivity/handling#payloads),
    Events API callbacks (JSON, https://api.slack.com/apis/connections/events-api#receiving-events),
    and the ``ssl_check`` form Slack sends to check a certificate.
    """
    text = _text(body)
    if content_type == JSON:
        parsed = _json(text, "body")
        problem = event_problem(parsed)
    elif content_type == FORM:
        fields = _form(text)
        if "command" in fields:  # the text is the person's and may say anything, "payload" included
            parsed, problem = fields, command_problem(fields)
        elif "payload" in fields:
            parsed = _json(fields["payload"], "payload")
            problem = interaction_problem(parsed)
        elif fields.get("ssl_check") == "1":
            parsed, problem = fields, None
        else:
            raise Refused(400, "neither a slash command nor an interaction")
    else:
        raise Refused(415, f"unsupported Content-Type {content_type!r}")
    if problem is not None:
        raise Refused(400, problem)
    return parsed


def bolt_request(request: web.Request, body: dict[str, Any]) -> AsyncBoltRequest:
    """Bolt's request for a checked body: JSON, so Bolt's parser has nothing to guess."""
    headers: dict[str, str | Sequence[str]] = {
        k.lower(): v for k, v in request.headers.items() if k.lower() not in ("content-type", "content-length")}
    headers["content-type"] = JSON
    return AsyncBoltRequest(body=json.dumps(body), query=request.query_string, headers=headers)


def door(app: AsyncApp, signing_secret: str,
         now: Callable[[], float] = time.time) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler for ``POST /slack/events``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            verify(signing_secret, request.headers, raw, now())
            body = parse(request.content_type, raw)
        except Refused as refused:
            log.info("refused a request to /slack/events (%d): %s", refused.status, refused.reason)
            return web.Response(status=refused.status, text=refused.reason)
        return await to_aiohttp_response(await app.async_dispatch(bolt_request(request, body)))

    return handle
