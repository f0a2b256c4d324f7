"""slo-setup's rules as a branch in the rules repository, and a GitHub pull request where a token is set.

git is real, on repositories made here: a bare "origin" seeded with a commit on ``main`` and a
working checkout of it. github.com URLs are mapped onto the local origin with git's own
``url.<base>.insteadOf`` (in a HOME made for the test), so a run can push to "GitHub" for real while
the pull-request API is a small local aiohttp server that records and checks every request.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from redis.asyncio import Redis

from engine.arguments import ArgumentError, parse_command
from engine.client import ShepherdClient
from engine.executors import TaskContext
from engine.settings import Settings
from processes.slo.inputs import SLOSetupInputs
from processes.slo.repo import PullArgs, RepoArgs, branch_name, open_pull_request, push_rules
from tests.helpers import wait_for_gate
from tests.processes.conftest import WAIT, finish, free_port, needs_promtool

GITHUB_URL = "https://github.com/acme/slo-rules"
TOKEN = "ghp_test_token_never_shown"


def git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(autouse=True)
def repo_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Local repositories are allowed under the test's own directory only (SHEPHERD_REPO_ROOTS)."""
    monkeypatch.setenv("SHEPHERD_REPO_ROOTS", str(tmp_path))
    return tmp_path


@dataclass
class Repos:
    origin: Path
    """A bare repository with one commit on main."""
    checkout: Path
    """A working checkout of origin with an uncommitted change, as a person leaves it."""
    home: Path


@pytest.fixture
def repos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repos:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_CONFIG_GLOBAL"):
        monkeypatch.delenv(name, raising=False)
    origin = tmp_path / "origin.git"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    checkout = tmp_path / "checkout"
    git("clone", "--quiet", str(origin), str(checkout))
    (checkout / "README.md").write_text("# rules\n")
    (checkout / "rules").mkdir()
    (checkout / "rules" / "existing.yml").write_text("groups: []\n")
    git("add", ".", cwd=checkout)
    git("-c", "user.name=Seed", "-c", "user.email=seed@example.com", "commit", "--quiet", "-m", "seed", cwd=checkout)
    git("push", "--quiet", "origin", "main", cwd=checkout)
    (checkout / "README.md").write_text("# rules\nwork in progress\n")  # must survive untouched
    return Repos(origin=origin, checkout=checkout, home=home)


def map_github_to(origin: Path, home: Path) -> None:
    """Make git fetch and push ``GITHUB_URL`` from the local bare origin (git's insteadOf)."""
    git("config", "--file", str(home / ".gitconfig"), f"url.{origin.as_uri()}.insteadOf", GITHUB_URL)


def tctx(run_id: str = "abc1234567", step: str = "repo") -> TaskContext:
    async def beat() -> None:
        return None
    return TaskContext(run_id=run_id, step=step, attempt=1, heartbeat=beat)


def files(rules: str = "groups:\n- name: slo\n  rules: []\n") -> dict[str, str]:
    return {"slo-checkout-availability.yml": rules, "slo-checkout-availability.test.yml": "tests: []\n"}


# -- the task ------------------------------------------------------------------------------


async def test_the_branch_is_pushed_and_a_redelivery_changes_nothing(repos: Repos) -> None:
    status_before = git("status", "--porcelain", cwd=repos.checkout)
    head_before = git("rev-parse", "HEAD", cwd=repos.checkout)
    args = RepoArgs(repo=str(repos.checkout), rules_path="rules/slo", service="checkout", files=files(),
                    message="SLO: checkout availability 99.9% over 30d\n\nbody\n")
    first = await push_rules.fn(args, tctx())
    branch = branch_name("checkout", "abc1234567:repo")
    assert first.problem is None and first.pushed and not first.unchanged
    assert first.branch == branch and branch.startswith("shepherd/slo-checkout-") and len(branch) == 30
    assert first.base == "main"
    assert first.paths == ["rules/slo/slo-checkout-availability.yml", "rules/slo/slo-checkout-availability.test.yml"]

    # The branch is in the repository the path names, with the files, one commit on main, by Shepherd.
    tip = git("rev-parse", f"refs/heads/{branch}", cwd=repos.checkout)
    assert tip == first.commit
    assert git("show", f"{branch}:rules/slo/slo-checkout-availability.yml", cwd=repos.checkout) == \
        "groups:\n- name: slo\n  rules: []"
    assert git("rev-parse", f"{branch}~1", cwd=repos.checkout) == head_before
    assert git("log", "-1", "--format=%an <%ae>|%s", branch, cwd=repos.checkout) == \
        "Shepherd <shepherd@localhost>|SLO: checkout availability 99.9% over 30d"
    assert git("diff", "--name-only", f"{branch}~1", branch, cwd=repos.checkout).splitlines() == [
        "rules/slo/slo-checkout-availability.test.yml", "rules/slo/slo-checkout-availability.yml"]
    # The person's working tree and checked-out branch are as they left them.
    assert git("status", "--porcelain", cwd=repos.checkout) == status_before == "M README.md"
    assert git("rev-parse", "HEAD", cwd=repos.checkout) == head_before
    assert git("symbolic-ref", "--short", "HEAD", cwd=repos.checkout) == "main"

    again = await push_rules.fn(args, tctx())  # the same idempotency key: a redelivery
    assert again.branch == branch and again.unchanged and not again.pushed and again.problem is None
    assert again.commit == first.commit
    assert git("rev-parse", f"refs/heads/{branch}", cwd=repos.checkout) == tip
    assert git("rev-list", "--count", branch, cwd=repos.checkout) == "2"

    other = await push_rules.fn(args, tctx(run_id="fff0000000"))  # another run: another branch
    assert other.branch != branch and other.pushed


