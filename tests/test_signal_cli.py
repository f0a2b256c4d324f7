"""``shepherd signal``: what a person at the terminal sees, one line per problem, and the exit codes
(0 sent or already sent, 2 bad input, 3 closed, 4 not allowed)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import EXAMPLES, shepherd, start_worker, stop_worker, worker_env
from tests.test_signals import SIGNAL_EXAMPLES

pytestmark = pytest.mark.slow  # terminal commands are subprocesses


@pytest.fixture
def env(redis_url: str, tmp_path: Path, redis) -> dict[str, str]:  # `redis` flushes the database
    return worker_env(redis_url, tmp_path, processes_path=f"{SIGNAL_EXAMPLES}:{EXAMPLES}")


@pytest.fixture
def running_worker(env: dict[str, str], tmp_path: Path) -> Iterator[None]:
    proc = start_worker(env, tmp_path / "worker.log")
    yield
    assert stop_worker(proc) == 0, (tmp_path / "worker.log").read_text()


def wait_for_text(env: dict[str, str], run_id: str, text: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    out = ""
    while time.monotonic() < deadline:
        out = shepherd(env, "status", run_id).stdout
        if text in out:
            return out
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} never showed {text!r}:\n{out}")


def started(env: dict[str, str], *args: str) -> str:
    result = shepherd(env, "run", *args, "--as", "alice")
    assert result.returncode == 0, result.stderr
    return re.match(r"started run (\w+)", result.stdout).group(1)  # type: ignore[union-attr]


def test_signal_a_run_from_the_terminal(env: dict[str, str], running_worker: None) -> None:
    run_id = started(env, "signal-senders")
    waiting = wait_for_text(env, run_id, "→ shepherd signal")
    assert f"→ shepherd signal {run_id} severity key=value ...    (waiting for severity)" in waiting
    assert ("⇢ takes signals: handover (from whoever on_call_only allows), severity (from bob, group:S0SRE)"
            in waiting)

    sent = shepherd(env, "signal", run_id, "severity", "severity=SEV-2", "reason=customer impact",
                    "--as", "bob", "--id", "pd-123")
    assert (sent.returncode, sent.stdout, sent.stderr) == (0, f"sent severity to run {run_id}\n", "")
    again = shepherd(env, "signal", run_id, "severity", "severity=SEV-1", "--as", "bob", "--id", "pd-123")
    assert again.returncode == 0
    assert re.fullmatch(r"signal pd-123 was already delivered \(by bob at \d\d:\d\d UTC\); nothing changed\n",
                        again.stdout)
    wait_for_text(env, run_id, f"→ shepherd signal {run_id} handover")
    assert shepherd(env, "signal", run_id, "handover", "to=dave", "--as", "oncall-erin").returncode == 0
    done = wait_for_text(env, run_id, "completed")
    assert '"severity": "SEV-2"' in done and '"commander": "dave"' in done
    assert "received from bob" in done

    closed = shepherd(env, "signal", run_id, "severity", "severity=SEV-3", "--as", "bob")
    assert (closed.returncode, closed.stderr) == (3, f"error: run {run_id} is completed; it takes no more signals\n")


def test_signal_refusals_are_one_line_each_with_their_exit_code(env: dict[str, str], running_worker: None) -> None:
    run_id = started(env, "signal-senders")
    wait_for_text(env, run_id, "→ shepherd signal")

    bad = shepherd(env, "signal", run_id, "severity", "severity=SEV-9", "colour=red", "--as", "bob")
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == ["error: unknown input 'colour' (expected one of: severity, reason)",
                                       "error: input 'severity': expected one of SEV-1, SEV-2, SEV-3, got 'SEV-9'"]
    missing = shepherd(env, "signal", run_id, "severity", "--as", "bob")
    assert (missing.returncode, missing.stderr) == (2, "error: input 'severity': required\n")

    forbidden = shepherd(env, "signal", run_id, "severity", "severity=SEV-1", "--as", "mallory")
    assert (forbidden.returncode, forbidden.stderr) == (
        4, f"error: signal severity of run {run_id} may be sent by bob, group:S0SRE\n")
    in_group = shepherd(env, "signal", run_id, "severity", "severity=SEV-1", "--as", "carol", "--group", "S0SRE")
    assert in_group.returncode == 0, in_group.stderr

    unknown = shepherd(env, "signal", run_id, "sevrity", "severity=SEV-1", "--as", "bob")
    assert (unknown.returncode, unknown.stderr) == (
        2, f"error: run {run_id} takes no signal 'sevrity' (it takes: handover, severity)\n")
    no_run = shepherd(env, "signal", "nope", "severity", "--as", "bob")
    assert (no_run.returncode, no_run.stderr) == (2, "error: no run with id 'nope'\n")
