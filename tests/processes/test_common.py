"""The shared building blocks of processes/common and integrations/tools: the git workspace and
the tool runner. git is real; the repositories are made here."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from integrations.tools import Tool, ToolMissing
from processes.common.git_workspace import Workspace, open_or_reuse_pull
from processes.common.workspace import OutsideWorkspace
from tests.processes.test_repo_arguments import make_repo, roots, sh  # noqa: F401 - fixture


async def test_a_workspace_clones_branches_commits_pushes_and_finds_its_branch_again(
        roots: Path, tmp_path: Path) -> None:  # noqa: F811
    origin = make_repo(roots / "service.git")
    work = await Workspace.clone(str(origin), tmp_path / "one")
    assert work.base == "main"
    assert await work.branch("shepherd/change") is False  # new, from main
    paths = [work.write("deploy/pipeline.yml", "steps: []\n")]
    commit = await work.commit(paths, "Add the pipeline")
    assert commit and commit == await work.head()
    assert await work.commit(paths, "again") is None  # nothing changed: no empty commit
    await work.push("shepherd/change")
    assert sh("rev-parse", "refs/heads/shepherd/change", cwd=origin) == commit
    assert sh("log", "-1", "--format=%an <%ae>", "shepherd/change", cwd=origin) == "Shepherd <shepherd@localhost>"

    again = await Workspace.clone(str(origin), tmp_path / "two")
    assert await again.branch("shepherd/change") is True  # a redelivered task finds what it pushed
    assert (again.path / "deploy" / "pipeline.yml").read_text() == "steps: []\n"
    reopened = await Workspace.open(again.path)
    assert reopened.base == "main" and await reopened.head() == commit


async def test_a_workspace_refuses_a_repository_off_the_allow_list_and_a_write_out_of_the_clone(
        roots: Path, tmp_path: Path) -> None:  # noqa: F811
    elsewhere = make_repo(tmp_path / "not-allowed.git")
    with pytest.raises(ValueError, match="SHEPHERD_REPO_ROOTS"):
        await Workspace.clone(str(elsewhere), tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    linked = make_repo(roots / "linked.git", links={"deploy": str(tmp_path)})
    work = await Workspace.clone(str(linked), tmp_path / "clone")
    with pytest.raises(OutsideWorkspace, match="leads outside it"):
        work.write("deploy/pipeline.yml", "x")
    assert not (tmp_path / "pipeline.yml").exists()


async def test_a_pull_request_outside_github_says_why_there_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    opened = await open_or_reuse_pull("https://user:secret@gitlab.example/team/app.git", branch="b", base="main",
                                      title="t", body="b")
    assert opened.problem == "https://gitlab.example/team/app.git is not a github.com repository"  # no credentials


def test_a_missing_tool_is_named_with_the_command_to_run_by_hand(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("SHEPHERD_TEST_TOOL", raising=False)
    tool = Tool("terraform", env_var="SHEPHERD_TEST_TOOL", install_hint="apt-get install terraform")
    with pytest.raises(ToolMissing, match="terraform is not installed on this worker: apt-get install terraform") as e:
        tool.run(["plan", "-var", "name=my app; rm -rf /"], timeout=5)
    assert e.value.by_hand == "terraform plan -var 'name=my app; rm -rf /'"
    monkeypatch.setenv("SHEPHERD_TEST_TOOL", str(tmp_path / "nope"))
    with pytest.raises(ToolMissing, match=f"SHEPHERD_TEST_TOOL={tmp_path / 'nope'} is not an executable file"):
        tool.find()


def test_a_tool_runs_from_an_argument_list_within_its_timeout(tmp_path: Path) -> None:
    printf = Tool("printf", env_var="SHEPHERD_TEST_PRINTF", install_hint="coreutils")
    hostile = "$(touch PWNED); `touch PWNED`"
    done = printf.run(["%s|", hostile, "two"], timeout=10, cwd=tmp_path)
    assert done.ok and done.output == f"{hostile}|two|" and done.command[1:] == ["%s|", hostile, "two"]
    assert not (tmp_path / "PWNED").exists()  # no shell saw the argument
    failing = Tool("false", env_var="SHEPHERD_TEST_FALSE", install_hint="coreutils").run([], timeout=10)
    assert not failing.ok and failing.returncode == 1
    with pytest.raises(subprocess.TimeoutExpired):
        Tool("sleep", env_var="SHEPHERD_TEST_SLEEP", install_hint="coreutils").run(["30"], timeout=0.2)
