"""Running a command-line tool a process relies on: find it, run it from an argument list with a
timeout, and when it is missing say so with the exact command to run by hand.

Why: slo-setup checks rules with ``promtool``; the coming processes run ``terraform``,
``helm``, ``kubectl``, ``trivy`` and the like. Each needs the same three things, and the same
care: never a shell string (arguments may hold what a person typed), always a timeout, and a
worker without the tool must not fail the step with a traceback but hand the person the command
(``ToolMissing.by_hand``) and how to install the tool. Parsing the output stays with each tool's
module (``integrations.promtool``), which knows its format.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel


class ToolMissing(Exception):
    """The tool is not installed where this worker runs; ``by_hand`` is the command a person can run."""

    def __init__(self, message: str, command: list[str] | None = None) -> None:
        super().__init__(message)
        self.command = command or []

    @property
    def by_hand(self) -> str:
        """The command, quoted for a POSIX shell (for a person to paste, never run by us)."""
        return shlex.join(self.command)


class ToolRun(BaseModel):
    """One finished run: the command as run, its exit code and its combined output."""

    command: list[str]
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass(frozen=True)
class Tool:
    """A tool by its program name, the variable that may point at its binary, and how to install it."""

    name: str
    env_var: str
    install_hint: str
    missing: type[ToolMissing] = ToolMissing
    """The exception raised when it is not found (a subclass, so callers can catch their own tool)."""

    def find(self, args: list[str] | None = None) -> str:
        """The binary to run: ``$ENV_VAR`` when set (it must be executable), else ``name`` on PATH."""
        by_hand = [self.name, *(args or [])]
        configured = os.environ.get(self.env_var)
        if configured:
            if not (Path(configured).is_file() and os.access(configured, os.X_OK)):
                raise self.missing(f"{self.env_var}={configured} is not an executable file", by_hand)
            return configured
        found = shutil.which(self.name)
        if found is None:
            raise self.missing(f"{self.name} is not installed on this worker: {self.install_hint}", by_hand)
        return found

    def run(self, args: list[str], *, timeout: float, cwd: Path | None = None) -> ToolRun:
        """Run the tool with ``args`` (no shell). ``subprocess.TimeoutExpired`` after ``timeout``
        seconds (the child is killed); ``missing`` when the tool cannot be found."""
        command = [self.find(args), *args]
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
        return ToolRun(command=command, returncode=done.returncode, output=(done.stdout + done.stderr).strip())
