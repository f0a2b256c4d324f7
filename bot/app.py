"""The Slack app: Bolt listeners, the Web API client, a transport, and the notifier.

Socket Mode when ``SLACK_APP_TOKEN`` is set (an outbound WebSocket: no public URL needed);
otherwise HTTP mode: an aiohttp app whose ``POST /slack/events`` goes through ``bot.inbound``
(signature, decoding and shape checked there) to Bolt, plus ``GET /healthz`` (in Socket Mode
on ``SHEPHERD_HEALTH_PORT``, if set). Either way the same listeners run and the same notifier
posts, supervised (``bot.health``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, cast

import aiohttp
from aiohttp import web
from redis.asyncio import Redis
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.authorization.async_single_team_authorization import AsyncSingleTeamAuthorization
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.acks import drain
from bot.actions import register_actions
from bot.commands import register_commands
from bot.echoed import register_echo_check
from bot.errors import handle_error
from bot.forms import register_forms
from bot.health import Supervisor, healthz_handler
from bot.home import HomeTab, register_home
from bot.home_refresh import HomeRefresher
from bot.inbound import door
from bot.notifier import Notifier
from bot.permissions import warn_unknown_processes
from bot.redelivery import register_redelivery_guard
from bot.schedule_store import ScheduleStore
from bot.schedules import BotScheduler
from bot.settings import BotSettings
from bot.slack_retry import RateLimitRetry
from engine.client import ShepherdClient

log = logging.getLogger(__name__)


def web_client(settings: BotSettings) -> AsyncWebClient:
    """The Web API client; Slack's 429s are retried after their Retry-After."""
    kwargs: dict[str, Any] = {"base_url": settings.api_url} if settings.api_url else {}
    client = AsyncWebClient(token=settings.bot_token.get_secret_value(), **kwargs)
    client.retry_handlers.append(RateLimitRetry(max_retry_count=3))
    return client


def build_app(settings: BotSettings, engine: ShepherdClient, redis: Redis) -> AsyncApp:
    """``engine`` for runs; ``redis`` for the bot's own records (delivery marks, schedules)."""
    secret = settings.signing_secret.get_secret_value() if settings.signing_secret else None
    # Answered as soon as a listener acks, without Bolt's 10 ms ack poll: see bot/acks.py.
    # Bolt's own signature check stays off: in HTTP mode bot.inbound verifies every request
    # before Bolt sees it (and hands Bolt a re-encoded body); Socket Mode needs none.
    app = AsyncApp(client=web_client(settings), signing_secret=secret, process_before_response=True,
                   request_verification_enabled=False)
    register_echo_check(app)
    register_redelivery_guard(app, redis)
    register_commands(app, engine, settings, ScheduleStore(redis))
    register_actions(app, engine)
    register_forms(app, engine, settings.permissions)
    app.error(handle_error)
    return app


WARM_CONNECTIONS = 50
"""Redis connections opened at start. A burst of commands (an incident, when everyone types at
once) would otherwise open them one by one while people wait for their acks."""


async def warm_up(redis: Redis, connections: int = WARM_CONNECTIONS) -> None:
    """Open ``connections`` pooled connections now (concurrent PINGs each take one)."""
    # redis-py types ping() as "Awaitable[bool] | bool" (one class for sync and async clients).
    await asyncio.gather(*(cast(Awaitable[bool], redis.ping()) for _ in range(connections)))


async def warm_authorization(app: AsyncApp) -> None:
    """Ask Slack who the bot is (``auth.test``) now, not on the first request.

    Bolt's authorization asks on the first request it handles, before that request's listener
    can ack: a slow or rate-limited Slack (a 429 says wait 30 s) would make the first person
    after a restart miss Slack's 3 seconds. Bolt keeps the answer on its middleware, which has no
    public hook, so it is set there; if Slack cannot be reached yet, Bolt asks later as before.
    """
    for middleware in app._async_middleware_list:  # Bolt offers no public way in
        if isinstance(middleware, AsyncSingleTeamAuthorization) and middleware.auth_test_result is None:
            try:
                middleware.auth_test_result = await app.client.auth_test()
            except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("auth.test failed at start (%s); Bolt will ask on the first request", exc)


