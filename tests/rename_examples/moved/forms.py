"""``rename.roles``, moved here from tests/rename_examples/before.py."""

from __future__ import annotations

from pydantic import BaseModel

from engine import form


@form("rename.roles")
class Roles(BaseModel):
    commander: str
