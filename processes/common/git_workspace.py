"""A git workspace for processes that change a repository: clone (or open) it, branch, commit,
push, and open or reuse the pull request.

Why one place: slo-setup pushes rules, and the coming processes push pipelines, Terraform modules,
charts and manifests the same way; each copy of this code would be one more place to forget a
safety switch. The rules, for every caller:

- git runs from argument lists, never through a shell, in a temporary clone: never in anyone's
  working tree (a local path is cloned like a URL and the branch pushed back to it);
- hooks, prompts, signing and the ``ext::`` transport are off for every call, only the allowed
  transports are on (``GIT_ALLOW_PROTOCOL``), and git variables that would point git elsewhere
  are dropped from the environment;
- the repository is checked against the allow-list (``processes.common.repositories``) right
  before the clone, however it was checked when typed;
- files are written only inside the clone (``processes.common.workspace``: a committed symlink
  cannot take a write elsewhere);
- output is returned with credentials removed from URLs (a token in a clone URL must not reach
  the thread).
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from integrations.github import GitHub, GitHubError, GitHubSettings, github_repository
from processes.common.repositories import check_repository, git_protocol_env
from processes.common.workspace import write_inside

AUTHOR = ("Shepherd", "shepherd@localhost")
GIT_TIMEOUT = 120.0
_SAFE = ["-c", "protocol.ext.allow=never", "-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false"]
_USERINFO = re.compile(r"(://)[^/@\s]+@")
_KEEP = {"GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH", "GIT_CONFIG_GLOBAL"}


class GitFailed(Exception):
    """A git command failed; the message has its arguments and output with credentials removed."""


def redact(text: str) -> str:
    """URLs without their user:password part."""
    return _USERINFO.sub(r"\1", text)


def git_env() -> dict[str, str]:
    """The worker's environment without git variables that would point git at another repository."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in _KEEP}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="", SSH_ASKPASS="", GIT_CONFIG_NOSYSTEM="1", LC_ALL="C",
               **git_protocol_env())
    return env


async def git(*args: str, cwd: Path | None = None, check: bool = True) -> tuple[int, str]:
    """Run git with an argument list; return (exit code, stdout+stderr)."""
    proc = await asyncio.create_subprocess_exec(
        "git", *_SAFE, *args, cwd=cwd, env=git_env(), stdin=asyncio.subprocess.DEVNULL,
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


@dataclass
class Workspace:
    """A clone the worker owns: ``base`` is the origin's default branch (None for an empty repository)."""

    path: Path
    base: str | None

    @classmethod
    async def clone(cls, repo: str, into: Path) -> Workspace:
        """Clone ``repo`` (checked against the allow-list first: ValueError says why not) into ``into``."""
        await git("clone", "--quiet", "--no-tags", "--", check_repository(repo), str(into))
        return await cls.open(into)

    @classmethod
    async def open(cls, path: Path) -> Workspace:
        """A workspace over a clone that already exists (made by ``clone``, in this task)."""
        return cls(path, await _default_branch(path))

    async def branch(self, name: str) -> bool:
        """Check out ``name``: the origin's branch when it exists (returns True), else a new one from ``base``."""
        code, _ = await git("rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{name}", cwd=self.path,
                            check=False)
        exists = code == 0
        start = [f"refs/remotes/origin/{name}"] if exists else ([f"refs/remotes/origin/{self.base}"]
                                                                if self.base else [])
        await git("checkout", "--quiet", "-B", name, *start, cwd=self.path)
        return exists

    def write(self, relative: str, content: str) -> str:
        """Write a file inside the clone (never through a symlink out of it); its path, relative."""
        return write_inside(self.path, relative, content)

    async def commit(self, paths: list[str], message: str) -> str | None:
        """Commit ``paths`` as Shepherd; the new commit, or None when they were already exactly so."""
        await git("add", "--", *paths, cwd=self.path)
        _, staged = await git("status", "--porcelain", "--", *paths, cwd=self.path)
        if not staged:
            return None
        await git("-c", f"user.name={AUTHOR[0]}", "-c", f"user.email={AUTHOR[1]}", "commit", "--quiet",
                  "--no-verify", "-m", message, cwd=self.path)
        return await self.head()

    async def head(self) -> str:
        return (await git("rev-parse", "HEAD", cwd=self.path))[1]

    async def push(self, branch: str) -> None:
        await git("push", "--quiet", "--no-verify", "origin", f"refs/heads/{branch}:refs/heads/{branch}",
                  cwd=self.path)


async def _default_branch(work: Path) -> str | None:
    """The origin's default branch (its HEAD), or None for an empty repository."""
    code, ref = await git("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD", cwd=work, check=False)
    if code == 0 and ref.startswith("refs/remotes/origin/"):
        return ref.removeprefix("refs/remotes/origin/")
    code, head = await git("symbolic-ref", "--quiet", "--short", "HEAD", cwd=work, check=False)
    code_v, _ = await git("rev-parse", "--verify", "--quiet", "HEAD", cwd=work, check=False)
    return head if code == 0 and code_v == 0 else None


class PullOpened(BaseModel):
    """The pull request for a pushed branch, or why there is none (``problem``)."""

    number: int | None = None
    url: str | None = None
    created: bool = False
    problem: str | None = None


async def open_or_reuse_pull(repo: str, *, branch: str, base: str, title: str, body: str) -> PullOpened:
    """Open the GitHub pull request for ``branch``, or find the one already open for it."""
    where = github_repository(repo)
    if where is None:
        return PullOpened(problem=f"{redact(repo)} is not a github.com repository")
    settings = GitHubSettings()
    if not settings.configured:
        return PullOpened(problem="GITHUB_TOKEN is not set")
    try:
        pull = await GitHub(settings).open_pull(*where, branch=branch, base=base, title=title, body=body)
    except GitHubError as exc:
        return PullOpened(problem=str(exc))
    return PullOpened(number=pull.number, url=pull.url, created=pull.created)
