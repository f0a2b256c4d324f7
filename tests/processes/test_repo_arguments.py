"""Repository arguments reach git only from an allow-list, and a hostile repository cannot make the
worker write outside its clone (processes/common). git is real; the repositories are made here."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from engine.arguments import ArgumentError, parse_command
from processes.common.git_workspace import git, git_env
from processes.common.repositories import check_repository
from processes.common.workspace import OutsideWorkspace, write_inside
from processes.slo.inputs import SLOSetupInputs
from processes.slo.repo import RepoArgs, branch_name, push_rules
from tests.processes.test_slo_repo import tctx


def sh(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """SHEPHERD_REPO_ROOTS = <tmp>/repos; a HOME of the test's own, so no personal git config counts."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("XDG_CONFIG_HOME", "GIT_DIR", "GIT_WORK_TREE", "GIT_CONFIG_GLOBAL"):
        monkeypatch.delenv(name, raising=False)
    allowed = tmp_path / "repos"
    allowed.mkdir()
    monkeypatch.setenv("SHEPHERD_REPO_ROOTS", f"{tmp_path / 'elsewhere-unused'}:{allowed}")
    return allowed


def make_repo(path: Path, links: dict[str, str] | None = None, files: dict[str, str] | None = None) -> Path:
    """A bare origin at ``path`` whose main holds README.md, ``files`` and the symlinks ``links`` (name -> target)."""
    sh("init", "--quiet", "--bare", "--initial-branch=main", str(path))
    work = path.with_name(path.name + "-seed")
    sh("clone", "--quiet", str(path), str(work))
    for name, content in {"README.md": "# rules\n", **(files or {})}.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(content)
    for name, target in (links or {}).items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).symlink_to(target)
    sh("add", ".", cwd=work)
    sh("-c", "user.name=Seed", "-c", "user.email=seed@example.com", "commit", "--quiet", "-m", "seed", cwd=work)
    sh("push", "--quiet", "origin", "main", cwd=work)
    return path


@pytest.fixture
def pwned(tmp_path: Path) -> tuple[Path, Path]:
    """An executable that leaves a marker file if anything ever runs it."""
    marker = tmp_path / "PWNED"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, marker


def refusal(repo: str) -> list[str]:
    with pytest.raises(ArgumentError) as caught:
        parse_command(SLOSetupInputs, [], ["service=checkout", "target=99.9", f"repo={repo}"])
    return caught.value.lines


# -- the allow-list, where a person types it ----------------------------------------------------


def test_hostile_repository_arguments_get_one_clear_line_and_run_nothing(
        roots: Path, tmp_path: Path, pwned: tuple[Path, Path]) -> None:
    script, marker = pwned
    hostile = {
        f"--upload-pack={script}": "must not begin with '-' (git would read it as an option)",
        f"-c core.sshCommand={script}": "must not begin with '-' (git would read it as an option)",
        f"ext::sh -c {script}": "git remote helpers (like ext::) are not allowed",
        "/etc": "/etc is outside the directories allowed for repositories (SHEPHERD_REPO_ROOTS: ",
        "../../": "a local repository must be an absolute path under SHEPHERD_REPO_ROOTS, got '../../'",
        f"{roots}/../../../etc": "is outside the directories allowed for repositories",
        f"file://{make_repo(tmp_path / 'outside.git')}": "file:// is not allowed: give an https:// or ssh:// URL",
        "git://example.com/rules.git": "git:// is not allowed",
        "http://example.com/rules.git": "http:// is not allowed",
        "ssh://-oProxyCommand=x/rules.git": "is not a usable ssh:// URL",
        "git@-oProxyCommand=x:rules.git": "is not a usable user@host:path",
        "https://example.com": "is not a usable https:// URL (a host and a repository path)",
    }
    for repo, message in hostile.items():
        lines = refusal(repo)
        assert len(lines) == 1 and lines[0].startswith("input 'repo': ") and message in lines[0], (repo, lines)
    assert not marker.exists()


def test_a_real_repository_outside_the_roots_is_refused_even_through_a_symlink(roots: Path, tmp_path: Path) -> None:
    outside = make_repo(tmp_path / "private.git")
    [line] = refusal(str(outside))
    assert "is outside the directories allowed for repositories" in line
    (roots / "innocent.git").symlink_to(outside)  # a path under a root that leads out of it
    [line] = refusal(str(roots / "innocent.git"))
    assert line.startswith("input 'repo': ") and "is outside the directories allowed for repositories" in line


