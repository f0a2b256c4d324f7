"""The typed key under which every route finds the running sandbox."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from sandbox.runtime import Sandbox

SANDBOX: web.AppKey[Sandbox] = web.AppKey("sandbox")


def sandbox_of(request: web.Request) -> Sandbox:
    return request.app[SANDBOX]
