"""The HTTP server: one aiohttp application serving the Web API, Socket Mode, response URLs,
file transfer and the control API, plus :class:`SandboxServer` to run it from tests or a CLI.

    async with SandboxServer(port=0) as sb:
        client = AsyncWebClient(token=sb.bot_token, base_url=sb.api_url)
"""

from __future__ import annotations

import dataclasses
from types import TracebackType
from typing import Any

from aiohttp import web

from sandbox import console_routes, control, file_routes, response_url, web_api
from sandbox.appkey import SANDBOX, sandbox_of
from sandbox.config import SandboxConfig
from sandbox.runtime import Sandbox

MAX_BODY = 64 * 1024 * 1024
"""Upload bodies go up to 64 MiB (Slack allows far more; tests never need it)."""


async def _index(request: web.Request) -> web.Response:
    if "text/html" in request.headers.get("Accept", ""):
        raise web.HTTPFound("/console/")  # a browser: the console; a program: the JSON below
    sb = sandbox_of(request)
    return web.json_response({"sandbox": "Shepherd Slack sandbox", "team": sb.config.team_name,
                              "api": f"{sb.base_url}/api/", "control": f"{sb.base_url}/control/seed",
                              "events": f"{sb.base_url}/control/events"})


def build_app(sandbox: Sandbox) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    app[SANDBOX] = sandbox
    app.router.add_get("/", _index)
    web_api.add_routes(app)
    app.router.add_get("/link/", sandbox.hub.handle)
    app.router.add_post("/hooks/{kind}/{team}/{hook_id}/{secret}", response_url.handle_hook)
    file_routes.add_routes(app)
    control.add_routes(app)
    console_routes.add_routes(app)

    async def _shutdown(_: web.Application) -> None:
        await sandbox.close()

    app.on_shutdown.append(_shutdown)
    return app


class SandboxServer:
    """Run a sandbox on ``host:port`` (port 0 picks a free one) as an async context manager.

    Keyword arguments override :class:`SandboxConfig` fields (``ack_timeout=0.5``,
    ``request_url=...``, ``bot_token=...``).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, config: SandboxConfig | None = None,
                 **overrides: Any) -> None:
        self.config = dataclasses.replace(config or SandboxConfig(), host=host, port=port, **overrides)
        self.sandbox = Sandbox(self.config)
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> SandboxServer:
        self._runner = web.AppRunner(build_app(self.sandbox), access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        self.sandbox.set_base_url(f"http://{host}:{self.port}")
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self.sandbox.close()
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SandboxServer:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return self.sandbox.base_url

    @property
    def api_url(self) -> str:
        """What to pass as ``AsyncWebClient(base_url=...)``."""
        return f"{self.url}/api/"

    @property
    def control_url(self) -> str:
        return f"{self.url}/control"

    @property
    def bot_token(self) -> str:
        return self.config.bot_token

    @property
    def app_token(self) -> str:
        return self.config.app_token

    @property
    def signing_secret(self) -> str:
        return self.config.signing_secret
