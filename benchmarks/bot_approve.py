"""Approve click -> the next step shows in the run's thread, as the person in Slack sees it.

Why: after pressing Approve a person watches the thread for the process to carry on; if the
next line ("▸ `step` started") takes seconds they wonder whether the click worked. The path is
everything: the sandbox's signed delivery of ``block_actions``, the bot's ack and decision
(a compare-and-set), a worker replaying the run and queueing the task after the gate, the
notifier noticing, the channel pacer, and ``chat.postMessage`` reaching Slack.

Each of ~30 runs is ``gate-demo`` (task, breakpoint, task) started with ``/run``; once its
gate message is in the thread and the channel has been quiet for longer than the pacer's
interval (a person reads before clicking), bob clicks Approve. The time is from just before
the click is sent to the moment the sandbox stored the thread message with the next step's
"started" line (the sandbox's own change feed timestamps it). Measured with the bot's default
pacing (``SHEPHERD_SLACK_POST_INTERVAL``, one post per channel per second) and, to show what
the pacer adds, with a 50 ms interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from benchmarks.bot_ack import BotStack, bot_stack
from benchmarks.harness import Harness, log, summary
from bot.settings import BotSettings
from sandbox.events import Event

NAME = "bot_approve_ms"
RUNS = 30
WARMUP = 2
TARGET_P95_MS = 300.0
FAST_INTERVAL = 0.05
WAIT = 30.0


class Feed:
    """The sandbox's change feed, followed in this process, so each message's arrival time is exact."""

    def __init__(self, stack: BotStack) -> None:
        self.bus = stack.server.sandbox.bus
        self.events: list[Event] = []
        self.changed = asyncio.Event()

    async def follow(self) -> None:
        async for event in self.bus.subscribe():
            if event is not None:
                self.events.append(event)
                self.changed.set()

    async def wait(self, since: int, match: Callable[[Event], bool], what: str) -> Event:
        """The first event after index ``since`` that matches."""
        deadline = time.monotonic() + WAIT
        seen = since
        while True:
            for event in self.events[seen:]:
                if match(event):
                    return event
            seen = len(self.events)
            self.changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {what} within {WAIT} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)


@contextlib.asynccontextmanager
async def following(stack: BotStack) -> AsyncIterator[Feed]:
    feed = Feed(stack)
    task = asyncio.create_task(feed.follow())
    await asyncio.sleep(0)  # subscribed before anything is sent
    try:
        yield feed
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _posted(event: Event, kind: str, run: str | None = None) -> bool:
    if event.type != "message_posted":
        return False
    meta = event.data["message"].get("metadata") or {}
    return meta.get("event_type") == kind and (run is None or (meta.get("event_payload") or {}).get("run") == run)


async def _one(stack: BotStack, feed: Feed, n: int, interval: float) -> dict[str, float]:
    """Start a run, wait for its gate, approve it; the latencies in ms."""
    mark = len(feed.events)
    await stack.act("/commands", {"user": "U0ALICE", "channel": "C0OPS", "command": "/run",
                                  "text": f"gate-demo bench-{n}"})
    gate = await feed.wait(mark, lambda e: _posted(e, "shepherd_gate"), "gate message")
    run_id = gate.data["message"]["metadata"]["event_payload"]["run"]
    await asyncio.sleep(interval + 0.3)  # a person reads the gate; the pacer's slot is free again
    mark = len(feed.events)
    t0 = time.time()
    clicked = await stack.act("/actions", {"user": "U0BOB", "channel": "C0OPS", "ts": gate.data["message"]["ts"],
                                           "action_id": "shepherd_approve"})
    if not clicked["acked"]:
        raise RuntimeError(f"approve click on run {run_id} was not acked: {clicked['delivery']}")
    approved = await feed.wait(mark, lambda e: _posted(e, "shepherd_step", run_id) and "approved by"
                               in e.data["message"].get("text", ""), f"approval line of run {run_id}")
    nxt = await feed.wait(mark, lambda e: _posted(e, "shepherd_step", run_id) and "started"
                          in e.data["message"].get("text", ""), f"next step's line of run {run_id}")
    return {"next_step": (nxt.at - t0) * 1000, "approved_line": (approved.at - t0) * 1000,
            "click_ack": float(clicked["delivery"]["attempts"][0]["latency_ms"])}


async def _measure(h: Harness, interval: float | None) -> dict[str, Any]:
    pacing = interval if interval is not None else BotSettings.model_fields["post_interval"].default
    async with bot_stack(h, post_interval=interval) as stack, following(stack) as feed:
        for n in range(WARMUP):
            await _one(stack, feed, -1 - n, pacing)
        samples = []
        for n in range(RUNS):
            samples.append(await _one(stack, feed, n, pacing))
            if (n + 1) % 10 == 0:
                log(f"{NAME}: {n + 1}/{RUNS} (post interval {pacing} s)")
    stats = summary([s["next_step"] for s in samples])
    return {
        "post_interval_s": pacing,
        **stats,
        "approval_line_ms": {k: v for k, v in summary([s["approved_line"] for s in samples]).items()
                             if k in ("median", "p95")},
        "click_ack_ms": {k: v for k, v in summary([s["click_ack"] for s in samples]).items() if k in ("median", "p95")},
    }


async def run(h: Harness) -> dict[str, Any]:
    log(f"{NAME}: {RUNS} gate-demo runs, approve -> next step's thread line, default pacing")
    default = await _measure(h, None)
    log(f"{NAME}: again with a {FAST_INTERVAL} s post interval")
    fast = await _measure(h, FAST_INTERVAL)
    return {
        "what": "Approve clicked in the sandbox -> the thread message with the next step's 'started' line stored "
                f"by the sandbox; {RUNS} gate-demo runs; bot = `shepherd serve` process (HTTP mode) with its worker",
        "p95": default["p95"],
        "default_pacing": default,
        f"pacing_{int(FAST_INTERVAL * 1000)}ms": fast,
        "target": f"p95 <= {TARGET_P95_MS} ms (default pacing)",
        "meets_target": default["p95"] <= TARGET_P95_MS,
    }
