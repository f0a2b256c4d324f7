"""``promtool``: validate rule files and run their unit tests, from argument lists.

promtool is the reference for what Prometheus will accept, so generated rules are checked with it
rather than with a re-implementation. The binary is ``PROMTOOL`` (a path) or ``promtool`` on PATH;
when it is missing, ``PromtoolMissing`` says so and how to install it (``integrations.tools`` finds
and runs it; this module knows promtool's commands and output).
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from integrations.tools import Tool, ToolMissing

INSTALL_HINT = "install the Debian/Ubuntu package `prometheus` (apt-get install prometheus) or set PROMTOOL"


class PromtoolMissing(ToolMissing):
    """promtool is not installed where this worker runs."""


PROMTOOL = Tool("promtool", env_var="PROMTOOL", install_hint=INSTALL_HINT, missing=PromtoolMissing)


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
    return PROMTOOL.find()


def _failures(output: str) -> list[str]:
    """The lines after promtool's FAILED marker (its error report), without blank lines."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if "FAILED" in line), None)
    if start is None:
        return []
    return [line.strip() for line in lines[start + 1:] if line.strip()]


def check_rules(*files: Path, timeout: float = 60) -> PromtoolResult:
    """``promtool check rules FILE...``: syntax, PromQL and rule-name validity."""
    done = PROMTOOL.run(["check", "rules", *(str(f) for f in files)], timeout=timeout)
    counts = [int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", done.output)]
    return PromtoolResult(ok=done.ok, command=done.command, rules=sum(counts) if counts else None,
                          failures=_failures(done.output) if not done.ok else [], output=done.output)


def test_rules(test_file: Path, timeout: float = 300) -> PromtoolResult:
    """``promtool test rules FILE``, run in the file's directory so its ``rule_files`` resolve."""
    done = PROMTOOL.run(["test", "rules", test_file.name], timeout=timeout, cwd=test_file.parent)
    return PromtoolResult(ok=done.ok, command=done.command,
                          failures=_failures(done.output) if not done.ok else [], output=done.output)


test_rules.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, despite its name
