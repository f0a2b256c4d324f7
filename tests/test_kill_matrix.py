"""Kill matrix: a front end or a worker killed (SIGKILL) at each named engine moment, and every run
still completes, each step once.

Front ends die between their write and the wake it queues (``after_create``, ``after_decide``,
``after_cancel``): the CLI in the quick tests, the real bot process in both transports in the
slow matrix at the end, which also kills the worker at each of its moments. Tasks record every
execution in a ledger file (``tests/kill_examples/kill_flows.py``).
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from engine.client import ShepherdClient
from engine.settings import Settings
from engine.worker import Worker
from sandbox import SandboxServer
from shepherd.discovery import load_processes
from state import keys
from state.timers import member
from tests.bot.conftest import Slack
from tests.helpers import EXAMPLES, ROOT, check_journal, read_ledger, wait_for, wait_for_gate, worker_env
from tests.sandbox.control_client import Control, eventually

KILL_EXAMPLES = Path(__file__).parent / "kill_examples"
load_processes(str(KILL_EXAMPLES))

KILLED = -9
SWEEP_AFTER = "0.3"


def front_end(redis_url: str, tmp_path: Path, failpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a ``shepherd`` CLI command (a front end, as the bot is) that dies at ``failpoint``."""
    env = worker_env(redis_url, tmp_path / "data", failpoints=failpoint, processes_path=f"{KILL_EXAMPLES}:{EXAMPLES}",
                     SHEPHERD_SWEEP_AFTER=SWEEP_AFTER)
    return subprocess.run([sys.executable, "-m", "shepherd.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


@asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[Worker]:
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, 15)


async def quiescent(redis: Redis, run_id: str) -> None:
    """Wait until nothing is about to advance the run (no lock, no queued or timed wake), so only
    the killed front end's write could have woken it."""
    async def quiet() -> bool:
        return (not await redis.exists(keys.lock(run_id)) and await redis.xlen(keys.WAKE_STREAM) == 0
                and await redis.zscore(keys.TIMERS, member("wake", run_id)) is None)

    await eventually(quiet, 10)


async def stuck_wakes(redis: Redis) -> int:
    """Wake entries on the queue: a killed front end queued none."""
    return int(await redis.xlen(keys.WAKE_STREAM))


@pytest.mark.slow  # a front-end subprocess
async def test_a_start_killed_before_its_wake_is_swept_and_completes(redis: Redis, redis_url: str,
                                                                      tmp_path: Path, settings: Settings) -> None:
    ledger = tmp_path / "ledger.jsonl"
    died = front_end(redis_url, tmp_path, "after_create", "run", "kill-gated", f"ledger={ledger}", "--as", "alice")
    assert died.returncode == KILLED, died.stderr
    client = ShepherdClient(redis)
    [run] = await client.list_runs()  # listed: the indexes were written before the run
    journal = await client.store.read_journal(run["id"])
    assert [e["type"] for e in journal] == ["run_created"] and run["status"] == "running"
    assert await client.store.undispatched(run["id"]) == {keys.WAKE_MARK}
    assert await stuck_wakes(redis) == 0
    assert await redis.zscore(keys.TIMERS, member("sweep", run["id"])) is not None

    worker = Worker(redis, settings)  # a worker that was never told about the run
    async with running(worker):
        gate = await wait_for_gate(client, run["id"])
        await client.decide(run["id"], gate["key"], user="bob", approve=True)
        assert (await wait_for(client, run["id"])).status == "completed"
    assert {step: len(recs) for (_, step), recs in read_ledger(ledger).items()} == {"prepare": 1, "finish": 1}
    assert await client.store.undispatched(run["id"]) == set()


@pytest.mark.slow  # a front-end subprocess
async def test_a_decision_killed_before_its_wake_is_swept_and_completes(redis: Redis, redis_url: str,
                                                                         tmp_path: Path, client: ShepherdClient,
                                                                         worker: Worker) -> None:
    ledger = tmp_path / "ledger.jsonl"
    run_id = await client.start("kill-gated", {"ledger": str(ledger)}, requester="alice")
    gate = await wait_for_gate(client, run_id)
    await quiescent(redis, run_id)
    died = front_end(redis_url, tmp_path, "after_decide", "approve", run_id, gate["key"], "--as", "bob")
    assert died.returncode == KILLED, died.stderr
    gates = await client.store.gates(run_id)
    assert gates[gate["key"]]["status"] == "decided"  # "Approved" ...
    run = await wait_for(client, run_id)  # ... and the run does not wait forever
    assert run.status == "completed"
    assert {step: len(recs) for (_, step), recs in read_ledger(ledger).items()} == {"prepare": 1, "finish": 1}


@pytest.mark.slow  # a front-end subprocess
async def test_an_answer_killed_before_its_wake_is_swept_and_completes(
        redis_url: str, tmp_path: Path, client: ShepherdClient, worker: Worker) -> None:
    run_id = await client.start("approval-demo", {"service": "svc"}, requester="alice")
    gate = await wait_for_gate(client, run_id)
    await client.decide(run_id, gate["key"], user="bob", approve=True)
    ask = await wait_for_gate(client, run_id)
    assert ask["kind"] == "ask"
    await quiescent(client.redis, run_id)
    died = front_end(redis_url, tmp_path, "after_answer", "answer", run_id, ask["key"], "summary=ok", "--as", "bob")
    assert died.returncode == KILLED, died.stderr
    assert (await client.store.gates(run_id))[ask["key"]]["status"] == "answered"
    assert (await wait_for(client, run_id)).status == "completed"


@pytest.mark.slow  # a front-end subprocess
async def test_a_cancel_killed_before_its_clean_up_is_queued_still_cleans_up(
        redis: Redis, redis_url: str, tmp_path: Path, client: ShepherdClient, worker: Worker) -> None:
    ledger = tmp_path / "ledger.jsonl"
    run_id = await client.start("kill-gated", {"ledger": str(ledger)}, requester="alice")
    await wait_for_gate(client, run_id)
    await quiescent(redis, run_id)
    died = front_end(redis_url, tmp_path, "after_cancel", "cancel", run_id, "--as", "alice")
    assert died.returncode == KILLED, died.stderr
    assert (await client.view(run_id)).status == "cancelled"

    async def cleaned() -> bool:
        return ("@on_cancel" in {step for (_, step) in read_ledger(ledger)}
                and (await client.store.effect_states(run_id)).get("@on_cancel") == "resolved")

    await eventually(cleaned, 15)
    assert {step: len(recs) for (_, step), recs in read_ledger(ledger).items()} == {"prepare": 1, "@on_cancel": 1}


@pytest.mark.slow  # a front-end subprocess
async def test_a_cancel_killed_before_it_told_the_front_ends_is_shown_by_the_sweep(
        redis: Redis, redis_url: str, tmp_path: Path, client: ShepherdClient, worker: Worker) -> None:
    """A process without clean-up: nothing is left to run, but the card must still say cancelled,
    so the sweep tells the front ends (the notify stream) what the dead canceller could not."""
    run_id = await client.start("gate-demo", {}, requester="alice")
    await wait_for_gate(client, run_id)
    await quiescent(redis, run_id)
    before = await notices(redis, run_id)
    died = front_end(redis_url, tmp_path, "after_cancel", "cancel", run_id, "--as", "alice")
    assert died.returncode == KILLED, died.stderr
    assert await client.store.undispatched(run_id) == {keys.WAKE_MARK}
    assert await notices(redis, run_id) == before

    async def told() -> bool:
        return await notices(redis, run_id) > before and not await client.store.undispatched(run_id)

    await eventually(told, 15)
    assert (await client.view(run_id)).status == "cancelled"


async def notices(redis: Redis, run_id: str) -> int:
    """Entries on the notify stream (what the Slack notifier reads) about this run."""
    return sum(fields.get("run") == run_id for _, fields in await redis.xrange(keys.NOTIFY_STREAM))


async def test_a_run_woken_the_normal_way_leaves_the_sweep_nothing_to_do(
        redis: Redis, tmp_path: Path, worker: Worker, caplog) -> None:  # type: ignore[no-untyped-def]
    """The orchestrator clears the wake mark once it has seen the whole journal, so the sweep of
    an ordinary start or decision finds nothing and wakes nobody."""
    client = ShepherdClient(redis, sweep_after=0.2)
    run_id = await client.start("kill-gated", {"ledger": str(tmp_path / "ledger.jsonl")}, requester="alice")
    gate = await wait_for_gate(client, run_id)
    assert await client.store.undispatched(run_id) == set()
    await client.decide(run_id, gate["key"], user="bob", approve=True)
    await wait_for(client, run_id)

    async def swept() -> bool:
        return await redis.zscore(keys.TIMERS, member("sweep", run_id)) is None

    await eventually(swept, 10)
    cancelled = await client.start("kill-gated", {"ledger": str(tmp_path / "ledger.jsonl")}, requester="alice")
    await wait_for_gate(client, cancelled)
    await client.cancel(cancelled, by="alice")
    assert await client.store.undispatched(cancelled) == set()  # the canceller cleared its own mark
    assert "was never picked up" not in caplog.text


# -- the slow matrix: the real bot and worker processes, killed at every named moment -----------

BOT_MOMENTS = ["after_create", "after_decide"]
WORKER_MOMENTS = ["replay:1", "after_append:1", "task_started:1", "task_finished:1", "after_commit:1"]
MATRIX = ([pytest.param("bot", m, t, id=f"bot-{m}-{t}") for m in BOT_MOMENTS for t in ("socket", "http")]
          + [pytest.param("worker", m, "socket", id=f"worker-{m.split(':')[0]}") for m in WORKER_MOMENTS])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Processes:
    """The bot (``shepherd serve --no-worker``) and a worker, as separate processes to kill -9."""

    def __init__(self, server: SandboxServer, control: Control, transport: str, redis_url: str,
                 tmp_path: Path) -> None:
        self.server, self.control, self.transport = server, control, transport
        self.redis_url, self.tmp_path = redis_url, tmp_path
        self.started: list[subprocess.Popen[bytes]] = []
        self.generation = 0

    def env(self, failpoints: str, **extra: str) -> dict[str, str]:
        env = worker_env(self.redis_url, self.tmp_path / "data", failpoints=failpoints,
                         processes_path=str(KILL_EXAMPLES), SHEPHERD_SWEEP_AFTER="0.5")
        for name in [n for n in env if n.startswith("SLACK_")]:  # only the sandbox's, given below
            del env[name]
        return {**env, **extra}

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        self.generation += 1
        log = open(self.tmp_path / f"{self.generation:02d}-{name}.log", "ab")  # noqa: SIM115 - the child's
        proc = subprocess.Popen([sys.executable, "-m", "shepherd.cli", *args], env=env, cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT)
        self.started.append(proc)
        return proc

    async def bot(self, failpoints: str = "") -> subprocess.Popen[bytes]:
        port = free_port()
        auth = ({"SLACK_APP_TOKEN": self.server.app_token} if self.transport == "socket"
                else {"SLACK_SIGNING_SECRET": self.server.signing_secret})
        env = self.env(failpoints, SLACK_BOT_TOKEN=self.server.bot_token, SLACK_API_URL=self.server.api_url,
                       SHEPHERD_SLACK_POST_INTERVAL="0.05", SHEPHERD_BOT_HOST="127.0.0.1", **auth)
        proc = self._spawn("bot", ["serve", "--no-worker", "--port", str(port)], env)
        if self.transport == "http":
            self.server.config.request_url = f"http://127.0.0.1:{port}/slack/events"
            await eventually(lambda: listening(port), 20)
        else:
            before = await self.connections()

            async def connected() -> bool:
                return await self.connections() > before

            await eventually(connected, 20)
        return proc

    async def connections(self) -> int:
        return int((await self.control.get("/socket"))["total_connections"])

    def worker(self, failpoints: str = "") -> subprocess.Popen[bytes]:
        return self._spawn("worker", ["worker"], self.env(failpoints))

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.tmp_path.glob("*.log")))

    def kill_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def killed(proc: subprocess.Popen[bytes], procs: Processes) -> None:
    try:
        await eventually(lambda: proc.poll() is not None, 20)
    except AssertionError:
        raise AssertionError(f"process {proc.pid} was never killed\n{procs.logs()}") from None
    assert proc.returncode == KILLED, procs.logs()


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize(("who", "moment", "transport"), MATRIX)
async def test_kill_matrix_every_run_completes_and_slack_shows_it(
        who: str, moment: str, transport: str, redis: Redis, redis_url: str, tmp_path: Path) -> None:
    """/run through Slack, approve from Slack; the bot or the worker is killed at ``moment`` and
    started again. The run completes, each step once in the journal, and the card, the gate and
    the thread say so, each posted once."""
    ledger = tmp_path / "ledger.jsonl"
    client = ShepherdClient(redis)
    async with SandboxServer(port=0, connect_wait=20.0, disconnect_grace=0.5) as server, \
            aiohttp.ClientSession(trust_env=False) as session:
        control = Control(session, server.control_url)
        procs, slack = Processes(server, control, transport, redis_url, tmp_path), Slack(control)
        try:
            bot = await procs.bot(moment if who == "bot" else "")
            worker = procs.worker(moment if who == "worker" else "")
            await slack.control.post("/commands", {"user": "U0ALICE", "channel": "C0OPS", "command": "/run",
                                                   "text": f"kill-gated ledger={ledger}"})
            if moment == "after_create":
                await killed(bot, procs)
                bot = await procs.bot()
            elif who == "worker":
                await killed(worker, procs)
                worker = procs.worker()
            card = await slack.wait_card("waiting for")
            gate = await slack.wait_gate(card["ts"])
            [run] = await client.list_runs()
            await slack.control.post("/actions", {"user": "U0BOB", "channel": "C0OPS", "ts": gate["ts"],
                                                  "action_id": "shepherd_approve"})
            if moment == "after_decide":
                await killed(bot, procs)
                bot = await procs.bot()
            try:
                assert (await wait_for(client, run["id"], timeout=30)).status == "completed"
                await slack.wait_card("completed")

                async def gate_and_thread_say_so() -> bool:
                    gate_now = json.dumps((await slack.message(gate["ts"]))["blocks"])
                    return "Approved by <@U0BOB>" in gate_now and "Run completed" in json.dumps(
                        await slack.thread(card["ts"]))

                await eventually(gate_and_thread_say_so, 20)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{procs.logs()}") from None
            assert await slack.card() is not None  # one card (it asserts there is at most one)
            thread = await slack.thread(card["ts"])
        finally:
            procs.kill_all()
    marks = Counter(json.dumps(m.get("metadata", {}).get("event_payload"), sort_keys=True) for m in thread)
    assert all(n == 1 for n in marks.values()), marks  # nothing posted twice
    check_journal(await client.store.read_journal(run["id"]))
    runs_of_step = {step: len(recs) for (_, step), recs in read_ledger(ledger).items()}
    if moment == "task_finished:1":  # "prepare" ran and died before its result was committed: it runs again
        assert runs_of_step == {"prepare": 2, "finish": 1}
    else:
        assert runs_of_step == {"prepare": 1, "finish": 1}


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("transport", ["socket", "http"])
async def test_kill_matrix_a_bot_killed_mid_cancel(transport: str, redis: Redis, redis_url: str,
                                                   tmp_path: Path) -> None:
    """``/run cancel`` and the bot dies right after the cancel's write: the clean-up step still
    runs once and the card says cancelled."""
    ledger = tmp_path / "ledger.jsonl"
    client = ShepherdClient(redis)
    async with SandboxServer(port=0, connect_wait=20.0, disconnect_grace=0.5) as server, \
            aiohttp.ClientSession(trust_env=False) as session:
        control = Control(session, server.control_url)
        procs, slack = Processes(server, control, transport, redis_url, tmp_path), Slack(control)
        try:
            bot = await procs.bot("after_cancel")
            procs.worker()
            await slack.command("U0ALICE", f"kill-gated ledger={ledger}")
            await slack.wait_gate((await slack.wait_card("waiting for"))["ts"])
            [run] = await client.list_runs()
            await quiescent(redis, run["id"])
            await control.post("/commands", {"user": "U0ALICE", "channel": "C0OPS", "command": "/run",
                                             "text": f"cancel {run['id']}"})
            await killed(bot, procs)
            await procs.bot()
            try:
                await slack.wait_card("cancelled")

                async def cleaned() -> bool:
                    return (await client.store.effect_states(run["id"])).get("@on_cancel") == "resolved"

                await eventually(cleaned, 20)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{procs.logs()}") from None
        finally:
            procs.kill_all()
    assert {step: len(recs) for (_, step), recs in read_ledger(ledger).items()} == {"prepare": 1, "@on_cancel": 1}
