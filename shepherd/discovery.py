"""Where processes come from, decided here rather than in the engine.

The engine's ``load_processes`` imports what it is handed; this root hands it the shipped library
(the modules ``processes.catalog`` lists) and the plug-in entry-point group, so engine/ never imports
processes/ and a deployment with another library changes only this module.
"""

from __future__ import annotations

from engine.registry import ENTRY_POINT_GROUP, ProcessDef
from engine.registry import load_processes as load_from
from processes.catalog import shipped_modules


def load_processes(extra_paths: str = "") -> dict[str, ProcessDef]:
    """Import the shipped processes, the ``extra_paths`` directories and the entry-point plug-ins."""
    return load_from(extra_paths, modules=shipped_modules(), entry_point_group=ENTRY_POINT_GROUP)
