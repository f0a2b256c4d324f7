"""The table of Web API methods: name -> handler, plus which token types may call it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sandbox.params import Args

if TYPE_CHECKING:
    from sandbox.runtime import Sandbox
    from sandbox.workspace import Workspace


@dataclass
class Call:
    """One Web API call as a handler sees it."""

    sb: Sandbox
    args: Args
    token_type: str
    """bot or app."""

    @property
    def ws(self) -> Workspace:
        return self.sb.workspace


Handler = Callable[[Call], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Method:
    """A registered Web API method and the token types allowed to call it."""

    name: str
    handler: Handler
    token_types: tuple[str, ...]


METHODS: dict[str, Method] = {}


def method(name: str, token_types: tuple[str, ...] = ("bot",)) -> Callable[[Handler], Handler]:
    """Register a handler; its return value is merged into ``{"ok": true, ...}``."""

    def register(handler: Handler) -> Handler:
        METHODS[name] = Method(name, handler, token_types)
        return handler

    return register
