"""Stable task and form names: runs in flight survive a refactor (issue 11 §2).

A run is parked with a queued task and an open ask; then the code under it changes
(modules move, or names are added to code that had none), and the same run replays,
runs its queued task with the new code and takes the answer to its open question.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import importlib.util
import json
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from engine.client import ShepherdClient, import_form
from engine.errors import ProcessDefinitionError
from engine.registry import FORMS, TASKS, form, get_task, task, unregister_module
from engine.runtime import Orchestrator
from engine.settings import Settings
from engine.worker import Worker
from shepherd.discovery import load_processes
from state import keys
from state.store import RunStore
from state.timers import Timers
from tests.helpers import ROOT, wait_for
from tests.redis_snapshot import restore

EXAMPLES = "tests.rename_examples"
MODULES = (f"{EXAMPLES}.before", f"{EXAMPLES}.moved.flow", f"{EXAMPLES}.moved.tasks", f"{EXAMPLES}.moved.forms",
           f"{EXAMPLES}.legacy_unnamed")


def unload(*modules: str) -> None:
    for module in modules:
        unregister_module(module)
        sys.modules.pop(module, None)


@pytest.fixture(autouse=True)
def clean_examples() -> Iterator[None]:
    unload(*MODULES)
    yield
    unload(*MODULES)


async def park(redis: Redis, client: ShepherdClient, process_id: str) -> str:
    """Start a run and advance it once, with no worker: its task sits queued, its ask open."""
    run_id = await client.start(process_id, {}, requester="alice")
    store = RunStore(redis)
    assert await Orchestrator(store, client.queue, Timers(redis, store.scripts)).advance(run_id)
    assert await redis.xlen(keys.TASKS_STREAM) == 1  # the task, queued and not yet run
    return run_id


@pytest.fixture
async def start_worker(redis: Redis, settings: Settings) -> AsyncIterator[object]:
    started: list[tuple[Worker, asyncio.Task[None]]] = []

    def start() -> Worker:
        w = Worker(redis, settings)
        started.append((w, asyncio.create_task(w.run())))
        return w

    yield start
    for w, running in started:
        w.stop()
        await asyncio.wait_for(running, 15)


def requests(journal: list[dict]) -> list[tuple[str, str, str]]:
    return [(e["kind"], e["name"], e["args"].get("form", "")) for e in journal if e["type"] == "effect_requested"]


async def test_a_run_survives_its_task_and_form_moving_to_other_modules(
        redis: Redis, client: ShepherdClient, start_worker) -> None:
    importlib.import_module(f"{EXAMPLES}.before")
    run_id = await park(redis, client, "rename-demo")
    assert requests(await client.store.read_journal(run_id)) == [
        ("task", "rename.record", ""), ("ask", "Who commands?", "rename.roles")]

    unload(f"{EXAMPLES}.before")  # the refactor: before.py is gone, moved/ declares the same names
    importlib.import_module(f"{EXAMPLES}.moved.flow")
    assert get_task("rename.record").fn.__module__ == f"{EXAMPLES}.moved.tasks"
    start_worker()

    [ask] = (await client.view(run_id)).open_gates
    await client.answer(run_id, ask["key"], user="alice", values={"commander": "carol"})
    run = await wait_for(client, run_id)
    assert run.status == "completed", run
    result = (await client.store.read_journal(run_id))[-1]["result"]
    assert result == {"recorded": "moved recorded hello", "commander": "carol", "after": "moved recorded after"}


async def test_a_journal_from_before_names_replays_after_names_are_added(
        redis: Redis, client: ShepherdClient, start_worker) -> None:
    legacy = f"{EXAMPLES}.legacy_unnamed"
    importlib.import_module(legacy)
    run_id = await park(redis, client, "legacy-demo")
    # what the engine wrote before stable names existed: module.qualname, module:qualname
    assert requests(await client.store.read_journal(run_id)) == [
        ("task", f"{legacy}.record", ""), ("ask", "Who commands?", f"{legacy}:Roles")]

    unload(legacy)  # the deploy: the same module, now with @task(name=...) and @form(...)
    spec = importlib.util.spec_from_file_location(legacy, ROOT / "tests" / "rename_examples" / "legacy_named.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[legacy] = module
    spec.loader.exec_module(module)
    start_worker()

    [ask] = (await client.view(run_id)).open_gates
    await client.answer(run_id, ask["key"], user="alice", values={"commander": "carol"})
    run = await wait_for(client, run_id)
    assert run.status == "completed", run
    journal = await client.store.read_journal(run_id)
    assert journal[-1]["result"] == {"recorded": "named recorded hello", "commander": "carol",
                                     "after": "named recorded after"}
    assert requests(journal)[-1] == ("task", "legacy.record", "")  # new steps use the new name


#: How journals written before stable names (up to 39031b5) spell the shipped tasks and forms.
#: Runs in flight carry these: a module move (issue 11 §6) must keep them, with aliases=.
LEGACY_TASKS = {
    "processes._incident.cancel.release_incident": "incident.release_incident",
    "processes._incident.tasks.begin_incident": "incident.begin_incident",
    "processes._incident.tasks.file_issue": "incident.file_issue",
    "processes._incident.tasks.invite_people": "incident.invite_people",
    "processes._incident.tasks.open_channel": "incident.open_channel",
    "processes._incident.tasks.page_oncall": "incident.page_oncall",
    "processes._incident.tasks.pagerduty_event": "incident.pagerduty_event",
    "processes._incident.tasks.pinned_messages": "incident.pinned_messages",
    "processes._incident.tasks.post_message": "incident.post_message",
    "processes._incident.tasks.record_stats": "incident.record_stats",
    "processes._slo.repo.open_pull_request": "slo.open_pull_request",
    "processes._slo.repo.push_rules": "slo.push_rules",
    "processes._slo.tasks.apply_rules": "slo.apply_rules",
    "processes._slo.tasks.load_config": "slo.load_config",
    "processes._slo.tasks.promtool_check": "slo.promtool_check",
    "processes._slo.tasks.promtool_test": "slo.promtool_test",
    "processes._slo.tasks.read_live_sli": "slo.read_live_sli",
    "processes._slo.tasks.schedule_review": "slo.schedule_review",
    "processes.incident_stats.incident_statistics": "incident.incident_statistics",
}
LEGACY_FORMS = {
    "processes._incident.models:ActionItemForm": "incident.action_item",
    "processes._incident.models:PostmortemInput": "incident.postmortem",
    "processes._incident.models:RolesForm": "incident.roles",
    "processes._incident.models:StatusUpdate": "incident.status_update",
}


#: A run parked by the engine before stable names (39031b5), as it left Redis: recorded by hand with
#: tests/rename_examples/record_before_names.py, so this test needs no git history.
PARKED_BEFORE_NAMES = ROOT / "tests" / "rename_examples" / "parked_before_names.json"


async def test_a_run_parked_by_the_engine_before_names_finishes_on_the_engine_after(
        redis: Redis, client: ShepherdClient, start_worker) -> None:
    parked = json.loads(PARKED_BEFORE_NAMES.read_text())
    assert parked["recorded_from"] == "39031b5" and parked["process"] == "legacy-demo"
    await restore(redis, parked["keys"])  # exactly what the old engine wrote: run, queues, timers, indexes
    run_id = parked["run_id"]
    module = "shepherd_custom.legacy_unnamed"
    assert requests(await client.store.read_journal(run_id)) == [
        ("task", f"{module}.record", ""), ("ask", "Who commands?", f"{module}:Roles")]

    unload(module)  # the deploy: this engine, and the module with names added
    spec = importlib.util.spec_from_file_location(module, ROOT / "tests" / "rename_examples" / "legacy_named.py")
    assert spec is not None and spec.loader is not None
    sys.modules[module] = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(sys.modules[module])
        start_worker()
        [ask] = (await client.view(run_id)).open_gates
        await client.answer(run_id, ask["key"], user="alice", values={"commander": "carol"})
        run = await wait_for(client, run_id)
        assert run.status == "completed", run
        assert (await client.store.read_journal(run_id))[-1]["result"] == {
            "recorded": "unnamed recorded hello", "commander": "carol", "after": "named recorded after"}
    finally:
        unload(module)


def test_shipped_old_spellings_still_resolve() -> None:
    load_processes()
    for old, name in LEGACY_TASKS.items():
        assert get_task(old).name == name and get_task(name) is get_task(old), old
    for old, name in LEGACY_FORMS.items():
        assert import_form(old) is import_form(name) is FORMS.find(name), old
    shipped = {t.name for t in TASKS.by_name.values() if t.fn.__module__.startswith("processes.")}
    assert set(LEGACY_TASKS.values()) <= shipped  # a new task needs no entry here; removing one needs a thought


def _ask_forms(path: Path) -> list[str]:
    """The names of the form classes a module passes to ``ctx.ask`` (second argument or form=)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "ask":
            arg = node.args[1] if len(node.args) > 1 else next(k.value for k in node.keywords if k.arg == "form")
            assert isinstance(arg, ast.Name), f"{path}: ctx.ask's form should be a class name, not {ast.dump(arg)}"
            found.append(arg.id)
    return found


