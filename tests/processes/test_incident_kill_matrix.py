"""The kill matrix of incident-response: a real worker process SIGKILLed right after each outside
call of a SEV-1 (the channel, its topic, invites, every post, each PagerDuty event, the GitHub
issue) and of a cancel, then a fresh worker finishes the run.

Every run must complete, and the fake servers' own records must show each outside effect once:
one channel (no ``-2``), each post once in the sandbox's recorded ``chat.postMessage`` calls,
one trigger, acknowledge and resolve at PagerDuty, one issue at GitHub.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from engine.client import ShepherdClient
from processes.incident.effects import FAILPOINTS
from sandbox import SandboxServer
from state.store import RunStore
from tests.helpers import check_journal, stop_worker, wait_for, worker_env
from tests.killing import KILLED, logs, wait_dead_leases, wait_exit
from tests.processes.incident_fixtures import (  # noqa: F401 - fixtures
    FakeGitHub,
    FakePagerDuty,
    control,
    github,
    open_gate,
    pagerduty,
    server,
    worker_slack,
)
from tests.sandbox.control_client import Control, eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

TODAY = datetime.now(UTC).strftime("%Y%m%d")

SEV1 = [  # the outside calls of a SEV-1, in the order the run makes them: failpoint:n
    "incident.channel_created:1", "incident.topic_set:1", "incident.invited:1", "incident.posted:1",  # channel
    "incident.pagerduty_sent:1", "incident.posted:2",  # the page and the exec notice
    "incident.pagerduty_sent:2", "incident.invited:2",  # acknowledge, the role holders
    "incident.topic_set:2", "incident.posted:3",  # roles
    "incident.posted:4",  # status update #1
    "incident.topic_set:3", "incident.posted:5",  # mitigated
    "incident.pagerduty_sent:3",  # resolve
    "incident.topic_set:4", "incident.posted:6",  # resolved
    "incident.issue_filed:1", "incident.posted:7",  # the action item, and its post
]
CANCEL = ["incident.pagerduty_sent:2", "incident.posted:2"]  # a SEV-2's clean-up: its resolve, its announcement


def test_the_matrix_covers_every_failpoint() -> None:
    assert {p.split(":")[0] for p in SEV1} == set(FAILPOINTS)


@pytest.fixture
def incident_env(worker_slack: SandboxServer, pagerduty: FakePagerDuty,  # noqa: F811
                 github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Slack (the sandbox), PagerDuty and GitHub configured on the workers; execs in #general."""
    monkeypatch.setenv("SHEPHERD_INCIDENT_EXEC_CHANNEL", "C0GENERAL")
    monkeypatch.setenv("SHEPHERD_INCIDENT_CADENCE_SECONDS", "0.2")


async def _posts(control: Control) -> list[tuple[str, str]]:  # noqa: F811
    calls = (await control.get("/calls", method="chat.postMessage"))["calls"]
    return [(c["args"]["channel"], c["args"]["text"]) for c in calls if c["ok"]]


async def _kill_then_recover(redis: Redis, redis_url: str, tmp_path: Path, spawn: Any,
                             first: subprocess.Popen[bytes], point: str, run_id: str) -> subprocess.Popen[bytes]:
    """Wait for the failpoint to kill ``first``; start a fresh worker once its leases have expired."""
    assert await wait_exit(first, 60, tmp_path) == KILLED, f"{point} was never reached\n{logs(tmp_path)}"
    await wait_dead_leases(redis, [run_id], first.pid)
    return spawn(worker_env(redis_url, tmp_path / "data"), "second")


def _once(posts: list[tuple[str, str]]) -> None:
    twice = {p: n for p, n in Counter(posts).items() if n > 1}
    assert not twice, f"posted more than once: {twice}"


