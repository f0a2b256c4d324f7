"""Determinism: a process changed mid-run fails only that run, naming the step."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from engine.client import ShepherdClient
from engine.registry import _import_file
from tests.helpers import wait_for, wait_for_gate

PROCESS = '''
from pydantic import BaseModel
from engine import Context, process, task

class Inputs(BaseModel):
    pass

@task
def first(x: str) -> str:
    return x

@task
def replacement(x: str) -> str:
    return x

@process("changing", title="Changing", inputs=Inputs)
async def changing(inputs: Inputs, ctx: Context) -> str:
    await ctx.task({task}, "a")
    await ctx.breakpoint("Go on?")
    return "done"
'''


def load_version(path: Path, task_name: str) -> None:
    path.write_text(textwrap.dedent(PROCESS.replace("{task}", task_name)))
    sys.modules.pop(f"shepherd_custom.{path.stem}", None)
    _import_file(path)


async def test_code_changed_between_replays_fails_only_that_run(client: ShepherdClient, worker,
                                                                tmp_path: Path) -> None:
    module = tmp_path / "changing.py"
    load_version(module, "first")
    changed = await client.start("changing", {}, requester="alice")
    other = await client.start("gate-demo", {}, requester="alice")
    changed_gate = await wait_for_gate(client, changed)
    other_gate = await wait_for_gate(client, other)
    code_before = (await client.view(changed)).meta["code_hash"]

    load_version(module, "replacement")  # a deploy while the run waits at its gate
    await client.decide(changed, changed_gate["key"], user="bob", approve=True)
    await client.decide(other, other_gate["key"], user="bob", approve=True)

    failed = await wait_for(client, changed)
    assert failed.status == "failed"
    assert failed.meta["error"].startswith("non-deterministic replay at step 1:")
    assert "recorded task 'shepherd_custom.changing.first'" in failed.meta["error"]
    assert "'shepherd_custom.changing.replacement'" in failed.meta["error"]
    assert failed.meta["code_hash"] == code_before
    assert (await wait_for(client, other)).status == "completed"

    fresh = await client.start("changing", {}, requester="alice")  # new runs use the new code
    await client.decide(fresh, (await wait_for_gate(client, fresh))["key"], user="bob", approve=True)
    assert (await wait_for(client, fresh)).status == "completed"
    assert (await client.view(fresh)).meta["code_hash"] != code_before
