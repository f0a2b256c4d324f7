"""``bot.inbound`` by itself: the signature's clock window, and how a body's kind is told.

End to end (through the bot, both outcomes seen in Slack) these are in test_bot_signatures.py;
here the edges are pinned with an injected clock and literal bodies.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from bot.inbound import FORM, JSON, Refused, parse, verify
from sandbox.signing import signed_headers

SECRET = "test-secret"
NOW = 1_700_000_000.0


@pytest.mark.parametrize(("age", "accepted"), [(0, True), (300, True), (-300, True), (301, False), (-301, False)])
def test_five_minutes_either_way(age: int, accepted: bool) -> None:
    body = b"command=/run"
    headers = signed_headers(SECRET, body, now=NOW - age)
    if accepted:
        verify(SECRET, headers, body, NOW)
    else:
        with pytest.raises(Refused) as refused:
            verify(SECRET, headers, body, NOW)
        assert refused.value.status == 401


@pytest.mark.parametrize("signature", ["", "v0=", "v1=" + "0" * 64, "v0=" + "G" * 64, "v0=" + "\u00e9" * 64])
def test_malformed_signature_header(signature: str) -> None:
    with pytest.raises(Refused) as refused:
        verify(SECRET, {"X-Slack-Request-Timestamp": str(int(NOW)), "X-Slack-Signature": signature}, b"", NOW)
    assert refused.value.status == 401


def test_the_signature_covers_bytes_that_are_not_utf8() -> None:
    body = b"text=caf\xe9"
    verify(SECRET, signed_headers(SECRET, body, now=NOW), body, NOW)
    with pytest.raises(Refused):
        verify(SECRET, signed_headers(SECRET, body + b"x", now=NOW), body, NOW)


def command(text: str) -> bytes:
    return urlencode({"command": "/run", "user_id": "U1", "channel_id": "C1", "text": text}).encode()


@pytest.mark.parametrize("text", ["payload", "payload=1", 'payload={"type":"block_actions"}', "ssl_check=1", "{x}"])
def test_a_command_is_a_command_whatever_its_text(text: str) -> None:
    assert parse(FORM, command(text))["text"] == text


def test_an_interaction_is_its_payload() -> None:
    payload = {"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "a"}]}
    assert parse(FORM, urlencode({"payload": json.dumps(payload)}).encode()) == payload


def test_an_event_is_json() -> None:
    body = {"type": "event_callback", "event": {"type": "app_home_opened", "user": "U1"}, "event_id": "Ev1"}
    assert parse(JSON, json.dumps(body).encode()) == body


@pytest.mark.parametrize(("content_type", "body", "status"), [
    (FORM, b"text=hello", 400),  # neither a command nor an interaction
    (FORM, command("x") + b"&command=/other", 400),  # a field twice: which one did Slack mean?
    (FORM, b"payload=%FF", 400),
    (FORM, b"\xff", 400),
    (JSON, b"[]", 400),
    ("text/plain", command("x"), 415),
    ("application/octet-stream", b"", 415),
])
def test_refused_bodies(content_type: str, body: bytes, status: int) -> None:
    with pytest.raises(Refused) as refused:
        parse(content_type, body)
    assert refused.value.status == status
