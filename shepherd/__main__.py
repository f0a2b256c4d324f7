"""``python -m shepherd``: the same as the ``shepherd`` console script."""

from shepherd.cli import entry

entry()