@pytest.mark.parametrize("point", SEV1)
async def test_a_worker_killed_after_each_call_of_a_sev1(point: str, redis: Redis, redis_url: str, tmp_path: Path,
                                                         spawn: Any, client: ShepherdClient, control: Control,  # noqa: F811
                                                         pagerduty: FakePagerDuty, github: FakeGitHub,  # noqa: F811
                                                         incident_env: None) -> None:
    run_id = await client.start("incident-response", {"severity": "SEV-1", "title": "Checkout down"},
                                requester="U0ALICE", channel="C0OPS")
    answers = _answers(client, run_id)
    second: subprocess.Popen[bytes] | None = None
    first = spawn(worker_env(redis_url, tmp_path / "data", failpoints=point), "first")
    try:
        async for _ in answers:  # answer each question as it comes; the first worker dies on the way
            if second is None and first.poll() is not None:
                second = await _kill_then_recover(redis, redis_url, tmp_path, spawn, first, point, run_id)
        if second is None:  # killed by the very last call
            second = await _kill_then_recover(redis, redis_url, tmp_path, spawn, first, point, run_id)
        run = await wait_for(client, run_id, timeout=60)
    finally:
        if second is not None:
            stop_worker(second)
    assert first.returncode == KILLED, f"{point} was never reached\n{logs(tmp_path)}"
    assert run.status == "completed", f"{run}\n{logs(tmp_path)}"
    check_journal(await RunStore(redis).read_journal(run_id))
    incident = json.loads(run.meta["result"])["incident"]

    channels = [c["name"] for c in (await control.get("/channels"))["channels"]]
    assert channels.count(f"inc-{TODAY}-checkout-down") == 1 and f"inc-{TODAY}-checkout-down-2" not in channels
    posts = await _posts(control)
    _once(posts)
    channel = json.loads(run.meta["result"])["channel"]
    texts = [t for c, t in posts if c == channel]
    for needle in ("declared by", "roles:", "update #1", "mitigated at", "resolved.", "action items:"):
        assert sum(needle in t for t in texts) == 1, (needle, texts)
    assert sum(incident in t for c, t in posts if c == "C0GENERAL") == 1  # the exec notice
    assert pagerduty.actions() == [("trigger", incident), ("acknowledge", incident), ("resolve", incident)]
    assert len(github.created()) == 1, github.created()


@pytest.mark.parametrize("point", CANCEL)
async def test_a_worker_killed_after_each_call_of_a_cancel(point: str, redis: Redis, redis_url: str, tmp_path: Path,
                                                           spawn: Any, client: ShepherdClient,
                                                           control: Control, pagerduty: FakePagerDuty,  # noqa: F811
                                                           incident_env: None) -> None:
    run_id = await client.start("incident-response", {"severity": "SEV-2", "title": "Search slow"},
                                requester="U0ALICE", channel="C0OPS")
    first = spawn(worker_env(redis_url, tmp_path / "data", failpoints=point), "first")
    incident = f"INC-{TODAY}-1"

    async def paged() -> bool:
        steps = (await client.view(run_id)).steps
        return any(s.name.endswith("page_oncall") and s.state == "done" for s in steps)

    await eventually(paged, 30)
    await client.cancel(run_id, by="U0ALICE", reason="duplicate")
    second = await _kill_then_recover(redis, redis_url, tmp_path, spawn, first, point, run_id)
    try:
        async def released() -> bool:
            steps = (await client.view(run_id)).steps
            return any(s.key == "@on_cancel" and s.state == "done" for s in steps)

        await eventually(released, 60)
    finally:
        stop_worker(second)
    assert pagerduty.actions() == [("trigger", incident), ("resolve", incident)]
    posts = await _posts(control)
    _once(posts)
    assert sum("was cancelled by" in t for _, t in posts) == 1


async def _answers(client: ShepherdClient, run_id: str) -> Any:
    """Answer the SEV-1's questions and gates in order, yielding after each (so the caller can
    replace a dead worker while the run waits)."""
    steps: list[tuple[str, str, dict[str, Any] | bool]] = [
        ("who takes which role", "U0ALICE", {"commander": "U0BOB", "tech_lead": "U0CAROL"}),
        ("status update #1", "U0BOB", {"status": "Rolled back", "mitigated": True}),
        ("mitigated?", "U0BOB", True),
        ("resolve the incident?", "U0BOB", True),
        ("postmortem details", "U0BOB", {"summary": "Bad deploy.", "impact": "Checkout failed."}),
        ("action item #1", "U0BOB", {"title": "Add a canary", "owner": "U0CAROL", "due": "2030-01-31"}),
        ("revision 1", "U0CAROL", True),
    ]
    for title, user, answer in steps:
        key = None
        while key is None:
            try:
                key = await _gate(client, run_id, title)
            except AssertionError:
                yield None  # not there yet: perhaps the worker died; let the caller look
        if isinstance(answer, dict):
            await client.answer(run_id, key, user=user, values=answer)
        else:
            await client.decide(run_id, key, user=user, approve=answer)
        yield None


async def _gate(client: ShepherdClient, run_id: str, title: str) -> str:
    for _ in range(25):
        run = await client.view(run_id)
        if run.status in ("completed", "failed", "cancelled"):
            raise RuntimeError(f"the run ended before {title!r}: {run}")
        for gate in run.open_gates:
            if title in gate["title"]:
                return str(gate["key"])
        await asyncio.sleep(0.02)
    raise AssertionError(f"no open {title!r} yet")
