"""The terminal front end as a user drives it: real processes, real Redis."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT, shepherd, start_worker, stop_worker, worker_env


@pytest.fixture
def env(redis_url: str, tmp_path: Path, redis) -> dict[str, str]:  # `redis` flushes the database
    return worker_env(redis_url, tmp_path)


@pytest.fixture
def running_worker(env: dict[str, str], tmp_path: Path) -> Iterator[None]:
    proc = start_worker(env, tmp_path / "worker.log")
    yield
    assert stop_worker(proc) == 0, (tmp_path / "worker.log").read_text()


def wait_status(env: dict[str, str], run_id: str, word: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = shepherd(env, "status", run_id).stdout
        if out.splitlines()[0].endswith(word):
            return out
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} never became {word}:\n{out}")


def test_run_and_approve_a_gate_from_the_terminal(env: dict[str, str], running_worker: None) -> None:
    started = shepherd(env, "run", "gate-demo", "release-42", "--as", "alice")
    assert started.returncode == 0, started.stderr
    run_id = re.match(r"started run (\w+) \(gate-demo\)", started.stdout).group(1)  # type: ignore[union-attr]
    waiting = wait_status(env, run_id, "waiting")
    assert f"→ shepherd approve {run_id} 2    (Continue release-42?)" in waiting

    approved = shepherd(env, "approve", run_id, "2", "--as", "bob", "-m", "ship it")
    assert approved.returncode == 0 and approved.stdout.strip() == "approved 'Continue release-42?'"
    done = wait_status(env, run_id, "completed")
    assert "approved by bob: ship it" in done and '"steps": ["prepare done", "finish done"]' in done

    again = shepherd(env, "reject", run_id, "2", "--as", "carol")
    assert again.returncode == 3
    assert re.fullmatch(r"error: already approved by bob at \d\d:\d\d UTC\n", again.stderr)
    runs = shepherd(env, "runs", "--status", "completed")
    assert run_id in runs.stdout and "gate-demo" in runs.stdout


def test_run_wait_follows_the_run_to_its_end(env: dict[str, str], running_worker: None) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "shepherd.cli", "run", "gate-demo", "--wait", "--as", "alice"],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    run_id = first.split()[2]
    for line in proc.stdout:
        if "→ shepherd approve" in line:
            break
    assert shepherd(env, "approve", run_id, "2", "--as", "bob").returncode == 0
    rest = proc.stdout.read()
    assert proc.wait(30) == 0
    assert rest.strip().endswith(f"run {run_id} completed")


@pytest.mark.parametrize(("args", "lines", "code"), [
    (["run", "no-such-process"], ["error: unknown process 'no-such-process' (known: "], 2),
    (["run", "approval-demo", "pause=soon", "approvers=bob"],
     ["error: input 'service': required", "error: input 'pause': expected a number, got 'soon'"], 2),
    (["run", "gate-demo", "one", "two"], ["error: unexpected argument 'two'"], 2),
    (["run", "gate-demo", "colour=blue"], ["error: unknown input 'colour' (expected one of: name)"], 2),
    (["status", "feedfacecafe"], ["error: no run with id 'feedfacecafe'"], 2),
    (["approve", "feedfacecafe", "1"], ["error: no run with id 'feedfacecafe'"], 2),
])
def test_bad_input_gets_one_line_per_problem(env: dict[str, str], args: list[str], lines: list[str],
                                             code: int) -> None:
    result = shepherd(env, *args)
    assert result.returncode == code
    got = result.stderr.splitlines()
    assert len(got) == len(lines), result.stderr
    for line, prefix in zip(got, lines, strict=True):
        assert line.startswith(prefix), result.stderr
    assert result.stdout == ""


def test_deciding_a_gate_that_does_not_exist(env: dict[str, str], running_worker: None) -> None:
    run_id = shepherd(env, "run", "gate-demo", "--as", "alice").stdout.split()[2]
    wait_status(env, run_id, "waiting")
    result = shepherd(env, "approve", run_id, "7", "--as", "bob")
    assert result.returncode == 2
    assert result.stderr == f"error: run {run_id} has no gate '7' (open: 2)\n"
    cancelled = shepherd(env, "cancel", run_id, "--as", "alice")
    assert cancelled.returncode == 0
    closed = shepherd(env, "approve", run_id, "2", "--as", "bob")
    assert closed.returncode == 3 and closed.stderr == "error: already cancelled\n"
    retried = shepherd(env, "retry", run_id, "--as", "alice")
    assert retried.returncode == 3
    assert retried.stderr == f"error: run {run_id} is cancelled; only a failed run can be retried\n"
    assert shepherd(env, "retry", "nosuchrun").stderr == "error: no run with id 'nosuchrun'\n"


def test_processes_lists_usage(env: dict[str, str]) -> None:
    listing = shepherd(env, "processes")
    assert "approval-demo" in listing.stdout and "usage: gate-demo <name>" in listing.stdout
    detail = shepherd(env, "processes", "approval-demo")
    assert "| `service` | text | required | service to pretend-deploy |" in detail.stdout
