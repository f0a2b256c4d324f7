"""Properties of signals and ``ctx.first`` over any interleaving (hypothesis, in memory).

A small simulator plays what Redis and the workers would: senders append ``signal_received``,
timers append a sleep's resolution (only while it is pending, as the resolve script allows), and
an orchestrator drives the process warm (its coroutine kept, external events absorbed) or cold
(replayed from the top), appending what it asks for. Whatever the order, every signal is consumed
at most once and in the order sent, and a cold replay of the final journal reproduces the run
exactly.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from engine.context import Execution
from engine.journal import EXTERNAL, TERMINAL, Event, JournalView
from engine.registry import get_process
from tests.test_signals import SIGNAL_EXAMPLES  # noqa: F401 - loads the example processes

ACTIONS = st.lists(st.sampled_from(["signal", "warm", "cold", "tick"]), max_size=40)


class Simulator:
    def __init__(self, process: str, inputs: dict[str, Any]) -> None:
        self.definition = get_process(process)
        self.events: list[Event] = [{"type": "run_created", "process": process, "inputs": inputs,
                                     "requester": "alice", "at": "2026-01-01T00:00:00.000Z"}]
        self.execution: Execution | None = None
        self.sent = 0

    @property
    def view(self) -> JournalView:
        return JournalView(self.events)

    @property
    def finished(self) -> bool:
        return self.view.terminal is not None

    def signal(self) -> None:
        if not self.finished and "update" in self.view.channels:
            self.sent += 1
            self.events.append({"type": "signal_received", "name": "update", "id": f"s{self.sent}", "by": "alice",
                                "payload": {"text": f"u{self.sent}"}, "at": "2026-01-01T00:00:01.000Z"})

    def tick(self) -> None:
        sleeping = [k for k, e in self.view.pending.items() if e["kind"] == "sleep"]
        if sleeping and not self.finished:
            self.events.append({"type": "effect_resolved", "key": sleeping[0], "ok": True, "value": None,
                                "at": "2026-01-01T00:00:02.000Z"})

    def drive(self, warm: bool) -> None:
        if self.finished:
            return
        execution = self.execution if warm else None
        if execution is not None:
            newer = self.events[execution.journal.seq:]
            if all(e["type"] in EXTERNAL for e in newer):
                execution.journal.extend(newer)
            else:
                execution = None
        if execution is None:
            execution = Execution(self.definition, "sim", JournalView(self.events))
        outcome = execution.drive()
        new = execution.ctx.take_new_events()
        assert outcome.state != "failed", outcome.error
        if outcome.state == "completed":
            new.append({"type": "run_completed", "result": outcome.value})
        self.events.extend(new)
        execution.journal.extend(new)
        self.execution = execution

    def finish(self) -> Any:
        for _ in range(200):
            self.drive(warm=True)
            if self.finished:
                return self.events[-1]["result"]
            self.signal()
            self.tick()
        raise AssertionError("the run never finished")


def check(sim: Simulator, result: Any) -> None:
    received = [e["id"] for e in sim.events if e["type"] == "signal_received"]
    consumed = [e["signal"] for e in sim.events if e["type"] == "effect_resolved" and "signal" in e]
    assert consumed == received[:len(consumed)], (consumed, received)  # once each, in the order sent
    settled = [e["key"] for e in sim.events if e["type"] in ("effect_resolved", "effect_cancelled")]
    assert len(settled) == len(set(settled)), settled
    body = [e for e in sim.events if e["type"] not in TERMINAL]
    replay = Execution(sim.definition, "sim", JournalView(body))
    outcome = replay.drive()
    assert outcome.state == "completed" and outcome.value == result
    assert replay.ctx.take_new_events() == []


def play(sim: Simulator, actions: list[str]) -> Any:
    for action in actions:
        if action in ("warm", "cold"):
            sim.drive(warm=action == "warm")
        else:
            getattr(sim, action)()
    return sim.finish()


@given(ACTIONS)
def test_an_inbox_takes_its_signals_once_in_order_whatever_the_interleaving(actions: list[str]) -> None:
    sim = Simulator("signal-inbox", {"count": 3, "hold": False})
    result = play(sim, actions)
    assert result == {"received": ["u1/1", "u2/1", "u3/1"]}
    check(sim, result)


@given(ACTIONS)
def test_first_of_a_timer_and_a_signal_replays_to_the_same_winners(actions: list[str]) -> None:
    sim = Simulator("status-loop", {"cadences": [30, 30, 30]})
    result = play(sim, actions)
    check(sim, result)
    updates = [r for r in result["rounds"] if r.startswith("update:")]
    assert updates == [f"update:u{i + 1}" for i in range(len(updates))]  # signals taken in order
    for round_key in ("round-0", "round-1", "round-2"):
        [marker] = [e for e in sim.events if e.get("key") == round_key and e["type"] == "recorded"]
        winner = marker["value"]["step"]
        cancelled = [e for e in sim.events if e["type"] == "effect_cancelled" and e.get("winner") == winner]
        assert len(cancelled) <= 1  # the loser, unless its outcome had already landed