def test_without_roots_no_local_path_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHEPHERD_REPO_ROOTS", raising=False)
    repo = make_repo(tmp_path / "r.git")
    [line] = refusal(str(repo))
    assert "local repositories are not enabled here" in line and "SHEPHERD_REPO_ROOTS" in line


def test_allowed_repositories_pass(roots: Path) -> None:
    repo = make_repo(roots / "team" / "rules.git")
    for value in ("https://github.com/acme/rules.git", "ssh://git@git.example.com:2222/acme/rules.git",
                  "git@github.com:acme/rules.git", str(repo)):
        parsed = parse_command(SLOSetupInputs, [], ["service=checkout", "target=99.9", f"repo={value}"])
        assert parsed.repo == value
    assert check_repository(f"{roots}/team/../team/rules.git") == str(repo)  # resolved for git


# -- defence in depth: the task and git itself ----------------------------------------------------


async def test_the_task_checks_the_repository_again_before_git(roots: Path, tmp_path: Path,
                                                               pwned: tuple[Path, Path]) -> None:
    script, marker = pwned
    for repo in (f"--upload-pack={script}", f"ext::sh -c {script}", str(make_repo(tmp_path / "o.git"))):
        args = RepoArgs(repo=repo, rules_path="rules", service="checkout", files={"a.yml": "x\n"}, message="m")
        result = await push_rules.fn(args, tctx())
        assert not result.pushed and result.problem and result.problem.startswith("the repository was refused ("), \
            result
    assert not marker.exists()


async def test_git_runs_with_only_the_allowed_transports(roots: Path) -> None:
    assert git_env()["GIT_ALLOW_PROTOCOL"] == "https:ssh:file"
    code, out = await git("ls-remote", "--", "git://127.0.0.1:9/rules.git", check=False)
    assert code != 0 and "transport 'git' not allowed" in out


# -- a hostile repository's symlinks (issue 10 item 19) --------------------------------------------


def args_for(repo: Path, rules_path: str = "rules") -> RepoArgs:
    return RepoArgs(repo=str(repo), rules_path=rules_path, service="checkout",
                    files={"slo-checkout-availability.yml": "groups: []\n"}, message="SLO: checkout")


@pytest.mark.parametrize("link", ["absolute", "relative", "git-dir"])
async def test_a_committed_symlink_out_of_the_clone_receives_nothing(roots: Path, tmp_path: Path,
                                                                     link: str) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    target = {"absolute": str(victim), "relative": "../../../../../../../../../../" + str(victim).lstrip("/"),
              "git-dir": ".git"}[link]
    origin = make_repo(roots / "hostile.git", {"rules": target})
    result = await push_rules.fn(args_for(origin), tctx())
    assert not result.pushed and result.problem, result
    assert ("leads outside it" in result.problem) if link != "git-dir" else ("leads into its .git" in result.problem)
    assert list(victim.iterdir()) == []
    assert sh("branch", "--list", "shepherd/*", cwd=origin) == ""  # nothing pushed


async def test_a_committed_symlinked_file_is_not_written_through(roots: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.yml"
    victim.write_text("precious\n")
    origin = make_repo(roots / "hostile.git", {"rules/slo-checkout-availability.yml": str(victim)})
    result = await push_rules.fn(args_for(origin), tctx())
    assert not result.pushed and result.problem and "is a symlink" in result.problem
    assert victim.read_text() == "precious\n"


async def test_a_symlink_that_stays_inside_the_clone_is_followed(roots: Path) -> None:
    origin = make_repo(roots / "linked.git", {"rules": "prometheus/rules"},
                       {"prometheus/rules/existing.yml": "groups: []\n"})
    result = await push_rules.fn(args_for(origin), tctx())
    assert result.pushed and result.problem is None, result
    assert result.paths == ["prometheus/rules/slo-checkout-availability.yml"]
    branch = branch_name("checkout", "abc1234567:repo")
    assert sh("show", f"{branch}:prometheus/rules/slo-checkout-availability.yml", cwd=origin) == "groups: []"


def test_write_inside_refuses_paths_that_climb(tmp_path: Path) -> None:
    for bad in ("../x", "/etc/x", "a/../../x"):
        with pytest.raises(OutsideWorkspace):
            write_inside(tmp_path, bad, "x")
    assert write_inside(tmp_path, "a/b/c.txt", "x") == "a/b/c.txt" and (tmp_path / "a/b/c.txt").read_text() == "x"
