"""Process, task and form declarations, and where they are found.

``@process``, ``@task`` and ``@form`` register at import time. Workers and front ends
import the same modules (those ``processes.catalog`` lists, ``SHEPHERD_PROCESSES_PATH``
directories and the ``shepherd.processes`` entry-point group), so a name in
the journal always resolves to the same function or form everywhere.

Names are stable strings (``@task(name="incident.page_oncall")``,
``@form("incident.roles")``): journals, queued work and open asks carry the name, so a
module can move without breaking runs in flight. Journals written before names existed
carry ``module.qualname`` (tasks) or ``module:qualname`` (forms); every registered task
and form answers to that old spelling too, and to any ``aliases=`` it lists (the old
paths of a module that has since moved). See engine.names for the rules.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

from pydantic import BaseModel, TypeAdapter

from engine.code_hash import code_hash as module_code_hash
from engine.errors import PluginError, ProcessDefinitionError, UnknownProcess, UnknownTask
from engine.journal import compact
from engine.names import NameTable

ENTRY_POINT_GROUP = "shepherd.processes"


@dataclass
class TaskDef:
    """A unit of work run by a worker, with its retry policy."""

    name: str
    fn: Callable[..., Any]
    retries: int = 0
    backoff: float = 1.0
    timeout: float | None = None
    takes_context: bool = False
    returns: Any = None
    _adapter: TypeAdapter[Any] | None = field(default=None, repr=False)
    explicit_name: bool = False
    """Whether ``name`` was chosen (``@task(name=...)``) rather than derived from the module path."""

    def decode(self, value: Any) -> Any:
        """Turn a journaled JSON result back into the declared return type."""
        if self._adapter is None:
            return value
        return self._adapter.validate_python(value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def request_args(self, input_json: Any) -> dict[str, Any]:
        """The journaled ``args`` of a request for this task: its input and retry policy (defaults left out)."""
        return compact({"input": input_json, "retries": self.retries, "backoff": self.backoff,
                        "timeout": self.timeout}, retries=0, backoff=1.0)


@dataclass
class ProcessDef:
    id: str
    title: str
    fn: Callable[..., Any]
    inputs: type[BaseModel]
    positional: list[str]
    module: str
    description: str = ""
    outputs: type[BaseModel] | None = None
    """What a completed run returns, for the process's docs page (optional)."""
    on_cancel: TaskDef | None = None
    """A task run once the run is cancelled, to undo what it opened (see engine.cancellation)."""

    @property
    def summary(self) -> str:
        return self.description.strip().splitlines()[0] if self.description.strip() else self.title

    def code_hash(self) -> str:
        """Hash of the process module and the helper modules of its package it imports
        (engine.code_hash), recorded at run creation to explain later divergence."""
        return module_code_hash(self.module)

    def usage(self) -> str:
        parts = [f"<{p}>" for p in self.positional]
        for name, f in self.inputs.model_fields.items():
            if name in self.positional:
                continue
            parts.append(f"{name}=..." if f.is_required() else f"[{name}=...]")
        return " ".join([self.id, *parts])


PROCESSES: dict[str, ProcessDef] = {}
TASKS: NameTable[TaskDef] = NameTable("task")
FORMS: NameTable[type[BaseModel]] = NameTable("form")
_FORM_NAMES: dict[type[BaseModel], str] = {}


def legacy_task_name(f: Callable[..., Any]) -> str:
    """How journals written before stable names spell a task: ``module.qualname``."""
    return f"{f.__module__}.{f.__qualname__}"


def legacy_form_name(cls: type) -> str:
    """How journals written before stable names spell a form: ``module:qualname``."""
    return f"{cls.__module__}:{cls.__qualname__}"


def task(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    aliases: tuple[str, ...] | list[str] = (),
    retries: int = 0,
    backoff: float = 1.0,
    timeout: float | None = None,
) -> Any:
    """Declare a task: ``@task(name="incident.page_oncall", retries=3, backoff=2, timeout=60)``.

    ``name`` is what journals and the task queue record, so it must not change once runs
    use it; shipped processes always give one (the default, ``module.qualname``, is for
    quick scripts and breaks when the module moves). ``aliases`` lists older spellings
    (the task's path before a move) that journals in flight may still carry.

    The function takes one argument (a pydantic model or JSON value) and,
    optionally, a second ``TaskContext`` (idempotency key, heartbeat). It may
    be sync (run in a thread) or async. Retries back off exponentially from
    ``backoff`` seconds.
    """

    def wrap(f: Callable[..., Any]) -> TaskDef:
        legacy = legacy_task_name(f)
        task_name = name or legacy
        params = list(inspect.signature(f).parameters)
        if not 1 <= len(params) <= 2:
            raise ProcessDefinitionError(f"task {task_name} must take (args) or (args, task_context)")
        hints = get_type_hints(f)
        returns = hints.get("return")
        adapter = TypeAdapter(returns) if returns not in (None, type(None), Any) else None
        definition = TaskDef(
            name=task_name, fn=f, retries=retries, backoff=backoff, timeout=timeout,
            takes_context=len(params) == 2, returns=returns, _adapter=adapter, explicit_name=name is not None,
        )
        TASKS.register(task_name, definition, module=f.__module__, aliases=(legacy, *aliases))
        return definition

    return wrap(fn) if fn is not None else wrap