def test_every_shipped_task_and_form_has_an_explicit_name() -> None:
    load_processes()
    shipped = [t for t in TASKS.by_name.values() if t.fn.__module__.startswith("processes.")]
    assert len(shipped) >= 15
    assert [t.name for t in shipped if not t.explicit_name] == []
    asked = 0
    for path in sorted((ROOT / "processes").rglob("*.py")):
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for name in _ask_forms(path):
            cls = getattr(module, name)
            registered = [n for n, c in FORMS.by_name.items() if c is cls]
            assert registered, f"{path.name}: the form {name} that ctx.ask uses has no @form name"
            asked += 1
    assert asked >= 4  # incident-response's roles, updates, postmortem and action items


def test_a_name_belongs_to_one_module() -> None:
    @task(name="names-test.once")
    def first(x: str) -> str:
        return x

    def other(x: str) -> str:
        return x

    other.__module__ = "somewhere.else"
    with pytest.raises(ProcessDefinitionError, match=r"task name 'names-test\.once' is already registered by"):
        task(name="names-test.once")(other)
    with pytest.raises(ProcessDefinitionError, match="goes on a pydantic model class"):
        form("names-test.not-a-model")(dict)  # type: ignore[type-var]
    unregister_module(__name__)
    assert TASKS.find("names-test.once") is None


def test_aliases_find_a_task_and_a_form_by_the_path_they_had_before_a_move() -> None:
    from pydantic import BaseModel

    from engine.registry import same_task

    @task(name="names-test.moved", aliases=["processes._old.tasks.moved"])
    def moved(x: str) -> str:
        return x

    @form("names-test.moved-form", aliases=["processes._old.models:MovedForm"])
    class MovedForm(BaseModel):
        value: str

    try:
        assert get_task("processes._old.tasks.moved") is moved
        assert same_task("processes._old.tasks.moved", "names-test.moved")  # a replay matches the old step
        assert not same_task("processes._old.tasks.other", "names-test.moved")
        assert import_form("processes._old.models:MovedForm") is MovedForm
    finally:
        unregister_module(__name__)
    assert TASKS.find("processes._old.tasks.moved") is None and FORMS.find("names-test.moved-form") is None
