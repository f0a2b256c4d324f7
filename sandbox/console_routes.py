"""``/console/``: the browser console's static files, and the one thing it cannot learn from ``/control/``.

The console is plain HTML, CSS and JavaScript (no build step, no CDN: it must work offline);
it drives the sandbox only through the control API and follows ``/control/events``. What the
sandbox cannot know by itself is which slash commands the app offers and what they take, so
whoever starts the app next to the sandbox (``shepherd sandbox``) registers them here for the
composer's autocomplete.
"""

from __future__ import annotations

import weakref
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.appkey import sandbox_of
from sandbox.runtime import Sandbox

STATIC = Path(__file__).with_name("console")
FILES = {"index.html": "text/html", "console.css": "text/css", "console.js": "text/javascript"}


@dataclass(frozen=True)
class Suggestion:
    """One line of the composer's autocomplete: what to insert, and what it does."""

    command: str
    """The slash command, e.g. ``/run``."""
    text: str
    """What follows the command (may be empty), e.g. ``gate-demo``."""
    usage: str
    description: str


DEFAULT_SUGGESTIONS = (
    Suggestion("/run", "help", "/run help [process]", "list the processes, or explain one"),
    Suggestion("/run", "status", "/run status <run>", "show a run's steps"),
    Suggestion("/run", "cancel", "/run cancel <run>", "cancel a run you started"),
    Suggestion("/run", "retry", "/run retry <run>", "run a failed run again from its last good step"),
    Suggestion("/runs", "mine", "/runs [mine|waiting|all]", "list your runs"),
    Suggestion("/runs", "waiting", "/runs waiting", "list runs waiting for someone"),
    Suggestion("/runs", "all", "/runs all", "list recent runs"),
)

_registered: weakref.WeakKeyDictionary[Sandbox, tuple[Suggestion, ...]] = weakref.WeakKeyDictionary()


def register_commands(sandbox: Sandbox, suggestions: list[Suggestion]) -> None:
    """Tell the console what the connected app's commands are (replaces the defaults)."""
    _registered[sandbox] = tuple(suggestions)


def suggestions_for(sandbox: Sandbox) -> tuple[Suggestion, ...]:
    return _registered.get(sandbox, DEFAULT_SUGGESTIONS)


async def commands(request: web.Request) -> web.Response:
    """``GET /console/api/commands``: the composer's autocomplete entries."""
    items: list[dict[str, Any]] = [asdict(s) for s in suggestions_for(sandbox_of(request))]
    return web.json_response({"ok": True, "commands": items})


async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info.get("name") or "index.html"
    if name not in FILES:
        raise web.HTTPNotFound(text=f"no console file {name!r}")
    return web.FileResponse(STATIC / name, headers={"Content-Type": FILES[name], "Cache-Control": "no-cache"})


async def to_console(request: web.Request) -> web.Response:
    raise web.HTTPFound("/console/")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console", to_console)
    app.router.add_get("/console/", static_file)
    app.router.add_get("/console/api/commands", commands)
    app.router.add_get("/console/{name}", static_file)