F = TypeVar("F", bound=type[BaseModel])


def form(name: str, *, aliases: tuple[str, ...] | list[str] = ()) -> Callable[[F], F]:
    """Register an ``ask`` form under a stable name: ``@form("incident.roles")`` on the model class.

    Open asks record the name, so the class may move to another module while a person
    still has the question in front of them; ``aliases`` lists older spellings.
    """

    def wrap(cls: F) -> F:
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
            raise ProcessDefinitionError(f"@form({name!r}) goes on a pydantic model class, not {cls!r}")
        FORMS.register(name, cls, module=cls.__module__, aliases=(legacy_form_name(cls), *aliases))
        _FORM_NAMES[cls] = name
        return cls

    return wrap


def form_name(cls: type[BaseModel]) -> str:
    """The name an ask records for ``cls``: its registered name, else ``module:qualname``."""
    return _FORM_NAMES.get(cls) or legacy_form_name(cls)


def find_form(ref: str | None) -> type[BaseModel] | None:
    """The registered form ``ref`` names (by name or old spelling); never imports anything."""
    return FORMS.find(ref) if ref else None


def same_task(recorded: str, asked: str) -> bool:
    """Whether a journaled task name and the one the process asks for now are the same task."""
    return recorded == asked or TASKS.canonical(recorded) == TASKS.canonical(asked)


def unregister_module(module: str) -> None:
    """Forget the tasks, forms and processes ``module`` declared (it was unloaded or moved)."""
    TASKS.forget_module(module)
    FORMS.forget_module(module)
    for cls in [c for c in _FORM_NAMES if c.__module__ == module]:
        del _FORM_NAMES[cls]
    for pid in [p for p, d in PROCESSES.items() if d.module == module]:
        del PROCESSES[pid]


def process(
    id: str,
    *,
    title: str,
    inputs: type[BaseModel],
    positional: list[str] | None = None,
    outputs: type[BaseModel] | None = None,
    on_cancel: TaskDef | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a process: ``async def fn(inputs, ctx)`` over a validated inputs model.

    ``outputs`` names the model a completed run returns, so its docs page can say what it produces.
    ``on_cancel`` is a ``@task`` taking a ``CancelledRun``, run after a cancel to undo what the run
    opened outside (resolve a page, delete a temporary environment).
    """

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.iscoroutinefunction(fn):
            raise ProcessDefinitionError(f"process {id} must be an async function")
        if on_cancel is not None and not isinstance(on_cancel, TaskDef):
            raise ProcessDefinitionError(f"process {id}: on_cancel must be a @task function, not {on_cancel!r}")
        for p in positional or []:
            if p not in inputs.model_fields:
                raise ProcessDefinitionError(f"process {id}: positional '{p}' is not an input field")
        PROCESSES[id] = ProcessDef(
            id=id, title=title, fn=fn, inputs=inputs, positional=list(positional or []),
            module=fn.__module__, description=inspect.getdoc(fn) or "", outputs=outputs, on_cancel=on_cancel,
        )
        return fn

    return wrap


def get_process(name: str) -> ProcessDef:
    try:
        return PROCESSES[name]
    except KeyError:
        raise UnknownProcess(name, sorted(PROCESSES)) from None


def get_task(name: str) -> TaskDef:
    """The task a journal or queue entry names, by its stable name or an old spelling."""
    found = TASKS.find(name)
    if found is None:
        raise UnknownTask(name)
    return found


def _import_file(path: Path) -> None:
    """Import one plug-in file as ``shepherd_custom.<stem>``; a second file of that name is an error."""
    module_name = f"shepherd_custom.{path.stem}"
    loaded = sys.modules.get(module_name)
    if loaded is not None:
        first = Path(getattr(loaded, "__file__", "") or "")
        if first.resolve() != path.resolve():
            raise PluginError(f"two process plug-ins are both named '{path.name}': {first} and {path} "
                              "(plug-in modules are named by file name; rename one)")
        return
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"could not load process plug-in {path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        unregister_module(module_name)
        raise PluginError.from_exception(str(path), exc) from exc


def load_processes(extra_paths: str = "", *, modules: Iterable[str] = (),
                   entry_point_group: str | None = None) -> dict[str, ProcessDef]:
    """Import every process module: the ``modules`` named (the shipped catalog), then those in
    directories, then entry points.

    The engine knows no process library of its own: the composition root (``shepherd.discovery``)
    hands it the catalog's modules and the entry-point group, so engine/ never imports processes/.
    A plug-in that fails to import raises PluginError: a worker without it would take work
    it cannot do, so it must not start (the CLI prints the one line and exits non-zero).
    """
    for module in modules:  # an explicit list, not "every module without an underscore"
        importlib.import_module(module)
    for directory in filter(None, extra_paths.split(":")):
        root = Path(directory)
        if not root.is_dir():
            raise ProcessDefinitionError(f"SHEPHERD_PROCESSES_PATH entry '{directory}' is not a directory")
        for path in sorted(root.glob("*.py")):
            if not path.name.startswith("_"):
                _import_file(path)
    for ep in entry_points(group=entry_point_group) if entry_point_group else ():
        try:
            ep.load()
        except Exception as exc:
            raise PluginError.from_exception(f"entry point '{ep.name}' ({ep.value})", exc) from exc
    return PROCESSES
