"""Runs in flight survive the library move of issue 11 §6 (processes/_incident -> processes/incident, ...).

The code before the move (commit ``BEFORE_MOVE``, unpacked with ``git archive``) starts an
incident-response and a slo-setup run and parks each at its first question or gate; then it
takes the answer, queues the next task, and its worker dies as that task starts (a failpoint), so
the task is left queued. A worker on this tree (the new layout) then reclaims that task, runs it
with the moved code, and takes the runs to completion.

Each run's ``code_hash`` was computed by the old tree and differs from the new one: it is
informational (``shepherd status`` shows it), so a mismatch must not stop a replay.

The second variant also respells the parked journal the way an engine from before stable names
wrote it (``processes._incident.tasks.begin_incident``, ``processes._incident.models:RolesForm``):
the moved tasks and forms list those paths in ``aliases=``, so such a run replays too.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from engine.client import ShepherdClient
from engine.journal import decode, encode
from engine.registry import get_process, load_processes
from engine.settings import Settings
from engine.worker import Worker
from state import keys
from tests.helpers import ROOT, stop_worker, wait_for, worker_env
from tests.processes.conftest import needs_promtool
from tests.processes.incident_fixtures import no_integrations, open_gate  # noqa: F401 - fixture
from tests.test_names import LEGACY_FORMS, LEGACY_TASKS

#: The last commit with the flat layout (processes/incident_response.py, processes/_incident/ ...).
BEFORE_MOVE = "f127681"
PRE_NAMES_TASK = {name: old for old, name in LEGACY_TASKS.items()}
PRE_NAMES_FORM = {name: old for old, name in LEGACY_FORMS.items()}


@pytest.fixture(scope="module")
def old_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("before-move")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", BEFORE_MOVE], capture_output=True, check=False)
    assert archive.returncode == 0, f"needs the commit {BEFORE_MOVE} in this checkout: {archive.stderr.decode()}"
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    assert (tree / "processes" / "incident_response.py").exists() and (tree / "processes" / "_slo").is_dir()
    return tree


class OldCode:
    """Shepherd as it was before the move: its CLI and its workers, run from the old tree."""

    def __init__(self, tree: Path, redis_url: str, tmp_path: Path) -> None:
        self.tree, self.redis_url, self.tmp_path = tree, redis_url, tmp_path
        (tmp_path / "no-plugins").mkdir()

    def env(self, failpoints: str = "") -> dict[str, str]:
        env = worker_env(self.redis_url, self.tmp_path / "data", failpoints=failpoints,
                         processes_path=str(self.tmp_path / "no-plugins"), SHEPHERD_USER="alice")
        env["PYTHONPATH"] = str(self.tree)
        return env

    def cli(self, *argv: str) -> str:
        done = subprocess.run([sys.executable, "-m", "engine.cli", *argv], env=self.env(), cwd=self.tree,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def code_hash(self, process_id: str) -> str:
        script = f"from engine.registry import load_processes; print(load_processes()[{process_id!r}].code_hash())"
        return self.cli_python(script).strip()

    def cli_python(self, script: str) -> str:
        done = subprocess.run([sys.executable, "-c", script], env=self.env(), cwd=self.tree, capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def worker(self, name: str, failpoints: str = "") -> subprocess.Popen[bytes]:
        log = open(self.tmp_path / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child for its lifetime
        return subprocess.Popen([sys.executable, "-m", "engine.cli", "worker"], env=self.env(failpoints),
                                cwd=self.tree, stdout=log, stderr=subprocess.STDOUT)

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text()


@pytest.fixture
def old(old_tree: Path, redis_url: str, tmp_path: Path) -> OldCode:
    return OldCode(old_tree, redis_url, tmp_path)


@pytest.fixture
async def new_worker(redis: Redis, settings: Settings) -> AsyncIterator[Callable[[], Worker]]:
    started: list[tuple[Worker, asyncio.Task[None]]] = []

    def start() -> Worker:
        w = Worker(redis, settings.model_copy(update={"replay_cache_size": 0}))
        started.append((w, asyncio.create_task(w.run())))
        return w

    yield start
    for w, running in started:
        w.stop()
        await asyncio.wait_for(running, 15)


async def question_key(client: ShepherdClient, run_id: str, title: str, timeout: float = 60) -> str:
    """The key of the run's open gate or question whose title contains ``title`` (waits for it)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for gate in (await client.view(run_id)).open_gates:
            if title in gate["title"]:
                return str(gate["key"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"no open gate or question {title!r}: {await client.view(run_id)}")


async def park(old: OldCode, client: ShepherdClient, run_id: str, question: str,
               respond: Callable[[str], object]) -> str:
    """Old workers take the run to ``question``, take the response, queue the next task and die there."""
    first = old.worker("old-1")
    try:
        key = await question_key(client, run_id, question)
    finally:
        assert stop_worker(first) == 0, old.log("old-1")
    second = old.worker("old-2", failpoints="task_started:1")
    await respond(key)  # type: ignore[misc]
    assert await asyncio.to_thread(second.wait, 30) == -9, old.log("old-2")  # killed by the failpoint
    journal = await client.store.read_journal(run_id)
    resolved = {e["key"] for e in journal if e["type"] == "effect_resolved"}
    queued = [e["name"] for e in journal if e["type"] == "effect_requested" and e["kind"] == "task"
              and e["key"] not in resolved]
    assert len(queued) == 1, journal  # the task the old worker queued, and died starting
    return queued[0]


async def respell_before_names(redis: Redis, run_id: str) -> int:
    """Rewrite the journal the way an engine before stable names wrote it; the number of entries changed."""
    changed = 0
    for index, raw in enumerate(await redis.lrange(keys.journal(run_id), 0, -1)):
        event = decode(raw)
        if event["type"] != "effect_requested":
            continue
        if event["kind"] == "task" and event["name"] in PRE_NAMES_TASK:
            event["name"] = PRE_NAMES_TASK[event["name"]]
        elif event["kind"] == "ask" and event["args"].get("form") in PRE_NAMES_FORM:
            event["args"]["form"] = PRE_NAMES_FORM[event["args"]["form"]]
        else:
            continue
        await redis.lset(keys.journal(run_id), index, encode(event))
        changed += 1
    for field, value in (await redis.hgetall(keys.gates(run_id))).items():
        gate = json.loads(value)
        if gate.get("form") in PRE_NAMES_FORM:
            gate["form"] = PRE_NAMES_FORM[gate["form"]]
            await redis.hset(keys.gates(run_id), field, json.dumps(gate))
    return changed


def assert_started_by_old_code(old: OldCode, meta: dict[str, str], process_id: str) -> None:
    load_processes()
    assert meta["code_hash"] == old.code_hash(process_id)
    assert meta["code_hash"] != get_process(process_id).code_hash()  # the move changed it, as expected


@pytest.mark.parametrize("spelling", ["as-recorded", "before-names"])
async def test_an_incident_in_flight_finishes_on_the_new_layout(
        spelling: str, old: OldCode, client: ShepherdClient, redis: Redis, new_worker: Callable[[], Worker],
        no_integrations: None, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv("SHEPHERD_INCIDENT_CADENCE_SECONDS", "0.2")
    run_id = old.cli("run", "incident-response", "sev-3", "title=Disk full on db-2", "service=postgres").split()[2]

    async def roles(key: str) -> None:
        await client.answer(run_id, key, user="alice", values={"commander": "alice", "tech_lead": "bob"})

    queued = await park(old, client, run_id, "who takes which role", roles)
    assert queued == "incident.invite_people"
    assert_started_by_old_code(old, await client.store.meta(run_id), "incident-response")
    if spelling == "before-names":
        assert await respell_before_names(redis, run_id) >= 4  # begin, channel, roles, invite
        names = [e["name"] for e in await client.store.read_journal(run_id) if e["type"] == "effect_requested"]
        assert "processes._incident.tasks.invite_people" in names and "incident.invite_people" not in names

    new_worker()
    update = await open_gate(client, run_id, "status update #1")
    await client.answer(run_id, update, user="alice", values={"status": "Deleted old WAL files", "mitigated": True})
    await client.decide(run_id, await open_gate(client, run_id, "mitigated?"), user="alice", approve=True)
    await client.decide(run_id, await open_gate(client, run_id, "resolve the incident?"), user="alice", approve=True)
    run = await wait_for(client, run_id)
    assert run.status == "completed", run
    journal = await client.store.read_journal(run_id)
    invited = next(e for e in journal if e["type"] == "effect_requested" and e["name"].endswith("invite_people"))
    assert any(e["type"] == "effect_resolved" and e["key"] == invited["key"] for e in journal)  # ran on new code
    assert "Resolved. TTA" in "\n".join(run.notes)


@needs_promtool
@pytest.mark.parametrize("spelling", ["as-recorded", "before-names"])
async def test_an_slo_setup_in_flight_finishes_on_the_new_layout(
        spelling: str, old: OldCode, client: ShepherdClient, redis: Redis, new_worker: Callable[[], Worker],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    for name in ("PROMETHEUS_URL", "SHEPHERD_SLO_MAX_REPLANS", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PROMETHEUS_RULES_DIR", str(rules_dir))
    run_id = old.cli("run", "slo-setup", "service=checkout", "target=99.9").split()[2]

    async def approve(key: str) -> None:
        await client.decide(run_id, key, user="bob", approve=True, comment="lgtm")

    queued = await park(old, client, run_id, "Apply the checkout availability SLO", approve)
    assert queued == "slo.apply_rules"
    assert_started_by_old_code(old, await client.store.meta(run_id), "slo-setup")
    assert not list(rules_dir.iterdir())  # the old worker died before writing
    if spelling == "before-names":
        assert await respell_before_names(redis, run_id) >= 4  # config, promtool check and test, apply
        names = [e["name"] for e in await client.store.read_journal(run_id) if e["type"] == "effect_requested"]
        assert "processes._slo.tasks.apply_rules" in names and "slo.apply_rules" not in names

    new_worker()
    run = await wait_for(client, run_id, timeout=60)
    assert run.status == "completed", run
    result = json.loads(run.meta["result"])
    assert result["approved"] and result["reviewed_by"] == "bob"
    assert result["applied_to"] == str(rules_dir / "slo-checkout-availability.yml")
    assert "alert: SLOErrorBudgetBurn1h5m" in (rules_dir / "slo-checkout-availability.yml").read_text()


def test_the_old_tree_is_really_the_flat_layout(old_tree: Path) -> None:
    """Guards the fixture: the commit pinned above is the one before the move, not after it."""
    assert not (old_tree / "processes" / "incident").exists()
    assert os.path.exists(old_tree / "processes" / "_incident" / "tasks.py")
