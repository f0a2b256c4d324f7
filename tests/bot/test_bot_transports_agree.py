"""Property: whatever a person types after ``/run``, both transports do the same with it.

A random command text goes to one bot over Socket Mode and to another over signed HTTP, both on
the same sandbox and Redis. Each reply must be the same: the same inputs recorded for the run
it started, or the same refusal, word for word. And the HTTP door must answer every one of them
200 (Bolt took a text containing "payload" for an interaction and answered 404; a parser
error would be a 500).

What is compared is what reaches the sandbox (the reply each bot posts, the run each started),
not the parser's output, so this holds whatever the tokenizer does, and catches a transport
that mangles the text on its way (form encoding, ``+``, ``%``, ``&``, JSON escapes) before the
parser sees it. The example budget comes from the hypothesis profile in tests/conftest.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from engine.client import ShepherdClient
from sandbox import SandboxServer
from tests.bot.conftest import WAIT, Harness, Slack
from tests.sandbox.control_client import Control, eventually

STARTED = re.compile(r"Started \*Echo inputs\*: run `([^`]+)`")

FRAGMENTS = [
    "payload", "payload=", "payload={}", "command=", "ssl_check=1", "=", "&", "&amp;", "&lt;", "&gt;", "%", "%20",
    "%FF", "+", "'", '"', "\u201c", "\u201d", "\u2018", "\\", "<@U0BOB|bob>", "<#C0OPS|ops>", "<!channel>", "--",
    "--dry-run", "note=", "target=", "tags=a,b", "dry_run=yes", "who=", " ", "  ", "\t", "\n", "\u00a0", "{", "}",
    "[1,2,3]", '{"type":"block_actions"}', "help", "status", "cancel", "caf\u00e9", "\U0001f680",
]

texts = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(st.characters(exclude_categories=("Cs",)), max_size=6)),
    max_size=8,
).map("".join)
"""Texts built of what breaks parsers and encodings, and arbitrary unicode (no lone surrogates:
they cannot be sent as UTF-8 by anyone)."""


class Transports:
    """Two bots on one sandbox: one connected over Socket Mode, one listening for signed HTTP."""

    def __init__(self, server: SandboxServer, control: Control, client: ShepherdClient, http_url: str) -> None:
        self.server, self.client, self.http_url = server, client, http_url
        self.slack = Slack(control)

    async def send(self, transport: str, text: str) -> tuple[str, Any]:
        """What the bot made of ``/run echo-inputs <text>``: ("started", inputs) or ("refused", reply)."""
        self.server.config.request_url = self.http_url if transport == "http" else None
        before = len(await self.slack.ephemerals("U0ALICE"))  # the sandbox's own error notices count too
        result = await self.slack.control.post("/commands", {"user": "U0ALICE", "channel": "C0OPS",
                                                             "command": "/run", "text": f"echo-inputs {text}"})
        attempts = result["delivery"]["attempts"]
        assert result["acked"] and [a["outcome"] for a in attempts] == ["acked"], (transport, text, attempts)
        if transport == "http":
            assert attempts[0]["http_status"] == 200, (text, attempts)

        async def replied() -> bool:
            return len(await self.slack.ephemerals("U0ALICE")) > before

        try:
            await eventually(replied, WAIT)
        except AssertionError:
            raise AssertionError(f"no reply over {transport} to {text!r}") from None
        reply = (await self.slack.ephemerals("U0ALICE"))[before]
        if match := STARTED.search(reply):
            created = (await self.client.store.read_journal(match[1]))[0]
            return "started", created["inputs"]
        return "refused", reply


@pytest.fixture
async def transports(server: SandboxServer, redis: Redis, worker: Any, control: Control,
                     client: ShepherdClient) -> AsyncIterator[Transports]:
    socket, http = Harness(server, redis, "socket"), Harness(server, redis, "http")
    http.generation = 100  # its own notifier consumer name, beside the socket bot's
    await socket.start()
    bot = await http.start()
    try:
        yield Transports(server, control, client, f"http://127.0.0.1:{bot.port}/slack/events")
    finally:
        await http.stop()
        await socket.stop()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # one pair of bots for every example
@given(text=texts)
@example(text="service=payload-api target=99.9")  # issue 10's text: a 404 over HTTP
@example(text="payload-api note=payload")
async def test_any_text_gets_the_same_answer_over_both_transports(transports: Transports, text: str) -> None:
    over_socket = await transports.send("socket", text)
    over_http = await transports.send("http", text)
    assert over_http == over_socket, f"{text!r}: Socket Mode {over_socket}, HTTP {over_http}"
    if over_socket[0] == "refused":
        assert "something went wrong" not in over_socket[1], (text, over_socket)
