"""The sandbox's parts, wired together once.

Workspace-level state (messages, views, triggers, response URLs, interaction records) is
rebuilt on reset; the app's side (its socket connections, request URL, the event feed) is
not, so a connected bot keeps working across a test's ``reset``.
"""

from __future__ import annotations

from sandbox.config import SandboxConfig
from sandbox.delivery import Deliverer
from sandbox.events import EventBus
from sandbox.http_delivery import HttpDelivery
from sandbox.interactions import Interactions
from sandbox.ratelimit import RateLimiter, TierLimits
from sandbox.records import Recorder
from sandbox.response_url import ResponseUrls
from sandbox.socket_mode import SocketHub
from sandbox.triggers import TriggerRegistry
from sandbox.views import ViewStore
from sandbox.workspace import Workspace


class Sandbox:
    """Composition root: config, workspace, views, triggers, transports, records and the event bus."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.base_url = (self.config.public_url or "").rstrip("/")
        self.bus = EventBus()
        self.recorder = Recorder()
        self.limiter = RateLimiter()
        self.tiers = TierLimits(enabled=self.config.tier_limits, retry_after=self.config.retry_after)
        self.hub = SocketHub(self.config, self.bus)
        self.http = HttpDelivery(self.config)
        self.deliverer = Deliverer(self.config, self.hub, self.http, self.recorder, self.bus)
        self._fresh()

    def _fresh(self) -> None:
        self.workspace = Workspace(self.config, self.bus, self.base_url)
        self.views = ViewStore(self.config, self.bus)
        self.triggers = TriggerRegistry(self.config)
        self.hooks = ResponseUrls(self.config)
        self.interactions = Interactions(self)

    def set_base_url(self, url: str) -> None:
        """Learn the bound address once the server listens (port 0 means "any free port")."""
        if not self.config.public_url:
            self.base_url = url.rstrip("/")
            self.workspace.base_url = self.base_url

    def reset(self) -> None:
        """Back to the seeded workspace: no messages, views, files, rate limits or records."""
        self._fresh()
        self.recorder.clear()
        self.limiter.clear()
        self.tiers.reset()
        self.bus.publish("reset")

    async def close(self) -> None:
        self.bus.close()
        await self.hub.close()
        await self.http.close()
