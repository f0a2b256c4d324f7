"""The layers, as Python sees them: each module of ``state/`` imports on its own, in a fresh
interpreter, and pulls in nothing of ours but ``state`` itself (import-linter checks the static
graph in ``make lint``; this checks the import actually works, cycles included)."""

from __future__ import annotations

import ast
import json
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

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


def _engine_internals_used(path: Path) -> list[str]:
    """``engine.store`` / ``self.engine.redis`` ...: the bot reaching past ShepherdClient's API."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not (isinstance(node, ast.Attribute) and node.attr in ("store", "redis", "queue")):
            continue
        owner = node.value
        name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
        if name == "engine":
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} engine.{node.attr}")
    return found


def test_the_bot_reads_runs_through_the_client_api_only() -> None:
    """The bot holds a ShepherdClient named ``engine``; its store and Redis handle are the engine's."""
    used = [hit for path in sorted((ROOT / "bot").rglob("*.py")) for hit in _engine_internals_used(path)]
    assert used == []


LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("shepherd", "bot", "sandbox", "processes", "integrations", "engine", "state")


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    assert LINT_IMPORTS.exists(), "lint-imports is missing: install the test extra (pip install -e '.[test]')"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize(("module", "line", "broken"), [
    ("engine/client.py", "import bot.app", "engine is not allowed to import bot"),
    ("state/keys.py", "import engine.journal", "state is not allowed to import engine"),
    ("processes/incident/stats.py", "import sandbox.server", "processes is not allowed to import sandbox"),
    ("bot/home.py", "import state.store", "bot is not allowed to import state.store"),
])
def test_the_contracts_break_on_an_upward_import(tmp_path: Path, module: str, line: str, broken: str) -> None:
    """The contracts in pyproject.toml hold for this tree, and catch an arrow pointing up."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    kept = _lint_imports(tmp_path)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    done = _lint_imports(tmp_path)
    assert done.returncode != 0 and broken in done.stdout, done.stdout + done.stderr