async def test_rules_already_in_the_default_branch_push_nothing(repos: Repos) -> None:
    args = RepoArgs(repo=str(repos.origin), rules_path="rules", service="checkout",
                    files={"existing.yml": "groups: []\n"}, message="m")
    result = await push_rules.fn(args, tctx())
    assert not result.pushed and not result.unchanged
    assert result.problem == "the rules are already in main exactly as generated: there is nothing to push"
    assert git("branch", "--list", "shepherd/*", cwd=repos.origin) == ""


async def test_a_failing_push_is_reported_without_credentials(repos: Repos, tmp_path: Path) -> None:
    args = RepoArgs(repo="https://user:s3cret@127.0.0.1:9/nothing.git", rules_path="rules", service="checkout",
                    files=files(), message="m")
    result = await push_rules.fn(args, tctx())
    assert not result.pushed and result.problem and "failed" in result.problem
    assert "s3cret" not in result.problem and "s3cret" not in result.repo
    assert result.repo == "https://127.0.0.1:9/nothing.git"


# -- inputs --------------------------------------------------------------------------------


@pytest.mark.parametrize(("repo", "message"), [
    ("/no/such/dir", "/no/such/dir is outside the directories allowed for repositories"),
    ("relative/path", "a local repository must be an absolute path under SHEPHERD_REPO_ROOTS, got 'relative/path'"),
    ("ext::sh -c touch% /tmp/pwned", "git remote helpers (like ext::) are not allowed"),
    ("ext::sh", "git remote helpers (like ext::) are not allowed"),
    ("--upload-pack=evil", "must not begin with '-' (git would read it as an option)"),
    ("ftp://example.com/r.git", "ftp:// is not allowed: give an https:// or ssh:// URL, user@host:path, or a local"),
])
def test_bad_repos_are_refused_with_a_clear_message(repo: str, message: str) -> None:
    with pytest.raises(ArgumentError) as parsed:
        parse_command(SLOSetupInputs, [], ["service=checkout", "target=99.9", f"repo={repo}"])
    assert any("repo" in line and message in line for line in parsed.value.lines), parsed.value.lines


def test_a_directory_that_is_not_a_repository_and_bad_rules_paths(tmp_path: Path, repos: Repos) -> None:
    with pytest.raises(ArgumentError) as caught:
        parse_command(SLOSetupInputs, [], ["service=checkout", "target=99.9", f"repo={tmp_path}"])
    assert any(f"{tmp_path} is not a git repository (no .git in it)" in line for line in caught.value.lines)
    for bad in ("../up", "rules/../../etc", ".git/hooks", "a b"):
        with pytest.raises(ArgumentError) as caught:
            parse_command(SLOSetupInputs, [], ["service=checkout", "target=99.9", f"repo={repos.origin}",
                                               f"rules_path={bad}"])
        assert any("must be a relative directory inside the repository" in line for line in caught.value.lines)
    good = parse_command(SLOSetupInputs, [], ["service=checkout", "target=99.9", f"repo={repos.origin}",
                                              "rules_path=/slo/rules/"])
    assert good.repo == str(repos.origin) and good.rules_path == "slo/rules"
    assert parse_command(SLOSetupInputs, [], ["service=checkout", "target=99.9", f"repo={GITHUB_URL}"]).repo == \
        GITHUB_URL


