"""The rules as a branch in the rules repository, and a GitHub pull request where a token is set.

The git work is ``processes.common.git_workspace`` (a temporary clone, never anyone's working tree;
every safety switch on). What is slo-setup's own is here: the branch is named from the task's
idempotency key, so a redelivered task finds the branch it pushed before and, when the files are
already there, pushes nothing.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from pydantic import BaseModel

from engine import TaskContext, task
from engine.failpoints import failpoint
from processes.common.git_workspace import GitFailed, PullOpened, Workspace, open_or_reuse_pull, redact
from processes.common.workspace import OutsideWorkspace


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


def branch_name(service: str, idempotency_key: str) -> str:
    """``shepherd/slo-<service>-<8 hex>``: the same for every delivery of one task."""
    return f"shepherd/slo-{service}-{hashlib.sha256(idempotency_key.encode()).hexdigest()[:8]}"


async def _push_branch(args: RepoArgs, branch: str, work: Path) -> RepoPushed:
    result = RepoPushed(repo=redact(args.repo), branch=branch)
    try:  # checked where it was typed; again here, right before git sees it
        workspace = await Workspace.clone(args.repo, work)
    except ValueError as exc:
        result.problem = f"the repository was refused ({exc})"
        return result
    result.base = workspace.base
    exists = await workspace.branch(branch)
    for name, content in args.files.items():
        result.paths.append(workspace.write(f"{args.rules_path}/{name}", content))
    commit = await workspace.commit(result.paths, args.message)
    if commit is None:
        result.commit = await workspace.head()
        if exists:
            result.unchanged = True
        else:
            result.problem = f"the rules are already in {result.base} exactly as generated: there is nothing to push"
        return result
    result.commit = commit
    await workspace.push(branch)
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


@task(name="slo.open_pull_request", aliases=["processes._slo.repo.open_pull_request"],
      retries=2, backoff=2.0, timeout=120)
async def open_pull_request(args: PullArgs) -> PullOpened:
    """Open (or reuse) the GitHub pull request for the pushed branch."""
    opened = await open_or_reuse_pull(args.repo, branch=args.branch, base=args.base, title=args.title,
                                      body=args.body)
    if opened.problem is None:
        failpoint("slo.pull_request_opened")
    return opened
