"""``promtool``: validate rule files and run their unit tests, from argument lists.

promtool is the reference for what Prometheus will accept, so generated rules are checked with it
rather than with a re-implementation. The binary is ``PROMTOOL`` (a path) or ``promtool`` on PATH;
when it is missing, ``PromtoolMissing`` says so and how to install it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from pydantic import BaseModel

INSTALL_HINT = "install the Debian/Ubuntu package `prometheus` (apt-get install prometheus) or set PROMTOOL"


class PromtoolMissing(Exception):
    """promtool is not installed where this worker runs."""


class PromtoolResult(BaseModel):
    """What one promtool run said: ``ok``, the rules it counted, and each failure line."""

    ok: bool
    available: bool = True
    """False when promtool itself could not be found (``failures`` says why)."""
    command: list[str]
    rules: int | None = None
    failures: list[str] = []
    output: str = ""


def find_promtool() -> str:
    """The promtool binary to run, or ``PromtoolMissing``."""
    configured = os.environ.get("PROMTOOL")
    if configured:
        if not (Path(configured).is_file() and os.access(configured, os.X_OK)):
            raise PromtoolMissing(f"PROMTOOL={configured} is not an executable file")
        return configured
    found = shutil.which("promtool")
    if found is None:
        raise PromtoolMissing(f"promtool is not installed on this worker: {INSTALL_HINT}")
    return found


def _run(args: list[str], cwd: Path | None, timeout: float) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    command = [find_promtool(), *args]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    return command, done


def _failures(output: str) -> list[str]:
    """The lines after promtool's FAILED marker (its error report), without blank lines."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if "FAILED" in line), None)
    if start is None:
        return []
    return [line.strip() for line in lines[start + 1:] if line.strip()]


def check_rules(*files: Path, timeout: float = 60) -> PromtoolResult:
    """``promtool check rules FILE...``: syntax, PromQL and rule-name validity."""
    command, done = _run(["check", "rules", *(str(f) for f in files)], None, timeout)
    output = (done.stdout + done.stderr).strip()
    counts = [int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", output)]
    return PromtoolResult(ok=done.returncode == 0, command=command, rules=sum(counts) if counts else None,
                          failures=_failures(output) if done.returncode else [], output=output)


def test_rules(test_file: Path, timeout: float = 300) -> PromtoolResult:
    """``promtool test rules FILE``, run in the file's directory so its ``rule_files`` resolve."""
    command, done = _run(["test", "rules", test_file.name], test_file.parent, timeout)
    output = (done.stdout + done.stderr).strip()
    return PromtoolResult(ok=done.returncode == 0, command=command,
                          failures=_failures(output) if done.returncode else [], output=output)


test_rules.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, despite its name
