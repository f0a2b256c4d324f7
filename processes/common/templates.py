"""Documents from jinja2 templates: postmortems, policies, reports.

Why templates: a document built by concatenating strings hides its shape in code; a template
shows the document as it will read, so a change of wording is a change of one file that a
reviewer can read as prose. Each domain keeps its templates in ``processes/<domain>/templates/``
and renders them with ``render("processes.incident", "postmortem.md.j2", facts=...)``.

The environment is strict and plain, because a document is an artifact of a replayed run and must
come out the same bytes from the same facts:

- ``StrictUndefined``: a misspelt name is an error, not an empty string in a postmortem;
- no autoescape: the output is markdown, not HTML; values are put in as the run recorded them
  (what a person typed is escaped for Slack where it is posted, not here);
- ``trim_blocks``/``lstrip_blocks`` so ``{% for %}`` lines leave no blank lines, and the
  template's final newline is kept;
- templates are read from the package's directory, never from a path a run supplies.
"""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined


def templates_dir(package: str) -> Path:
    """``processes/<domain>/templates/`` for the package ``processes.<domain>``."""
    module = importlib.import_module(package)
    return Path(module.__file__ or "").resolve().parent / "templates"


@cache
def environment(package: str) -> Environment:
    """The jinja2 environment over one package's templates (made once per package)."""
    return Environment(loader=FileSystemLoader(templates_dir(package)), undefined=StrictUndefined,
                       autoescape=False, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render(package: str, name: str, **context: Any) -> str:
    """Render the template ``name`` of ``package`` with ``context``."""
    return environment(package).get_template(name).render(**context)