class Bot:
    """One bot instance: start() connects the transport and the notifier; stop() undoes both."""

    def __init__(self, settings: BotSettings, redis: Redis, *, consumer: str | None = None) -> None:
        self.settings, self.redis = settings, redis
        self.app = build_app(settings, ShepherdClient(redis), redis)
        warn_unknown_processes(settings.permissions)
        self.home = HomeTab(ShepherdClient(redis), self.app.client, redis)
        register_home(self.app, self.home)
        self.home_refresher = HomeRefresher(self.home, settings.home_interval)
        self.supervisor = Supervisor(backoff_base=settings.restart_backoff)
        self.retry = next(h for h in self.app.client.retry_handlers if isinstance(h, RateLimitRetry))
        """The Web API client's 429 handler (tests give it a faster sleep)."""
        self.notifier = Notifier(redis, self.app.client, post_interval=settings.post_interval,
                                 update_interval=settings.update_interval, consumer=consumer,
                                 lock_ttl=settings.lock_ttl, on_synced=self.home_refresher.run_changed,
                                 heartbeat=lambda: self.supervisor.beat("notifier"))
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self._health: web.AppRunner | None = None
        self._notifier_task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.jobs = BotScheduler(redis, ShepherdClient(redis), self.app.client, settings, self.notifier.sync.pacer)
        self.port = 0
        self.health_port = 0
        """Where ``GET /healthz`` answers: the Slack port in HTTP mode, ``health_port`` in Socket Mode."""

    async def start(self) -> None:
        await warm_up(self.redis)
        # One connection pool for every Web API call (slack_sdk would open a session, and a TCP
        # connection, per call): under a burst of commands that setup was the bot's main CPU cost.
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self.app.client.session = self._session
        await warm_authorization(self.app)
        if self.settings.socket_mode:
            assert self.settings.app_token is not None
            self._socket = AsyncSocketModeHandler(self.app, self.settings.app_token.get_secret_value())
            await self._socket.connect_async()
            log.info("connected to Slack (Socket Mode)")
            if self.settings.health_port is not None:
                self._health = await self._listen(web.Application(), self.settings.health_port)
                self.health_port = int(self._health.addresses[0][1])
        else:
            assert self.settings.signing_secret is not None
            http = web.Application()
            http.router.add_post("/slack/events", door(self.app, self.settings.signing_secret.get_secret_value()))
            self._runner = await self._listen(http, self.settings.port)
            self.port = self.health_port = int(self._runner.addresses[0][1])
            log.info("listening for Slack on port %d (/slack/events)", self.port)
        # Supervised: a crash is logged, restarted with backoff, and shown on /healthz (bot/health.py).
        self._notifier_task = self.supervisor.spawn("notifier", self.notifier.run, stop=self.notifier.stop,
                                                    beats=True)
        self.supervisor.spawn("home", self.home_refresher.run, stop=self.home_refresher.stop, graceful=False)
        self.jobs.start()  # gate reminders and recurring schedules (apscheduler guards each job)

    async def _listen(self, http: web.Application, port: int) -> web.AppRunner:
        http.router.add_get("/healthz", healthz_handler(self.supervisor))
        runner = web.AppRunner(http, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        await web.TCPSite(runner, self.settings.host, port).start()
        return runner

    async def stop(self) -> None:
        await self.jobs.stop()
        await self.supervisor.stop(60)  # a worker may take its shutdown_grace (30 s) to finish its tasks
        if self._health is not None:
            await self._health.cleanup()
        if self._socket is not None:
            await self._socket.close_async()
        if self._runner is not None:
            await self._runner.cleanup()
        await drain()
        if self._session is not None:
            await self._session.close()
            self.app.client.session = None
