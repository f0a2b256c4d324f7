"""Signals and ``ctx.first`` end to end: a real Redis, an in-process worker, the client's API.

Crashes (a worker or a front end killed at an exact moment) are in ``tests/test_signal_crashes.py``.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from redis.asyncio import Redis

from engine.arguments import ArgumentError
from engine.client import ShepherdClient
from engine.context import Execution
from engine.errors import GateClosed, NotAllowed, RunClosed, UnknownSignal
from engine.journal import TERMINAL, Event, JournalView
from engine.registry import get_process
from engine.worker import Worker
from shepherd.discovery import load_processes
from state import keys
from state.timers import member
from tests.helpers import check_journal, wait_for, wait_for_gate

SIGNAL_EXAMPLES = Path(__file__).parent / "signal_examples"
load_processes(str(SIGNAL_EXAMPLES))


async def journal(client: ShepherdClient, run_id: str) -> list[Event]:
    return await client.store.read_journal(run_id)


async def until(check, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def waiting_for_signal(client: ShepherdClient, run_id: str, key: str) -> None:
    """Wait until the run's journal holds the wait at ``key``, still unresolved."""
    async def there() -> bool:
        view = JournalView(await journal(client, run_id))
        return key in view.pending

    await until(there)


def replay(events: list[Event]) -> tuple[object, list[Event]]:
    """Replay a finished run's journal cold (without its end); return its result and any new events."""
    body = [e for e in events if e["type"] not in TERMINAL]
    definition = get_process(events[0]["process"])
    execution = Execution(definition, "replay", JournalView(body))
    outcome = execution.drive()
    assert outcome.state == "completed", outcome.error
    return outcome.value, execution.ctx.take_new_events()


# -- signals ------------------------------------------------------------------------------


async def test_three_signals_sent_before_the_run_waits_arrive_in_order(client: ShepherdClient, worker,
                                                                       redis: Redis) -> None:
    run_id = await client.start("signal-inbox", {"count": 3}, requester="alice")
    gate = await wait_for_gate(client, run_id)
    for text, level in (("one", 1), ("two", 2), ("three", 3)):
        result = await client.signal(run_id, "update", [f"text={text}", f"level={level}"], sender="alice")
        assert result.applied and result.message == f"sent update to run {run_id}"
    await client.decide(run_id, gate["key"], user="bob", approve=True)
    run = await wait_for(client, run_id)
    assert run.status == "completed", run.meta.get("error")
    events = await journal(client, run_id)
    assert events[-1]["result"] == {"received": ["one/1", "two/2", "three/3"]}
    check_journal(events)
    signals = [e["id"] for e in events if e["type"] == "signal_received"]
    consumed = {e["key"]: e["signal"] for e in events if e["type"] == "effect_resolved" and "signal" in e}
    assert consumed == {f"update-{i}": signals[i] for i in range(3)}
    assert [s.detail for s in run.steps if s.kind == "signal"] == ["received from alice"] * 3
    assert await client.store.undispatched(run_id) == set()


async def test_a_signal_not_yet_waited_for_stays_buffered(client: ShepherdClient, worker) -> None:
    run_id = await client.start("signal-inbox", {"count": 2}, requester="alice")
    gate = await wait_for_gate(client, run_id)
    await client.signal(run_id, "update", {"text": "a"}, sender="alice")
    await client.signal(run_id, "update", {"text": "b"}, sender="alice")
    await client.signal(run_id, "update", {"text": "c"}, sender="alice")  # nobody will wait for this one
    await client.decide(run_id, gate["key"], user="bob", approve=True)
    run = await wait_for(client, run_id)
    events = await journal(client, run_id)
    assert run.status == "completed" and events[-1]["result"] == {"received": ["a/1", "b/1"]}
    assert len([e for e in events if e["type"] == "signal_received"]) == 3


