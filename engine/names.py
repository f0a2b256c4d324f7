"""Stable names for tasks and forms, and the old spellings that still find them.

Why: a journal outlives the code that wrote it. A run parked at a gate for a week
must still find its task and its form after a refactor moves their modules, so the
journal, the task queue and open asks refer to a chosen string (``incident.page_oncall``),
never to where the code happens to live.

The rules:

- A shipped process (``processes/``) names every task and form explicitly
  (``@task(name=...)``, ``@form(...)``); tests/test_names.py checks it.
- A quick script may leave the name out: a task is then named ``module.qualname`` and a
  form ``module:qualname``, as before names existed. Such a name breaks when the code moves.
- Every registered task and form also answers to its ``module.qualname`` (``module:qualname``
  for forms), so journals written before it had a name still replay, and to each of its
  ``aliases=``: list there the old path of a module you move, or an older name you retire.
- One name, one definition: registering a name (or alias) another module already holds is an
  error, not a silent replacement. Re-importing the same module replaces its own entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from engine.errors import ProcessDefinitionError

T = TypeVar("T")


@dataclass
class NameTable(Generic[T]):
    """The definitions of one kind ("task", "form") by stable name, and their aliases."""

    kind: str
    by_name: dict[str, T] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    """An old spelling -> the name it now stands for."""
    origins: dict[str, str] = field(default_factory=dict)
    """A name -> the module that registered it (to tell a re-import from a clash)."""

    def register(self, name: str, value: T, *, module: str, aliases: tuple[str, ...] = ()) -> None:
        for taken in (name, *aliases):
            holder = self.origins.get(self.aliases.get(taken, taken))
            if holder is not None and holder != module:
                raise ProcessDefinitionError(
                    f"{self.kind} name '{taken}' is already registered by module {holder}; "
                    f"{module} must choose another (names are unique across all loaded processes)")
        self.by_name[name] = value
        self.origins[name] = module
        for alias in aliases:
            if alias != name:
                self.aliases[alias] = name

    def find(self, ref: str) -> T | None:
        """The definition ``ref`` names: its stable name, or an old spelling of it."""
        found = self.by_name.get(ref)
        if found is None and ref in self.aliases:
            found = self.by_name.get(self.aliases[ref])
        return found

    def canonical(self, ref: str) -> str:
        """The stable name ``ref`` stands for (itself when it is one, or unknown)."""
        return self.aliases.get(ref, ref)

    def forget_module(self, module: str) -> None:
        """Drop everything ``module`` registered (it was unloaded, or moved elsewhere)."""
        gone = {n for n, m in self.origins.items() if m == module}
        for name in gone:
            self.by_name.pop(name, None)
            self.origins.pop(name, None)
        for alias in [a for a, n in self.aliases.items() if n in gone]:
            del self.aliases[alias]
