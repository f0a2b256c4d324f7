"""The rules as a branch in the rules repository, and a GitHub pull request where a token is set.

git runs from argument lists in a temporary clone, never in anyone's working tree: a local path is
cloned like a URL, the branch is pushed back to it. The branch is named from the task's idempotency
key, so a redelivered task finds the branch it pushed before and, when the files are already there,
pushes nothing. Hooks, prompts and the ``ext::`` transport are switched off for every git call, only
the allowed transports are on (``GIT_ALLOW_PROTOCOL``), the repository is checked against the
allow-list again before the clone, and files are written only inside the clone
(``processes._common``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from pathlib import Path

from pydantic import BaseModel

from engine import TaskContext, task
from engine.failpoints import failpoint
from integrations.github import GitHub, GitHubError, GitHubSettings, github_repository
from processes._common.repositories import check_repository, git_protocol_env
from processes._common.workspace import OutsideWorkspace, write_inside

AUTHOR = ("Shepherd", "shepherd@localhost")
GIT_TIMEOUT = 120.0
_SAFE = ["-c", "protocol.ext.allow=never", "-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false"]
_USERINFO = re.compile(r"(://)[^/@\s]+@")


class GitFailed(Exception):
    """A git command failed; the message has its arguments and output with credentials removed."""


class RepoArgs(BaseModel):
    repo: str
    rules_path: str
    service: str
    files: dict[str, str]
    """File name -> content, written under ``rules_path``."""
    message: str


class RepoPushed(BaseModel):
    """What the branch push did: ``unchanged`` when the branch already had exactly these files."""

    repo: str
    branch: str
    base: str | None = None
    commit: str | None = None
    paths: list[str] = []
    pushed: bool = False
    unchanged: bool = False
    problem: str | None = None


def redact(text: str) -> str:
    """URLs without their user:password part (a token in a clone URL must not reach the thread)."""
    return _USERINFO.sub(r"\1", text)


def branch_name(service: str, idempotency_key: str) -> str:
    """``shepherd/slo-<service>-<8 hex>``: the same for every delivery of one task."""
    return f"shepherd/slo-{service}-{hashlib.sha256(idempotency_key.encode()).hexdigest()[:8]}"


_KEEP = {"GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH", "GIT_CONFIG_GLOBAL"}


def _env() -> dict[str, str]:
    """The worker's environment without git variables that would point git at another repository."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in _KEEP}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="", SSH_ASKPASS="", GIT_CONFIG_NOSYSTEM="1", LC_ALL="C",
               **git_protocol_env())
    return env


async def git(*args: str, cwd: Path | None = None, check: bool = True) -> tuple[int, str]:
    """Run git with an argument list; return (exit code, stdout+stderr)."""
    proc = await asyncio.create_subprocess_exec(
        "git", *_SAFE, *args, cwd=cwd, env=_env(), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), GIT_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise GitFailed(redact(f"`git {' '.join(args)}` took longer than {GIT_TIMEOUT:g}s")) from None
    text = out.decode(errors="replace").strip()
    if check and proc.returncode:
        raise GitFailed(redact(f"`git {' '.join(args)}` failed ({proc.returncode}): {text[-600:]}"))
    return proc.returncode or 0, text


async def _default_branch(work: Path) -> str | None:
    """The origin's default branch (its HEAD), or None for an empty repository."""
    code, ref = await git("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD", cwd=work, check=False)
    if code == 0 and ref.startswith("refs/remotes/origin/"):
        return ref.removeprefix("refs/remotes/origin/")
    code, head = await git("symbolic-ref", "--quiet", "--short", "HEAD", cwd=work, check=False)
    code_v, _ = await git("rev-parse", "--verify", "--quiet", "HEAD", cwd=work, check=False)
    return head if code == 0 and code_v == 0 else None


async def _push_branch(args: RepoArgs, branch: str, work: Path) -> RepoPushed:
    result = RepoPushed(repo=redact(args.repo), branch=branch)
    try:  # checked where it was typed; again here, right before git sees it
        repo = check_repository(args.repo)
    except ValueError as exc:
        result.problem = f"the repository was refused ({exc})"
        return result
    await git("clone", "--quiet", "--no-tags", "--", repo, str(work))
    result.base = await _default_branch(work)
    code, _ = await git("rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{branch}", cwd=work, check=False)
    exists = code == 0
    start = [f"refs/remotes/origin/{branch}"] if exists else ([f"refs/remotes/origin/{result.base}"]
                                                              if result.base else [])
    await git("checkout", "--quiet", "-B", branch, *start, cwd=work)
    for name, content in args.files.items():  # a committed symlink must not take the files elsewhere
        result.paths.append(write_inside(work, f"{args.rules_path}/{name}", content))
    await git("add", "--", *result.paths, cwd=work)
    _, staged = await git("status", "--porcelain", "--", *result.paths, cwd=work)
    if not staged:
        _, result.commit = await git("rev-parse", "HEAD", cwd=work)
        if exists:
            result.unchanged = True
        else:
            result.problem = f"the rules are already in {result.base} exactly as generated: there is nothing to push"
        return result
    await git("-c", f"user.name={AUTHOR[0]}", "-c", f"user.email={AUTHOR[1]}", "commit", "--quiet",
              "--no-verify", "-m", args.message, cwd=work)
    _, result.commit = await git("rev-parse", "HEAD", cwd=work)
    await git("push", "--quiet", "--no-verify", "origin", f"refs/heads/{branch}:refs/heads/{branch}", cwd=work)
    failpoint("slo.branch_pushed")
    result.pushed = True
    return result


@task(name="slo.push_rules", aliases=["processes._slo.repo.push_rules"], retries=2, backoff=2.0, timeout=600)
async def push_rules(args: RepoArgs, tctx: TaskContext) -> RepoPushed:
    """Commit the rule files to ``shepherd/slo-<service>-<id>`` in a temporary clone and push it."""
    branch = branch_name(args.service, tctx.idempotency_key)
    with tempfile.TemporaryDirectory(prefix="shepherd-slo-repo-") as tmp:
        try:
            return await _push_branch(args, branch, Path(tmp) / "repo")
        except (GitFailed, OutsideWorkspace) as exc:
            return RepoPushed(repo=redact(args.repo), branch=branch, problem=redact(str(exc)))


class PullArgs(BaseModel):
    repo: str
    branch: str
    base: str
    title: str
    body: str


class PullOpened(BaseModel):
    number: int | None = None
    url: str | None = None
    created: bool = False
    problem: str | None = None


@task(name="slo.open_pull_request", aliases=["processes._slo.repo.open_pull_request"],
      retries=2, backoff=2.0, timeout=120)
async def open_pull_request(args: PullArgs) -> PullOpened:
    """Open (or reuse) the GitHub pull request for the pushed branch."""
    where = github_repository(args.repo)
    if where is None:
        return PullOpened(problem=f"{redact(args.repo)} is not a github.com repository")
    settings = GitHubSettings()
    if not settings.configured:
        return PullOpened(problem="GITHUB_TOKEN is not set")
    try:
        pull = await GitHub(settings).open_pull(*where, branch=args.branch, base=args.base, title=args.title,
                                                body=args.body)
    except GitHubError as exc:
        return PullOpened(problem=str(exc))
    failpoint("slo.pull_request_opened")
    return PullOpened(number=pull.number, url=pull.url, created=pull.created)

