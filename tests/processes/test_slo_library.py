"""The process library's foundation: built-in modules, custom directories and entry-point plug-ins.

Custom processes come from ``SHEPHERD_PROCESSES_PATH`` directories or the ``shepherd.processes``
entry-point group of installed distributions; both are exercised here with real files (a
distribution is a ``.dist-info`` directory on ``sys.path``, which is what pip installs).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.errors import PluginError, ProcessDefinitionError
from engine.registry import ENTRY_POINT_GROUP, PROCESSES
from shepherd.discovery import load_processes
from tests.helpers import ROOT

PLUGIN = textwrap.dedent('''
    """A plug-in process shipped by another package."""
    from pydantic import BaseModel, Field

    from engine import Context, process


    class Inputs(BaseModel):
        name: str = Field(description="who to greet")


    class Greeting(BaseModel):
        text: str = Field(description="the greeting")


    @process("{id}", title="Plug-in greeting", inputs=Inputs, positional=["name"], outputs=Greeting)
    async def greet(inputs: Inputs, ctx: Context) -> Greeting:
        """Greet someone, from a plug-in."""
        return Greeting(text=f"hello {{inputs.name}}")
''')


def make_distribution(root: Path, module: str, process_id: str, *, broken: bool = False) -> None:
    """What ``pip install`` leaves behind: the module and a dist-info with an entry point."""
    source = "raise RuntimeError('plug-in exploded on import')\n" if broken else PLUGIN.format(id=process_id)
    (root / f"{module}.py").write_text(source)
    info = root / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{process_id} = {module}\n")


@pytest.fixture
def isolated_registry() -> None:
    before = dict(PROCESSES)
    yield
    PROCESSES.clear()
    PROCESSES.update(before)


def test_every_builtin_module_registers_its_process() -> None:
    registry = load_processes()
    builtin = {d.id: d.module for d in registry.values() if d.module.startswith("processes.")}
    assert builtin["slo-setup"] == "processes.slo.setup" and builtin["slo-review"] == "processes.slo.review"
    assert registry["slo-setup"].outputs is not None and registry["slo-setup"].outputs.__name__ == "SLOSetupResult"


def test_entry_point_plugins_are_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        isolated_registry: None) -> None:
    make_distribution(tmp_path, "shepherd_greet_plugin", "plugin-greet")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = load_processes()
    assert registry["plugin-greet"].module == "shepherd_greet_plugin"
    assert registry["plugin-greet"].outputs.__name__ == "Greeting"


def test_a_broken_entry_point_plugin_stops_the_load_and_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 isolated_registry: None) -> None:
    """Issue 11 §7: a worker must not start without a plug-in it is expected to have (tests/test_plugins.py)."""
    make_distribution(tmp_path, "shepherd_broken_plugin", "plugin-broken", broken=True)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match=r"could not load process plug-in entry point 'plugin-broken' "
                                          r"\(shepherd_broken_plugin\): RuntimeError: plug-in exploded on import"):
        load_processes()
    assert "plugin-broken" not in PROCESSES


def test_a_processes_path_directory_is_loaded_and_a_bad_entry_is_named(tmp_path: Path,
                                                                      isolated_registry: None) -> None:
    (tmp_path / "greet_here.py").write_text(PLUGIN.format(id="path-greet"))
    (tmp_path / "_helper.py").write_text("raise RuntimeError('helpers are not process modules')\n")
    assert load_processes(str(tmp_path))["path-greet"].title == "Plug-in greeting"
    with pytest.raises(ProcessDefinitionError, match="SHEPHERD_PROCESSES_PATH entry '/nonexistent' is not a dir"):
        load_processes("/nonexistent")


def test_the_terminal_lists_and_documents_plugins(tmp_path: Path) -> None:
    make_distribution(tmp_path, "shepherd_cli_plugin", "plugin-cli")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{tmp_path}:{ROOT}", "HOME": str(tmp_path)}
    listed = subprocess.run([sys.executable, "-m", "shepherd.cli", "processes"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert "plugin-cli" in listed.stdout and "slo-setup" in listed.stdout, listed.stderr
    shown = subprocess.run([sys.executable, "-m", "shepherd.cli", "processes", "plugin-cli"], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert shown.stdout.startswith("# `plugin-cli` — Plug-in greeting\n")
    assert "| `name` | text | required | who to greet |" in shown.stdout
    assert "| `text` | text | the greeting |" in shown.stdout
    assert "/run plugin-cli <name>" in shown.stdout
