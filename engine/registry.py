"""Process and task declarations, and where they are found.

``@process`` and ``@task`` register at import time. Workers and front ends
import the same modules (the ``processes`` package, ``SHEPHERD_PROCESSES_PATH``
directories and the ``shepherd.processes`` entry-point group), so a task name in
the journal always resolves to the same function everywhere.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import logging
import pkgutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, get_type_hints

from pydantic import BaseModel, TypeAdapter

from engine.errors import ProcessDefinitionError, UnknownProcess
from engine.journal import compact

log = logging.getLogger(__name__)

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
        """Hash of the module source, recorded at run creation to explain later divergence."""
        module = sys.modules.get(self.module)
        try:
            source = inspect.getsource(module) if module else ""
        except (OSError, TypeError):
            source = ""
        return hashlib.sha256(source.encode()).hexdigest()[:12]

    def usage(self) -> str:
        parts = [f"<{p}>" for p in self.positional]
        for name, f in self.inputs.model_fields.items():
            if name in self.positional:
                continue
            parts.append(f"{name}=..." if f.is_required() else f"[{name}=...]")
        return " ".join([self.id, *parts])


PROCESSES: dict[str, ProcessDef] = {}
TASKS: dict[str, TaskDef] = {}


def task(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    retries: int = 0,
    backoff: float = 1.0,
    timeout: float | None = None,
) -> Any:
    """Declare a task: ``@task`` or ``@task(retries=3, backoff=2, timeout=60)``.

    The function takes one argument (a pydantic model or JSON value) and,
    optionally, a second ``TaskContext`` (idempotency key, heartbeat). It may
    be sync (run in a thread) or async. Retries back off exponentially from
    ``backoff`` seconds.
    """

    def wrap(f: Callable[..., Any]) -> TaskDef:
        task_name = name or f"{f.__module__}.{f.__qualname__}"
        params = list(inspect.signature(f).parameters)
        if not 1 <= len(params) <= 2:
            raise ProcessDefinitionError(f"task {task_name} must take (args) or (args, task_context)")
        hints = get_type_hints(f)
        returns = hints.get("return")
        adapter = TypeAdapter(returns) if returns not in (None, type(None), Any) else None
        definition = TaskDef(
            name=task_name, fn=f, retries=retries, backoff=backoff, timeout=timeout,
            takes_context=len(params) == 2, returns=returns, _adapter=adapter,
        )
        TASKS[task_name] = definition
        return definition

    return wrap(fn) if fn is not None else wrap


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
    try:
        return TASKS[name]
    except KeyError:
        raise ProcessDefinitionError(f"unknown task '{name}' (is its module loaded on this worker?)") from None


def _import_file(path: Path) -> None:
    module_name = f"shepherd_custom.{path.stem}"
    if module_name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[module_name]
        raise


def load_processes(extra_paths: str = "") -> dict[str, ProcessDef]:
    """Import every process module: built-in, from directories, from entry points."""
    import processes as builtin

    for info in pkgutil.iter_modules(builtin.__path__, prefix="processes."):
        if not info.name.rsplit(".", 1)[-1].startswith("_"):
            importlib.import_module(info.name)
    for directory in filter(None, extra_paths.split(":")):
        root = Path(directory)
        if not root.is_dir():
            raise ProcessDefinitionError(f"SHEPHERD_PROCESSES_PATH entry '{directory}' is not a directory")
        for path in sorted(root.glob("*.py")):
            if not path.name.startswith("_"):
                _import_file(path)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:  # one broken plug-in must not take the others down
            log.error("could not load process plug-in %s: %s", ep.name, exc)
    return PROCESSES
