"""A shell step's process: no worker credentials in its environment or output, and a timeout that
kills everything it started."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from engine.environment import redact, step_environment
from engine.executors import run_shell

SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-test-9f8e7d6c5b4a",
    "SLACK_SIGNING_SECRET": "signing-5c4b3a29",
    "PAGERDUTY_ROUTING_KEY": "R0UT1NGKEY77",
    "GITHUB_TOKEN": "ghp_testtoken123456",
    "REDIS_URL": "redis://:hunter2pass@127.0.0.1:6379/0",
}


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Shepherd")


def test_step_environment_drops_credentials_keeps_the_rest(secret_env: None) -> None:
    env = step_environment({"DEPLOY_ENV": "staging"})
    assert not set(SECRETS) & set(env)
    assert env["GIT_AUTHOR_NAME"] == "Shepherd" and env["DEPLOY_ENV"] == "staging" and env["PATH"]
    assert step_environment({"GITHUB_TOKEN": "given"})["GITHUB_TOKEN"] == "given"  # explicit is allowed


async def test_a_step_that_prints_its_environment_shows_no_credential(secret_env: None) -> None:
    script = "import os, sys; print(dict(os.environ)); print(sys.argv[1], file=sys.stderr)"
    result = await run_shell({"argv": [sys.executable, "-c", script, SECRETS["GITHUB_TOKEN"]], "timeout": 30})
    assert result["returncode"] == 0
    for value in SECRETS.values():
        assert value not in result["stdout"] and value not in result["stderr"]
    assert "[redacted]" in result["stderr"]  # a credential that reached it anyway is masked
    assert "GIT_AUTHOR_NAME" in result["stdout"]


def test_redact_leaves_short_and_ordinary_values() -> None:
    base = {"FLAG_TOKEN": "1", "HOME": "/root", "API_KEY": "abcdef123"}
    assert redact("1 /root abcdef123", base) == "1 /root [redacted]"


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "grandchild.pid"
    script = f"sleep 60 & echo $! > {marker}; wait"
    with pytest.raises(TimeoutError):  # returns once the pipes close: nothing is left holding them
        await run_shell({"argv": ["sh", "-c", script], "timeout": 0.5})
    pid = int(marker.read_text())
    for _ in range(100):  # the kill is delivered; reaping by init may take a moment
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        if Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            return
        time.sleep(0.05)
    raise AssertionError(f"grandchild {pid} outlived the step's timeout")