async def test_the_same_signal_id_twice_is_delivered_once_and_says_so(client: ShepherdClient, worker) -> None:
    run_id = await client.start("signal-inbox", {"count": 2, "hold": False}, requester="alice")
    await waiting_for_signal(client, run_id, "update-0")
    first = await client.signal(run_id, "update", {"text": "a"}, sender="alice", signal_id="retry-1")
    again = await client.signal(run_id, "update", {"text": "a"}, sender="alice", signal_id="retry-1")
    assert first.applied and not again.applied
    assert again.message.startswith("signal retry-1 was already delivered (by alice at ")
    assert again.message.endswith("UTC); nothing changed")
    await waiting_for_signal(client, run_id, "update-1")  # the repeat did not feed the second wait
    await client.signal(run_id, "update", {"text": "b"}, sender="alice", signal_id="retry-2")
    run = await wait_for(client, run_id)
    assert run.status == "completed"
    events = await journal(client, run_id)
    assert events[-1]["result"] == {"received": ["a/1", "b/1"]}
    assert [e["id"] for e in events if e["type"] == "signal_received"] == ["retry-1", "retry-2"]


async def test_the_same_wake_delivered_twice_consumes_each_signal_once(client: ShepherdClient, worker,
                                                                       redis: Redis) -> None:
    run_id = await client.start("signal-inbox", {"count": 2, "hold": False}, requester="alice")
    await waiting_for_signal(client, run_id, "update-0")
    await client.signal(run_id, "update", {"text": "a"}, sender="alice")
    for _ in range(3):  # redelivered wakes, and two orchestrators racing for the run
        await asyncio.gather(worker.orchestrator.advance(run_id), worker.queue.enqueue_wake(run_id))
    await waiting_for_signal(client, run_id, "update-1")
    await client.signal(run_id, "update", {"text": "b"}, sender="alice")
    assert (await wait_for(client, run_id)).status == "completed"
    events = await journal(client, run_id)
    check_journal(events)
    assert events[-1]["result"] == {"received": ["a/1", "b/1"]}


async def test_unauthorized_senders_are_refused_and_nothing_is_journaled(client: ShepherdClient, worker) -> None:
    inbox = await client.start("signal-inbox", {"count": 1, "hold": False}, requester="alice")
    await waiting_for_signal(client, inbox, "update-0")
    with pytest.raises(NotAllowed, match=f"^signal update of run {inbox} may be sent by the run's requester$"):
        await client.signal(inbox, "update", {"text": "x"}, sender="mallory")

    run_id = await client.start("signal-senders", {}, requester="alice")
    await waiting_for_signal(client, run_id, "1")
    with pytest.raises(NotAllowed, match=r"may be sent by bob, group:S0SRE$"):
        await client.signal(run_id, "severity", ["severity=SEV-1"], sender="alice")  # the requester is not listed
    await client.signal(run_id, "severity", ["severity=SEV-1", "reason=spreading"], sender="carol", groups=["S0SRE"])
    await waiting_for_signal(client, run_id, "2")
    with pytest.raises(NotAllowed, match=r"may be sent by whoever on_call_only allows$"):
        await client.signal(run_id, "handover", ["to=dave"], sender="bob")
    await client.signal(run_id, "handover", ["to=dave"], sender="oncall-erin")
    run = await wait_for(client, run_id)
    events = await journal(client, run_id)
    assert events[-1]["result"] == {"severity": "SEV-1", "reason": "spreading", "commander": "dave"}
    assert [e["by"] for e in events if e["type"] == "signal_received"] == ["carol", "oncall-erin"]
    assert run.status == "completed"
    assert [e for e in await journal(client, inbox) if e["type"] == "signal_received"] == []