async def test_an_invalid_repo_starts_no_run(client: ShepherdClient, redis: Redis, tmp_path: Path) -> None:
    with pytest.raises(ArgumentError) as caught:
        await client.start("slo-setup", {"service": "checkout", "target": 99.9, "repo": str(tmp_path / "nope")},
                           requester="alice")
    assert any(f"no such directory: {tmp_path / 'nope'}" in line for line in caught.value.lines), caught.value.lines
    assert await client.list_runs() == []


# -- GitHub --------------------------------------------------------------------------------


@dataclass
class FakeGitHub:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    pulls: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
async def github(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeGitHub]:
    """The two pull-request endpoints of the GitHub REST API, keeping what was opened."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    port = free_port()
    state = FakeGitHub(url=f"http://127.0.0.1:{port}")

    async def pulls(request: web.Request) -> web.Response:
        body = await request.json() if request.method == "POST" else None
        state.requests.append({"method": request.method, "path": request.path, "query": dict(request.query),
                               "auth": request.headers.get("Authorization"),
                               "accept": request.headers.get("Accept"), "json": body})
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"message": "Bad credentials"}, status=401)
        owner, name = request.match_info["owner"], request.match_info["name"]
        if request.method == "GET":
            head = request.query.get("head", "")
            return web.json_response([p for p in state.pulls if f"{owner}:{p['head']['ref']}" == head])
        number = len(state.pulls) + 1
        pull = {"number": number, "html_url": f"https://github.com/{owner}/{name}/pull/{number}",
                "head": {"ref": body["head"]}, "base": {"ref": body["base"]}}
        state.pulls.append(pull)
        return web.json_response(pull, status=201)

    app = web.Application()
    app.router.add_route("*", "/repos/{owner}/{name}/pulls", pulls)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    monkeypatch.setenv("GITHUB_API_URL", state.url)
    yield state
    await runner.cleanup()


async def test_the_pull_request_request_is_exact_and_reused(github: FakeGitHub,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    args = PullArgs(repo=GITHUB_URL + ".git", branch="shepherd/slo-checkout-1234abcd", base="main",
                    title="SLO: checkout availability 99.9% over 30d", body="Recording rules.\n")
    opened = await open_pull_request.fn(args)
    assert opened.problem is None and opened.created
    assert (opened.number, opened.url) == (1, "https://github.com/acme/slo-rules/pull/1")
    query = {"head": "acme:shepherd/slo-checkout-1234abcd", "state": "open"}
    auth, accept = f"Bearer {TOKEN}", "application/vnd.github+json"
    assert github.requests == [
        {"method": "GET", "path": "/repos/acme/slo-rules/pulls", "query": query, "auth": auth, "accept": accept,
         "json": None},
        {"method": "POST", "path": "/repos/acme/slo-rules/pulls", "query": {}, "auth": auth, "accept": accept,
         "json": {"title": "SLO: checkout availability 99.9% over 30d", "head": "shepherd/slo-checkout-1234abcd",
                  "base": "main", "body": "Recording rules.\n"}},
    ]
    again = await open_pull_request.fn(args)  # redelivered: finds the open PR, opens no second one
    assert (again.number, again.url, again.created) == (1, opened.url, False)
    assert [r["method"] for r in github.requests] == ["GET", "POST", "GET"] and len(github.pulls) == 1


async def test_github_refusals_are_reported_without_the_token(github: FakeGitHub,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "wrong-token")
    opened = await open_pull_request.fn(PullArgs(repo=GITHUB_URL, branch="b", base="main", title="t", body="b"))
    assert opened.url is None and opened.problem is not None
    assert "(401): Bad credentials" in opened.problem and "wrong-token" not in opened.problem
    monkeypatch.delenv("GITHUB_TOKEN")
    unset = await open_pull_request.fn(PullArgs(repo=GITHUB_URL, branch="b", base="main", title="t", body="b"))
    assert unset.problem == "GITHUB_TOKEN is not set" and unset.url is None


# -- whole runs ----------------------------------------------------------------------------


@pytest.fixture
def run_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in ("PROMETHEUS_URL", "PROMETHEUS_RULES_DIR", "SHEPHERD_SLO_MAX_REPLANS", "GITHUB_TOKEN",
                 "GITHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)
    return settings


async def approve(client: ShepherdClient, redis: Redis, run_id: str) -> tuple[list[str], dict]:
    gate = await wait_for_gate(client, run_id, timeout=WAIT)
    await client.decide(run_id, gate["key"], user="bob", approve=True, comment="lgtm")
    run, result = await finish(client, redis, run_id)
    return run.notes, result


@needs_promtool
async def test_a_run_pushes_the_rules_branch_to_a_local_origin(run_settings: Settings, client: ShepherdClient,
                                                               worker, redis: Redis, repos: Repos) -> None:
    run_id = await client.start("slo-setup", {"service": "checkout", "target": 99.9, "repo": str(repos.origin)},
                                requester="alice")
    notes, result = await approve(client, redis, run_id)
    branch = branch_name("checkout", f"{run_id}:repo")
    assert result["branch"] == branch and result["pull_request"] is None
    assert result["applied_to"] is None  # no rules directory configured: the branch is where the rules went
    rules = git("show", f"{branch}:rules/slo-checkout-availability.yml", cwd=repos.origin)
    assert "alert: SLOErrorBudgetBurn1h5m" in rules
    assert "rule_files:" in git("show", f"{branch}:rules/slo-checkout-availability.test.yml", cwd=repos.origin)
    message = git("log", "-1", "--format=%an <%ae>%n%B", branch, cwd=repos.origin)
    assert message.startswith("Shepherd <shepherd@localhost>\nSLO: checkout availability 99.9% over 30d\n")
    assert f"Four-eyes review approved by bob; Shepherd run {run_id}." in message
    commit = git("rev-parse", branch, cwd=repos.origin)
    assert (f"Pushed branch `{branch}` to {repos.origin}: commit {commit[:12]} adds "
            "`rules/slo-checkout-availability.yml`, `rules/slo-checkout-availability.test.yml`.") in notes
    assert any(n.startswith(f"No pull request: {repos.origin} is not on github.com. Open a merge request from "
                            f"`{branch}` into `main`") for n in notes), notes
    assert not any("pull request #" in n or "Not applied: PROMETHEUS_RULES_DIR" in n for n in notes), notes


@needs_promtool
async def test_a_github_repo_gets_a_pull_request(run_settings: Settings, client: ShepherdClient, worker,
                                                 redis: Redis, repos: Repos, github: FakeGitHub,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    map_github_to(repos.origin, repos.home)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    run_id = await client.start("slo-setup", {"service": "checkout", "target": 99.9, "repo": GITHUB_URL,
                                              "rules_path": "prometheus/slo"}, requester="alice")
    notes, result = await approve(client, redis, run_id)
    branch = branch_name("checkout", f"{run_id}:repo")
    assert result["branch"] == branch
    assert result["pull_request"] == "https://github.com/acme/slo-rules/pull/1"
    git("cat-file", "-e", f"{branch}:prometheus/slo/slo-checkout-availability.yml", cwd=repos.origin)
    [post] = [r for r in github.requests if r["method"] == "POST"]
    assert post["path"] == "/repos/acme/slo-rules/pulls"
    assert post["json"]["head"] == branch and post["json"]["base"] == "main"
    assert post["json"]["title"] == "SLO: checkout availability 99.9% over 30d"
    assert "Four-eyes review approved by bob" in post["json"]["body"]
    assert "Opened pull request #1: https://github.com/acme/slo-rules/pull/1" in notes
    assert TOKEN not in json.dumps(notes) and TOKEN not in json.dumps(result)


@needs_promtool
async def test_without_a_token_no_pr_is_claimed_and_both_targets_are_applied(
        run_settings: Settings, client: ShepherdClient, worker, redis: Redis, repos: Repos, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    map_github_to(repos.origin, repos.home)
    rules_dir = tmp_path / "prom-rules"
    rules_dir.mkdir()
    monkeypatch.setenv("PROMETHEUS_RULES_DIR", str(rules_dir))
    run_id = await client.start("slo-setup", {"service": "checkout", "target": 99.9, "repo": GITHUB_URL},
                                requester="alice")
    notes, result = await approve(client, redis, run_id)
    branch = branch_name("checkout", f"{run_id}:repo")
    assert result["branch"] == branch and result["pull_request"] is None
    assert result["applied_to"] == str(rules_dir / "slo-checkout-availability.yml")  # both: directory and branch
    assert (rules_dir / "slo-checkout-availability.yml").read_text() == \
        git("show", f"{branch}:rules/slo-checkout-availability.yml", cwd=repos.origin) + "\n"
    [no_pr] = [n for n in notes if n.startswith("No pull request opened")]
    assert no_pr == ("No pull request opened: GITHUB_TOKEN is not set (set GITHUB_TOKEN to have Shepherd open it). "
                     f"Open it at https://github.com/acme/slo-rules/compare/main...{branch}?expand=1 or with "
                     f"`gh pr create --repo acme/slo-rules --base main --head {branch}`.")
    assert not any("pull request #" in n for n in notes)
