"""Process plug-ins that cannot be loaded stop the worker at start (issue 11 §7)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import PluginError
from engine.registry import PROCESSES, TASKS, unregister_module
from shepherd.discovery import load_processes
from tests.helpers import ROOT, worker_env

BROKEN = '''
from engine import task

@task(name="broken.step")
def step(x: str) -> str:
    return x

import integrations.no_such_module  # the plug-in's own bug
'''

FINE = '''
from pydantic import BaseModel
from engine import Context, process

class Inputs(BaseModel):
    pass

@process("{id}", title="{id}", inputs=Inputs)
async def flow(inputs: Inputs, ctx: Context) -> str:
    return "{id}"
'''


@pytest.fixture(autouse=True)
def forget_plugins() -> Iterator[None]:
    yield
    for name in ("shepherd_custom.broken", "shepherd_custom.same"):
        unregister_module(name)
        sys.modules.pop(name, None)


def run_worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shepherd.cli", "worker"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_a_plugin_file_that_fails_to_import_stops_the_worker_with_one_line(redis_url: str, tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "broken.py").write_text(BROKEN)
    done = run_worker(worker_env(redis_url, tmp_path / "data", processes_path=str(plugins)))
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"error: could not load process plug-in {plugins / 'broken.py'}: ModuleNotFoundError: "
        f"No module named 'integrations.no_such_module' at {plugins / 'broken.py'}:8"], done.stderr


def test_a_plugin_entry_point_that_fails_to_import_stops_the_worker(redis_url: str, tmp_path: Path) -> None:
    site = tmp_path / "site"
    dist = site / "shepherd_broken_ep-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shepherd-broken-ep\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[shepherd.processes]\nbroken = shepherd_broken_ep\n")
    (site / "shepherd_broken_ep.py").write_text("raise RuntimeError('missing setting FOO')\n")
    env = worker_env(redis_url, tmp_path / "data")
    env["PYTHONPATH"] = f"{ROOT}:{site}"
    done = run_worker(env)
    assert done.returncode != 0
    [line] = done.stderr.strip().splitlines()
    assert line == ("error: could not load process plug-in entry point 'broken' (shepherd_broken_ep): "
                    f"RuntimeError: missing setting FOO at {site / 'shepherd_broken_ep.py'}:1"), line


def test_in_process_a_failed_plugin_leaves_nothing_registered(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text(BROKEN)
    with pytest.raises(PluginError, match=r"No module named 'integrations\.no_such_module'"):
        load_processes(str(tmp_path))
    assert TASKS.find("broken.step") is None and "shepherd_custom.broken" not in sys.modules


def test_two_plugin_directories_with_the_same_file_name_are_an_error(tmp_path: Path) -> None:
    first, second = tmp_path / "team-a", tmp_path / "team-b"
    for directory, pid in ((first, "same-a"), (second, "same-b")):
        directory.mkdir()
        (directory / "same.py").write_text(FINE.replace("{id}", pid))
    with pytest.raises(PluginError) as raised:
        load_processes(f"{first}:{second}")
    assert str(raised.value) == (f"two process plug-ins are both named 'same.py': {first / 'same.py'} and "
                                 f"{second / 'same.py'} (plug-in modules are named by file name; rename one)")
    assert "same-a" in PROCESSES and "same-b" not in PROCESSES
