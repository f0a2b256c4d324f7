"""A process's code hash: its module and every module of its own package that it imports.

Why: the hash is recorded at run creation so that a later non-deterministic replay can be
explained ("the code changed under this run"). Hashing the process module alone hid most
changes: incident-response's steps live in ``processes.incident.*``, so editing a helper
left the hash as it was. The closure followed here is the process module's imports,
transitively, restricted to its top-level package (``processes.*`` for shipped processes):
that is the code a replay runs, with the document templates of those packages (``templates/``).
The SDK (``engine``) and the integrations are left out; they
are versioned with Shepherd itself, and their behaviour is what the journal records.

A file is read and parsed once per (mtime, size), so a ``start`` pays a few ``stat`` calls.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class _Scanned:
    stamp: tuple[int, int]
    digest: str
    imports: tuple[str, ...]


_SCANNED: dict[str, _Scanned] = {}


def _imports(tree: ast.AST, package: str | None) -> list[str]:
    """Module names a module's import statements mention (``from a import b`` yields a and a.b)."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                try:
                    base = importlib.util.resolve_name("." * node.level + base, package)
                except (ImportError, ValueError):
                    continue
            names.append(base)
            names.extend(f"{base}.{alias.name}" for alias in node.names)
    return names


def _scan(path: str, package: str | None) -> _Scanned | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _SCANNED.get(path)
    if cached is not None and cached.stamp == stamp:
        return cached
    with open(path, "rb") as f:
        source = f.read()
    try:
        imports = tuple(_imports(ast.parse(source), package))
    except SyntaxError:
        imports = ()
    scanned = _Scanned(stamp, hashlib.sha256(source).hexdigest(), imports)
    _SCANNED[path] = scanned
    return scanned


def process_modules(module_name: str) -> dict[str, str]:
    """The loaded modules the process module pulls in from its own package: name -> source file."""
    top = module_name.split(".", 1)[0]
    found: dict[str, str] = {}
    todo = [module_name]
    while todo:
        name = todo.pop()
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None)
        if name in found or not path or not path.endswith(".py"):
            continue
        found[name] = path
        todo.extend(name.rsplit(".", depth)[0] for depth in range(1, name.count(".") + 1))  # its packages run too
        scanned = _scan(path, getattr(module, "__package__", None))
        for imported in scanned.imports if scanned else ():
            if imported.split(".", 1)[0] == top and imported not in found:
                todo.append(imported)
    return found


def templates(modules: dict[str, str]) -> dict[str, str]:
    """The document templates of the process's packages (``<package>/templates/``, any depth), as
    ``package/templates/relative path -> file``: the process renders them into its artifacts, so a
    changed template is changed code too. Named by package, not by path, like the modules: the
    hash is the same wherever Shepherd is checked out."""
    found: dict[str, str] = {}
    for name, path in modules.items():
        if os.path.basename(path) == "__init__.py":
            folder = os.path.join(os.path.dirname(path), "templates")
            for root, _, files in os.walk(folder):
                for file in files:
                    full = os.path.join(root, file)
                    found[f"{name}/templates/{os.path.relpath(full, folder)}"] = full
    return found


def code_hash(module_name: str) -> str:
    """A short hash over the process module, its helper modules and their packages' templates
    (see the module docstring)."""
    digest = hashlib.sha256()
    modules = process_modules(module_name)
    for name, path in sorted(modules.items()):
        scanned = _scan(path, None)
        digest.update(f"{name}\0{scanned.digest if scanned else ''}\n".encode())
    for name, path in sorted(templates(modules).items()):
        with open(path, "rb") as f:
            digest.update(f"{name}\0{hashlib.sha256(f.read()).hexdigest()}\n".encode())
    return digest.hexdigest()[:12]
