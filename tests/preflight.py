"""Before any test runs: the outside tools the selected tests need, or one line saying what is missing.

Some suites drive real programs (Chromium for the console, Prometheus and promtool for slo-setup).
On a machine without them the honest answer is neither a wall of fixture errors nor a quiet skip
counted as a pass: the run stops before it starts and names what to install, or how to leave
those tests out. Only the tests actually selected count, so ``pytest tests/test_engine.py`` needs
nothing extra.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Tool:
    marker: str
    program: str
    install: str

    def present(self) -> bool:
        if os.sep in self.program:
            return Path(self.program).exists()
        return shutil.which(self.program) is not None


TOOLS = (
    Tool("browser", os.environ.get("SHEPHERD_CHROMIUM", "/usr/bin/chromium"),
         "apt-get install chromium fonts-noto-color-emoji"),
    Tool("prometheus", "prometheus", "apt-get install prometheus"),
    Tool("promtool", "promtool", "apt-get install prometheus"),
)


def missing_tools(items: list[pytest.Item]) -> list[Tool]:
    wanted = {mark.name for item in items for mark in item.iter_markers()}
    return [tool for tool in TOOLS if tool.marker in wanted and not tool.present()]


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = missing_tools(items)
    if not missing:
        return
    names = ", ".join(Path(tool.program).name for tool in missing)
    installs = "; ".join(dict.fromkeys(tool.install for tool in missing))
    markers = " and ".join(f"not {m}" for m in dict.fromkeys(tool.marker for tool in missing))
    pytest.exit(f"missing {names}: {installs} (.ci/run does), or leave those tests out with "
                f"PYTEST_ARGS='-m \"{markers}\"'", returncode=4)
