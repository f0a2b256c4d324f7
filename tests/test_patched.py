"""``ctx.patched``: a deploy that changes a process while runs are in flight.

Each version of the process is written to a file and loaded the way a deploy would load it
(``tests/test_replay.py`` does the same), so a run started on one version replays on the next.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import pytest

from engine.client import ShepherdClient
from engine.context import Execution
from engine.errors import NotAllowed
from engine.journal import TERMINAL, JournalView
from engine.registry import _import_file, get_process
from tests.helpers import check_journal, wait_for, wait_for_gate
from tests.test_signal_properties import Simulator

V1 = '''
from pydantic import BaseModel
from engine import Approvers, Context, process, task

class Inputs(BaseModel):
    pass

@task
def step(x: str) -> str:
    return x

@process("patch-flow", title="Patch flow", inputs=Inputs)
async def patch_flow(inputs: Inputs, ctx: Context) -> dict:
    await ctx.task(step, "prepare")
    await ctx.breakpoint("Go on?", approvers=Approvers(users=["bob"]))
    return {"path": "old"}
'''

#: The deploy: a new check before the gate. Without the patch, a run waiting at the gate would
#: replay a task where its journal holds the gate, and fail.
V2 = V1.replace('''    await ctx.task(step, "prepare")
''', '''    await ctx.task(step, "prepare")
    if ctx.patched("extra-check"):
        await ctx.task(step, "check")
        path = "new"
    else:
        path = "old"
''').replace('return {"path": "old"}', 'return {"path": path, "again": ctx.patched("extra-check")}')

#: The same change made without a patch.
UNPATCHED = V1.replace('''    await ctx.task(step, "prepare")
''', '''    await ctx.task(step, "prepare")
    await ctx.task(step, "check")
''')


def deploy(path: Path, source: str) -> None:
    path.write_text(textwrap.dedent(source))
    sys.modules.pop(f"shepherd_custom.{path.stem}", None)
    _import_file(path)


def replays_to(events: list[dict]) -> object:
    """Replay a finished run's journal cold (without its end) on the code loaded now."""
    body = [e for e in events if e["type"] not in TERMINAL]
    execution = Execution(get_process("patch-flow"), "replay", JournalView(body))
    outcome = execution.drive()
    assert outcome.state == "completed", outcome.error
    assert execution.ctx.take_new_events() == []
    return outcome.value


async def test_a_run_in_flight_keeps_the_old_path_and_new_runs_take_the_new_one(
        client: ShepherdClient, worker, tmp_path: Path) -> None:
    module = tmp_path / "patch_flow.py"
    deploy(module, V1)
    old = await client.start("patch-flow", {}, requester="alice")
    old_gate = await wait_for_gate(client, old)

    deploy(module, V2)  # while the old run waits at its gate
    new = await client.start("patch-flow", {}, requester="alice")
    new_gate = await wait_for_gate(client, new)
    assert (old_gate["key"], new_gate["key"]) == ("2", "3")  # the new run ran the extra check first

    with pytest.raises(NotAllowed):  # nobody else decides for either version
        await client.decide(old, old_gate["key"], user="mallory", approve=True)
    for run_id, gate in ((old, old_gate), (new, new_gate)):
        await client.decide(run_id, gate["key"], user="bob", approve=True)
    old_run, new_run = await wait_for(client, old), await wait_for(client, new)
    assert old_run.status == new_run.status == "completed", (old_run.meta, new_run.meta)
    old_events, new_events = await client.store.read_journal(old), await client.store.read_journal(new)
    assert old_events[-1]["result"] == {"path": "old", "again": False}  # the answer holds for the whole run
    assert new_events[-1]["result"] == {"path": "new", "again": True}
    markers = [e for e in new_events if e["type"] == "recorded" and e["kind"] == "patch"]
    assert [m["value"] for m in markers] == ["extra-check"]  # journaled once, however often asked
    assert not [e for e in old_events if e.get("kind") == "patch"]
    check_journal(old_events)
    check_journal(new_events)
    assert replays_to(old_events) == old_events[-1]["result"]
    assert replays_to(new_events) == new_events[-1]["result"]


async def test_the_same_change_without_a_patch_breaks_the_run_in_flight(client: ShepherdClient, worker,
                                                                         tmp_path: Path) -> None:
    """Why the patch is needed: the control experiment for the test above."""
    module = tmp_path / "patch_flow.py"
    deploy(module, V1)
    run_id = await client.start("patch-flow", {}, requester="alice")
    gate = await wait_for_gate(client, run_id)
    deploy(module, UNPATCHED)
    await client.decide(run_id, gate["key"], user="bob", approve=True)
    run = await wait_for(client, run_id)
    assert run.status == "failed" and run.meta["error"].startswith("non-deterministic replay at step 2:")


async def test_the_same_wake_twice_journals_one_marker(client: ShepherdClient, worker, tmp_path: Path) -> None:
    module = tmp_path / "patch_flow.py"
    deploy(module, V2)
    run_id = await client.start("patch-flow", {}, requester="alice")
    gate = await wait_for_gate(client, run_id)
    for _ in range(3):
        await asyncio.gather(worker.orchestrator.advance(run_id), worker.queue.enqueue_wake(run_id))
    await client.decide(run_id, gate["key"], user="bob", approve=True)
    assert (await wait_for(client, run_id)).status == "completed"
    events = await client.store.read_journal(run_id)
    assert [e["key"] for e in events if e.get("kind") == "patch"] == ["~patch/extra-check"]
    assert events[-1]["result"] == {"path": "new", "again": True}


async def test_removing_the_patch_call_later_does_not_break_runs_that_took_it(client: ShepherdClient, worker,
                                                                                tmp_path: Path) -> None:
    """Once every old run has ended, the old branch (and the call) can go: its marker is tolerated."""
    module = tmp_path / "patch_flow.py"
    deploy(module, V2)
    run_id = await client.start("patch-flow", {}, requester="alice")
    gate = await wait_for_gate(client, run_id)
    deploy(module, UNPATCHED.replace('return {"path": "old"}', 'return {"path": "new", "again": True}'))
    await client.decide(run_id, gate["key"], user="bob", approve=True)
    run = await wait_for(client, run_id)
    assert run.status == "completed", run.meta.get("error")


def test_a_patch_in_a_branch_is_not_fooled_by_its_siblings_steps() -> None:
    """Steps a sibling branch journaled are beside the patch, not past it: a run reaching the patch
    for the first time gets True, warm or cold."""
    for warm in (True, False):
        sim = Simulator("patch-parallel", {})
        sim.drive(warm)  # requests 1.0/wait and 1.1/a
        resolve(sim, "1.1/a")
        sim.drive(warm)  # the right branch goes on: 1.1/b is journaled, ahead of the left one
        resolve(sim, "1.0/wait")
        sim.drive(warm)  # the left branch reaches the patch
        resolve(sim, "1.1/b")
        sim.drive(warm)
        assert sim.events[-1]["result"] == [True, "right"], (warm, sim.events)
        assert [e["key"] for e in sim.events if e.get("kind") == "patch"] == ["~patch/left-change"]


def resolve(sim: Simulator, key: str) -> None:
    sim.events.append({"type": "effect_resolved", "key": key, "ok": True, "value": None,
                       "at": "2026-01-01T00:00:00.000Z"})
