"""``bot.membership``: only Slack saying "not a member" stops a command; anything inconclusive lets
it through as before, and a seen membership is remembered for a minute (an injected clock)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.slack_response import SlackResponse

from bot import membership
from bot.membership import Membership


class FakeClient:
    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def conversations_info(self, channel: str) -> dict[str, Any]:
        self.calls += 1
        answer = self.answers.pop(0)
        if answer == "slow":
            await asyncio.Event().wait()  # never answers: the check's own timeout ends it
        if isinstance(answer, str):
            response = SlackResponse(client=None, http_verb="POST", api_url="", req_args={},
                                     data={"ok": False, "error": answer}, headers={}, status_code=200)
            raise SlackApiError("refused", response)
        return {"channel": answer}


async def test_membership_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(membership, "TIMEOUT", 0.01)
    now = [0.0]
    check = Membership(clock=lambda: now[0])
    client = FakeClient({"is_member": False}, "channel_not_found", "missing_scope", "slow", {"is_im": True},
                        {"is_member": True}, {"is_member": False})
    assert await check.bot_is_in(client, "C1") is False  # type: ignore[arg-type]
    assert await check.bot_is_in(client, "C1") is False  # type: ignore[arg-type]  # private, not in it
    assert await check.bot_is_in(client, "C1") is True  # type: ignore[arg-type]  # inconclusive
    assert await check.bot_is_in(client, "C1") is True  # type: ignore[arg-type]  # too slow
    assert await check.bot_is_in(client, "D1") is True  # type: ignore[arg-type]  # the bot's DM
    assert await check.bot_is_in(client, "C2") is True  # type: ignore[arg-type]
    now[0] = 59.0
    assert await check.bot_is_in(client, "C2") is True and client.calls == 6  # type: ignore[arg-type]
    now[0] = 61.0
    assert await check.bot_is_in(client, "C2") is False and client.calls == 7  # type: ignore[arg-type]
