"""``rename.record``, moved here from tests/rename_examples/before.py (its output says which copy ran)."""

from __future__ import annotations

from engine import task


@task(name="rename.record")
def record(text: str) -> str:
    return f"moved recorded {text}"
