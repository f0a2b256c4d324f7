"""A hostile ``repo=`` typed in Slack gets one clear line and starts nothing, in both transports."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from engine.client import ShepherdClient
from tests.bot.conftest import Harness, Slack


@pytest.fixture
def marker_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("SHEPHERD_REPO_ROOTS", str(tmp_path / "repos"))
    marker = tmp_path / "PWNED"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, marker


async def test_hostile_repo_arguments_are_refused_in_one_line(harness: Harness, slack: Slack, client: ShepherdClient,
                                                              marker_script: tuple[Path, Path]) -> None:
    script, marker = marker_script
    typed = {
        "repo=file:///etc": "file:// is not allowed",
        f"repo=--upload-pack={script}": "must not begin with '-'",
        f'repo="-c core.sshCommand={script}"': "must not begin with '-'",
        f'repo="ext::sh -c {script}"': "git remote helpers (like ext::) are not allowed",
        "repo=/etc": "is outside the directories allowed for repositories",
        "repo=../../": "a local repository must be an absolute path under SHEPHERD_REPO_ROOTS",
    }
    for n, (argument, message) in enumerate(typed.items()):
        await slack.command("U0ALICE", f"slo-setup service=checkout target=99.9 {argument}")
        seen = await slack.wait_ephemeral("U0ALICE", message)
        assert len(seen) == n + 1  # one answer per command
        assert seen[-1].startswith("• input 'repo': ") and "\n" not in seen[-1], seen[-1]
    assert await client.list_runs() == []
    assert await slack.top() == []
    assert not marker.exists()
