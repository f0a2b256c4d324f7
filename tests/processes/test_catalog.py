"""The shipped processes are the ones processes/catalog.py lists (issue 11 §6 "Discovery")."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from engine.registry import PROCESSES, load_processes
from processes.catalog import CATALOG, shipped_modules
from tests.helpers import ROOT


def _declares_a_process(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                call = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(call, ast.Name) and call.id == "process":
                    return True
    return False


def test_the_registry_loads_the_catalog() -> None:
    load_processes()
    shipped = {d.module for d in PROCESSES.values() if d.module.startswith("processes.")}
    assert shipped == set(shipped_modules())
    assert {d.id for d in PROCESSES.values() if d.module.startswith("processes.")} >= {
        "incident-response", "incident-stats", "slo-setup", "slo-review"}


def test_every_module_that_declares_a_process_is_in_the_catalog() -> None:
    """A process module left out of the catalog would never be loaded: say so here, not in production."""
    declaring = {".".join(p.relative_to(ROOT).with_suffix("").parts)
                 for p in (ROOT / "processes").rglob("*.py") if _declares_a_process(p)}
    assert declaring == set(shipped_modules())


def test_each_domain_is_a_package_of_its_own_name() -> None:
    for domain in CATALOG:
        package = importlib.import_module(f"processes.{domain.name}")
        assert (package.__doc__ or "").strip(), f"processes/{domain.name}/__init__.py says what the domain holds"
        assert domain.modules and all(m.startswith(f"processes.{domain.name}.") for m in domain.modules), domain
        assert domain.summary.strip(), domain


def test_the_shelf_lists_each_domain_and_its_processes_with_one_line_each() -> None:
    from processes.shelf import render_shelf
    from shepherd.docs import builtin

    definitions = builtin(load_processes())
    shelf = render_shelf(definitions)
    assert [line for line in shelf.splitlines() if line.startswith("## ")] == [f"## {d.name}" for d in CATALOG]
    for definition in definitions:
        row = next(line for line in shelf.splitlines() if line.startswith(f"| [`{definition.id}`]"))
        assert definition.summary in row and f"(../docs/processes/{definition.id}.md)" in row
    only_incident = render_shelf([d for d in definitions if d.module.startswith("processes.incident.")])
    assert "## slo" not in only_incident and "## incident" in only_incident  # no empty domains on the shelf
