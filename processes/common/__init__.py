"""Building blocks the process packages share: ``repositories`` (which repositories may reach
git), ``workspace`` (writing inside a clone without leaving it) and ``git_workspace`` (clone,
branch, commit, push, and open or reuse the pull request). Tools a process runs go through
``integrations.tools``; documents are rendered with ``processes.common.templates``."""
