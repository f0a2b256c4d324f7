"""The layers, as Python sees them: each module of ``state/`` imports on its own, in a fresh
interpreter, and pulls in nothing of ours but ``state`` itself (import-linter checks the static
graph in ``make lint``; this checks the import actually works, cycles included)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import state
from tests.helpers import ROOT

OURS = ("bot", "engine", "integrations", "processes", "sandbox", "shepherd", "state")
STATE_MODULES = sorted(info.name for info in pkgutil.iter_modules(state.__path__, prefix="state."))


def test_state_has_modules_to_check() -> None:
    assert "state.store" in STATE_MODULES and "state.journal" in STATE_MODULES


@pytest.mark.parametrize("module", STATE_MODULES)
def test_a_state_module_imports_alone_and_pulls_in_only_state(module: str) -> None:
    probe = (f"import importlib, json, sys; importlib.import_module({module!r}); "
             f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {OURS!r})))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"import {module} failed:\n{done.stderr}"
    loaded = json.loads(done.stdout)
    assert [m for m in loaded if not m.startswith("state")] == [], f"{module} pulled in {loaded}"


def test_the_engine_loads_no_process_library_it_is_not_handed() -> None:
    """engine/ never imports processes/, bot/ or sandbox/: the root hands discovery its packages."""
    probe = ("import json, sys; import engine.worker, engine.client, engine.sweeper; "
             "from engine.registry import load_processes; load_processes(); "
             "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'bot', 'processes', 'sandbox', "
             "'shepherd'})))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_the_root_hands_the_engine_the_shipped_library() -> None:
    from shepherd.discovery import load_processes

    assert {"incident-response", "slo-setup"} <= set(load_processes())
