"""A run's code hash covers the helper modules its process imports, not only the process module."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from engine.code_hash import process_modules
from engine.registry import ProcessDef, get_process
from shepherd.discovery import load_processes


@pytest.fixture
def package(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "hashpkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "sub" / "__init__.py").write_text("")
    (root / "flow.py").write_text("from hashpkg import helper\nfrom .sub.steps import STEP\nimport json\n")
    (root / "helper.py").write_text("VALUE = 1\n")
    (root / "sub" / "steps.py").write_text("from ..helper import VALUE\nSTEP = VALUE\n")
    (root / "unrelated.py").write_text("OTHER = 1\n")
    sys.path.insert(0, str(tmp_path))
    importlib.import_module("hashpkg.flow")
    importlib.import_module("hashpkg.unrelated")
    yield root
    sys.path.remove(str(tmp_path))
    for name in [m for m in sys.modules if m.split(".")[0] == "hashpkg"]:
        del sys.modules[name]


def run_hash() -> str:
    """What ``start`` records for a process declared in hashpkg.flow."""
    definition = ProcessDef(id="hashed", title="Hashed", fn=print, inputs=BaseModel, positional=[],
                            module="hashpkg.flow")
    return definition.code_hash()


def edit(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 1_000_000, before + 1_000_000))  # a new stamp even on a coarse clock


def test_the_hash_covers_imported_helpers_of_the_same_package(package: Path) -> None:
    assert sorted(process_modules("hashpkg.flow")) == ["hashpkg", "hashpkg.flow", "hashpkg.helper",
                                                       "hashpkg.sub", "hashpkg.sub.steps"]
    first = run_hash()
    edit(package / "unrelated.py", "OTHER = 2\n")  # not imported by the process: not its code
    assert run_hash() == first
    edit(package / "sub" / "steps.py", "from ..helper import VALUE\nSTEP = VALUE + 1\n")  # a relative import
    second = run_hash()
    assert second != first
    edit(package / "helper.py", "VALUE = 2\n")
    assert run_hash() not in (first, second)


def test_a_shipped_process_hashes_its_helpers() -> None:
    load_processes()
    modules = process_modules(get_process("incident-response").module)
    assert {"processes.incident.response", "processes.incident.tasks", "processes.incident.models"} <= set(modules)
    assert not any(m.startswith(("engine", "integrations")) for m in modules)


def test_the_hash_covers_the_templates_of_its_packages(package: Path) -> None:
    """A postmortem template is code the run executes: editing it changes the hash; a template of
    a package the process does not use does not."""
    (package / "templates").mkdir()
    (package / "templates" / "report.md.j2").write_text("# {{ title }}\n")
    (package / "unused").mkdir()
    (package / "unused" / "templates").mkdir()
    (package / "unused" / "templates" / "other.md.j2").write_text("x\n")
    first = run_hash()
    edit(package / "unused" / "templates" / "other.md.j2", "y\n")
    assert run_hash() == first
    edit(package / "templates" / "report.md.j2", "# {{ title }}!\n")
    assert run_hash() != first


def test_a_shipped_process_hashes_its_templates() -> None:
    from engine.code_hash import templates

    load_processes()
    found = templates(process_modules(get_process("incident-response").module))
    assert "processes.incident/templates/postmortem.md.j2" in found
