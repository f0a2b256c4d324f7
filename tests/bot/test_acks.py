"""answer_at_ack: the answer goes back when the listener acks, its work carries on afterwards."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bot.acks import YIELD_S, answer_at_ack, drain, in_background


class Ack:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


async def test_returns_at_the_ack_while_the_work_goes_on() -> None:
    release, done = asyncio.Event(), asyncio.Event()

    @answer_at_ack
    async def listener(ack: Any, body: dict[str, Any]) -> None:
        await ack(response_action="clear")
        await release.wait()  # the slow part: Redis, Slack
        done.set()

    ack = Ack()
    await asyncio.wait_for(listener(ack=ack, body={}), 1)
    assert ack.calls == [{"response_action": "clear"}]
    assert not done.is_set()  # answered before the work finished
    release.set()
    await drain(1)
    assert done.is_set()


async def test_waits_for_work_done_before_the_ack() -> None:
    """Validation before the ack (a modal's inline errors) is part of the answer."""
    order: list[str] = []

    @answer_at_ack
    async def listener(ack: Any) -> None:
        await asyncio.sleep(0.05)
        order.append("validated")
        await ack(response_action="errors", errors={"b": "bad"})

    ack = Ack()
    await listener(ack=ack)
    assert order == ["validated"] and ack.calls == [{"response_action": "errors", "errors": {"b": "bad"}}]


async def test_an_error_before_the_ack_reaches_bolt() -> None:
    @answer_at_ack
    async def listener(ack: Any) -> None:
        raise ValueError("refused before acking")

    with pytest.raises(ValueError, match="refused before acking"):
        await listener(ack=Ack())


async def test_an_error_after_the_ack_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    @answer_at_ack
    async def listener(ack: Any) -> None:
        await ack()
        await asyncio.sleep(0)
        raise RuntimeError("after the answer")

    with caplog.at_level(logging.ERROR, logger="bot.acks"):
        await listener(ack=Ack())
        await drain(1)
    assert any("after the answer" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


async def test_keeps_the_listener_signature_for_bolt() -> None:
    """Bolt passes arguments by the parameter names it sees, through ``__wrapped__``."""
    import inspect

    async def listener(ack: Any, body: dict[str, Any], client: Any) -> None:
        await ack()

    assert list(inspect.signature(answer_at_ack(listener)).parameters) == ["ack", "body", "client"]


async def test_in_background_returns_at_once() -> None:
    release, done = asyncio.Event(), asyncio.Event()

    @in_background
    async def on_event(event: dict[str, Any]) -> None:
        await release.wait()
        done.set()

    await asyncio.wait_for(on_event(event={}), 1)
    assert not done.is_set()
    release.set()
    await drain(1)
    assert done.is_set()


async def test_work_after_an_ack_lets_the_other_answers_go_first() -> None:
    """Under a burst, a listener's work waits until the requests already in listeners are answered."""
    order: list[str] = []
    b_may_ack = asyncio.Event()

    @answer_at_ack
    async def quick(ack: Any) -> None:
        await ack()
        order.append("quick works")

    @answer_at_ack
    async def validating(ack: Any) -> None:
        await b_may_ack.wait()  # e.g. validating a modal before answering
        order.append("validating answers")
        await ack()

    slow = asyncio.ensure_future(validating(ack=Ack()))
    await asyncio.sleep(0)  # inside its listener, not answered yet
    await asyncio.wait_for(quick(ack=Ack()), 1)  # answered at once ...
    await asyncio.sleep(0.02)
    assert order == []  # ... but its work waits for the other answer
    b_may_ack.set()
    await slow
    await drain(1)
    assert order == ["validating answers", "quick works"]


async def test_the_wait_for_other_answers_is_bounded() -> None:
    order: list[str] = []
    never = asyncio.Event()

    @answer_at_ack
    async def stuck(ack: Any) -> None:
        await never.wait()

    @answer_at_ack
    async def quick(ack: Any) -> None:
        await ack()
        order.append("quick works")

    stuck_task = asyncio.ensure_future(stuck(ack=Ack()))
    await asyncio.sleep(0)
    await quick(ack=Ack())
    await asyncio.sleep(YIELD_S + 0.1)
    assert order == ["quick works"]
    never.set()
    await stuck_task  # it ended without acking: nothing raised, nothing left running
