"""The processes Shepherd ships: the one list the registry imports them from.

Why a list, not a directory scan: with a package per domain (``processes/incident/``,
``processes/slo/``, ...) most modules are building blocks, not processes, and telling them apart
by a leading underscore made every helper's name an implementation detail of discovery. Here a
process is shipped because it is listed, and the shelf (``processes/README.md``) groups the list
by domain. Plug-ins (``SHEPHERD_PROCESSES_PATH`` and the ``shepherd.processes`` entry points)
are found as before, not listed here.

Each entry: the domain (the package under ``processes/``), the module declaring the process,
and the domain's one-line description for the shelf.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Domain:
    """A package of processes that belong together, and the modules that declare them."""

    name: str
    summary: str
    modules: tuple[str, ...]


CATALOG: tuple[Domain, ...] = (
    Domain("incident", "Declaring, running and learning from incidents.",
           ("processes.incident.response", "processes.incident.stats")),
    Domain("slo", "Service level objectives: alerting rules, error budgets and their review.",
           ("processes.slo.setup", "processes.slo.review")),
)


def shipped_modules() -> list[str]:
    """Every module that declares a shipped process, in catalog order."""
    return [module for domain in CATALOG for module in domain.modules]