async def test_a_sender_policy_that_raises_refuses(client: ShepherdClient, worker,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    run_id = await client.start("signal-broken-policy", {}, requester="alice")
    await waiting_for_signal(client, run_id, "1")
    with pytest.raises(NotAllowed, match=r"may be sent by whoever broken_policy allows$"):
        await client.signal(run_id, "update", {"text": "x"}, sender="alice")
    assert "sender policy shepherd_custom.signal_flows:broken_policy of signal update failed" in caplog.text
    assert [e for e in await journal(client, run_id) if e["type"] == "signal_received"] == []


async def test_bad_payloads_unknown_names_and_closed_runs(client: ShepherdClient, worker) -> None:
    run_id = await client.start("signal-senders", {}, requester="alice")
    await waiting_for_signal(client, run_id, "1")
    with pytest.raises(ArgumentError) as bad:
        await client.signal(run_id, "severity", ["severity=SEV-9", "colour=red"], sender="bob")
    assert bad.value.lines == ["unknown input 'colour' (expected one of: severity, reason)",
                               "input 'severity': expected one of SEV-1, SEV-2, SEV-3, got 'SEV-9'"]
    with pytest.raises(UnknownSignal) as unknown:
        await client.signal(run_id, "sevrity", [], sender="bob")
    assert str(unknown.value) == f"run {run_id} takes no signal 'sevrity' (it takes: handover, severity)"
    with pytest.raises(ArgumentError, match=r"^a signal id is 1 to 128 printable characters$"):
        await client.signal(run_id, "severity", ["severity=SEV-1"], sender="bob", signal_id="x" * 129)
    await client.cancel(run_id, by="alice")
    with pytest.raises(RunClosed, match="is cancelled; it takes no more signals"):
        await client.signal(run_id, "severity", ["severity=SEV-2"], sender="bob")


async def test_replaying_a_signalled_run_reproduces_it_exactly(client: ShepherdClient, worker) -> None:
    worker.orchestrator.cache_size = 0  # every wake replays from the top
    run_id = await client.start("signal-inbox", {"count": 3}, requester="alice")
    gate = await wait_for_gate(client, run_id)
    await client.signal(run_id, "update", {"text": "early"}, sender="alice")
    await client.decide(run_id, gate["key"], user="bob", approve=True)
    for text in ("mid", "late"):
        await waiting_for_signal(client, run_id, f"update-{['mid', 'late'].index(text) + 1}")
        await client.signal(run_id, "update", {"text": text}, sender="alice")
    assert (await wait_for(client, run_id)).status == "completed"
    events = await journal(client, run_id)
    value, new = replay(events)
    assert value == events[-1]["result"] == {"received": ["early/1", "mid/1", "late/1"]}
    assert new == []  # the replay asked for nothing the journal did not already hold


async def test_log_lines_are_written_once_not_on_every_replay(client: ShepherdClient, worker,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    worker.orchestrator.cache_size = 0
    caplog.set_level(logging.INFO, logger="shepherd.process")
    run_id = await client.start("signal-inbox", {"count": 2, "hold": False}, requester="alice")
    for i, text in enumerate(("a", "b")):
        await waiting_for_signal(client, run_id, f"update-{i}")
        await client.signal(run_id, "update", {"text": text}, sender="alice")
    assert (await wait_for(client, run_id)).status == "completed"
    lines = [r.getMessage() for r in caplog.records if r.name == "shepherd.process.signal-inbox"]
    assert lines == [f"run {run_id}: listening for 2 updates", f"run {run_id}: update 0: a",
                     f"run {run_id}: update 1: b"]
    records = [r for r in caplog.records if r.name == "shepherd.process.signal-inbox"]
    assert all(r.run_id == run_id and r.funcName == "signal_inbox" for r in records)  # the process's line


# -- ctx.first --------------------------------------------------------------------------------


async def test_first_an_update_beats_the_timer_then_the_timer_ticks(client: ShepherdClient, worker,
                                                                    redis: Redis) -> None:
    run_id = await client.start("status-loop", {"cadences": [30, 0.05]}, requester="alice")
    await waiting_for_signal(client, run_id, "update-0")
    assert await redis.zscore(keys.TIMERS, member("sleep", run_id, "tick-0")) is not None
    await client.signal(run_id, "update", {"text": "mitigated"}, sender="carol")  # senders=Approvers(): anyone
    run = await wait_for(client, run_id)
    assert run.status == "completed", run.meta.get("error")
    events = await journal(client, run_id)
    assert events[-1]["result"] == {"rounds": ["update:mitigated", "tick"]}
    cancelled = {e["key"]: e for e in events if e["type"] == "effect_cancelled"}
    assert set(cancelled) == {"tick-0", "update-1"}
    assert cancelled["tick-0"]["winner"] == "update-0" and cancelled["update-1"]["winner"] == "tick-1"
    assert await redis.zscore(keys.TIMERS, member("sleep", run_id, "tick-0")) is None  # the loser's timer is gone
    effects = await client.store.effect_states(run_id)
    assert effects["tick-0"] == "cancelled" and effects["update-1"] == "cancelled"
    assert run.notes == ["Update: mitigated"]
    value, new = replay(events)
    assert value == events[-1]["result"] and new == []


async def test_first_a_loser_timer_that_fires_anyway_changes_nothing(client: ShepherdClient, worker) -> None:
    run_id = await client.start("status-loop", {"cadences": [30, 30]}, requester="alice")
    await waiting_for_signal(client, run_id, "update-0")
    await client.signal(run_id, "update", {"text": "one"}, sender="carol")
    await waiting_for_signal(client, run_id, "update-1")
    before = await journal(client, run_id)
    for _ in range(2):  # the cancelled timer delivered (twice) after all
        await worker._fire(member("sleep", run_id, "tick-0"))
    assert await journal(client, run_id) == before
    await client.signal(run_id, "update", {"text": "two"}, sender="carol")
    assert (await wait_for(client, run_id)).status == "completed"
    events = await journal(client, run_id)
    assert events[-1]["result"] == {"rounds": ["update:one", "update:two"]}


async def test_first_a_signal_closes_the_losing_gate(client: ShepherdClient, worker) -> None:
    run_id = await client.start("status-loop", {"cadences": [30, 0.05], "gate": True}, requester="alice")
    gate = await wait_for_gate(client, run_id)
    assert gate["key"] == "resolved"
    await client.signal(run_id, "update", {"text": "still digging"}, sender="carol")
    await waiting_for_signal(client, run_id, "update-1")
    closed = (await client.store.gates(run_id))["resolved"]
    assert closed["status"] == "cancelled" and closed["superseded"] is True  # front ends can say why
    with pytest.raises(GateClosed, match=r"^already closed: something else came first"):
        await client.decide(run_id, "resolved", user="bob", approve=True)
    run = await wait_for(client, run_id)
    assert (await journal(client, run_id))[-1]["result"] == {"rounds": ["update:still digging", "tick"]}
    assert run.open_gates == []


async def test_first_the_gate_wins_and_unauthorized_senders_change_nothing(client: ShepherdClient,
                                                                           worker) -> None:
    run_id = await client.start("status-loop", {"cadences": [30], "gate": True, "update_senders": ["carol"]},
                                requester="alice")
    await wait_for_gate(client, run_id)
    with pytest.raises(NotAllowed):
        await client.decide(run_id, "resolved", user="mallory", approve=True)
    with pytest.raises(NotAllowed, match=r"may be sent by carol$"):
        await client.signal(run_id, "update", {"text": "all clear (not really)"}, sender="mallory")
    assert [e for e in await journal(client, run_id) if e["type"] == "signal_received"] == []
    assert (await client.decide(run_id, "resolved", user="bob", approve=True)).applied
    run = await wait_for(client, run_id)
    events = await journal(client, run_id)
    assert run.status == "completed" and events[-1]["result"] == {"rounds": ["resolved"]}
    assert {e["key"] for e in events if e["type"] == "effect_cancelled"} == {"tick-0", "update-0"}
    with pytest.raises(RunClosed):
        await client.signal(run_id, "update", {"text": "late"}, sender="carol")


async def test_first_a_signal_already_waiting_beats_a_timer_resolved_later(client: ShepherdClient,
                                                                          redis: Redis, settings) -> None:
    """Both outcomes are in the journal before the run replays: the earlier one wins, every time."""
    run_id = await client.start("status-loop", {"cadences": [30]}, requester="alice")
    worker = Worker(redis, settings)
    task = asyncio.create_task(worker.run())
    try:
        await waiting_for_signal(client, run_id, "update-0")
    finally:
        worker.stop()
        await asyncio.wait_for(task, 15)
    await client.signal(run_id, "update", {"text": "first"}, sender="carol")
    await client.store.resolve(run_id, "tick-0", {"type": "effect_resolved", "key": "tick-0", "ok": True,
                                                  "value": None, "at": "2026-01-01T00:00:00.000Z"})
    worker = Worker(redis, settings)
    task = asyncio.create_task(worker.run())
    try:
        assert (await wait_for(client, run_id)).status == "completed"
    finally:
        worker.stop()
        await asyncio.wait_for(task, 15)
    events = await journal(client, run_id)
    assert events[-1]["result"] == {"rounds": ["update:first"]}


async def test_first_an_unauthorized_update_loses_to_the_timer(client: ShepherdClient, worker) -> None:
    run_id = await client.start("status-loop", {"cadences": [0.3], "update_senders": ["carol"]},
                                requester="alice")
    await waiting_for_signal(client, run_id, "update-0")
    with pytest.raises(NotAllowed):
        await client.signal(run_id, "update", {"text": "spoofed"}, sender="mallory")
    assert (await wait_for(client, run_id)).status == "completed"
    events = await journal(client, run_id)
    assert events[-1]["result"] == {"rounds": ["tick"]}
    assert [e["key"] for e in events if e["type"] == "effect_cancelled"] == ["update-0"]


async def test_first_the_same_wake_twice_decides_once(client: ShepherdClient, worker) -> None:
    run_id = await client.start("status-loop", {"cadences": [30, 30]}, requester="alice")
    await waiting_for_signal(client, run_id, "update-0")
    await client.signal(run_id, "update", {"text": "one"}, sender="carol")
    for _ in range(3):
        await asyncio.gather(worker.orchestrator.advance(run_id), worker.orchestrator.advance(run_id),
                             worker.queue.enqueue_wake(run_id))
    await waiting_for_signal(client, run_id, "update-1")
    await client.signal(run_id, "update", {"text": "two"}, sender="carol")
    assert (await wait_for(client, run_id)).status == "completed"
    events = await journal(client, run_id)
    markers = [e["key"] for e in events if e["type"] == "recorded" and e["kind"] == "first"]
    assert markers == ["round-0", "round-1"]
    assert sorted(e["key"] for e in events if e["type"] == "effect_cancelled") == ["tick-0", "tick-1"]
    assert events[-1]["result"] == {"rounds": ["update:one", "update:two"]}


async def test_first_an_answer_wins_and_a_losing_question_is_closed(client: ShepherdClient, worker) -> None:
    run_id = await client.start("status-loop", {"cadences": [30], "ask": True}, requester="alice")
    ask = await wait_for_gate(client, run_id)
    assert ask["kind"] == "ask"
    with pytest.raises(NotAllowed):
        await client.answer(run_id, "status", user="mallory", values=["text=fine"])
    await client.answer(run_id, "status", user="bob", values=["text=rolling back"])
    assert (await wait_for(client, run_id)).status == "completed"
    assert (await journal(client, run_id))[-1]["result"] == {"rounds": ["status:rolling back"]}

    other = await client.start("status-loop", {"cadences": [30], "ask": True}, requester="alice")
    await waiting_for_signal(client, other, "update-0")
    await client.signal(other, "update", {"text": "found it"}, sender="carol")
    assert (await wait_for(client, other)).status == "completed"
    with pytest.raises(GateClosed, match=r"^already closed: something else came first"):
        await client.answer(other, "status", user="bob", values=["text=too late"])
