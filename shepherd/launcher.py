"""``shepherd sandbox``: everything needed to try Shepherd without a Slack workspace, in one process.

One event loop runs Redis's client (the embedded server unless ``REDIS_URL`` is set), the
Slack sandbox with its browser console, the real bot connected to it over Socket Mode, and an
engine worker. Ctrl-C or SIGTERM stops them in the reverse order, so no run is left half
delivered and no child process (the embedded redis-server) outlives the command.

The sandbox's workspace is in memory and starts fresh every time, so the embedded Redis the
sandbox uses is its own (``<data dir>/sandbox``) and is emptied at start: status cards of runs
from an earlier session would point at messages this workspace never had.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from redis.asyncio import Redis

from engine.registry import ProcessDef
from engine.settings import Settings
from engine.worker import Worker
from sandbox import console_routes
from sandbox.console_routes import DEFAULT_SUGGESTIONS, Suggestion
from sandbox.seed import HUMANS
from sandbox.server import SandboxServer
from shepherd.discovery import load_processes
from state.connection import connect, describe
from state.embedded import ensure_embedded_redis

log = logging.getLogger(__name__)

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
POST_INTERVAL = 0.3
"""Seconds between the bot's posts to one channel: snappier than Slack's 1/s, which the sandbox does not enforce."""


def clear_proxies() -> None:
    """Everything here talks to 127.0.0.1, and slack_sdk ignores NO_PROXY: drop proxy settings."""
    for name in PROXY_VARS:
        os.environ.pop(name, None)


@contextlib.contextmanager
def worker_slack_env(server: SandboxServer) -> Iterator[None]:
    """Point the worker's own Slack client (tasks that create channels, post updates) at the
    sandbox, and name the seeded @sre group as on-call, as an operator would in production.
    The environment is put back afterwards (tests run the launcher in-process)."""
    wanted = {"SLACK_BOT_TOKEN": server.bot_token, "SLACK_API_URL": server.api_url,
              "SHEPHERD_INCIDENT_ONCALL_GROUP": os.environ.get("SHEPHERD_INCIDENT_ONCALL_GROUP", "S0SRE")}
    before = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def suggestions(processes: dict[str, ProcessDef]) -> list[Suggestion]:
    """The composer's autocomplete: one ``/run <process>`` line per process, then the built-in verbs."""
    per_process = [Suggestion("/run", d.id, f"/run {d.usage()}", d.summary)
                   for d in sorted(processes.values(), key=lambda d: d.id)]
    return per_process + list(DEFAULT_SUGGESTIONS)


async def start_server(host: str, port: int, out: TextIO) -> SandboxServer:
    """Listen on ``host:port``; if that port is taken, on any free one (and say so)."""
    try:
        return await SandboxServer(host, port).start()
    except OSError as exc:
        if port == 0 or exc.errno not in (errno.EADDRINUSE, errno.EACCES):
            raise
        print(f"port {port} is busy; using a free port instead", file=out, flush=True)
        return await SandboxServer(host, 0).start()


async def open_redis(settings: Settings) -> tuple[Redis, str]:
    """The sandbox's Redis and a description of it; the embedded one is emptied (see module docstring)."""
    if settings.redis_url:
        return await connect(settings.redis_url), f"REDIS_URL ({describe(settings.redis_url)})"
    directory = Path(settings.data_dir) / "sandbox"
    redis = await connect(ensure_embedded_redis(directory))
    await redis.flushdb()
    return redis, f"embedded, in {directory}/"


def banner(server: SandboxServer, processes: dict[str, ProcessDef], redis_label: str) -> str:
    """What a person needs to start: the console URL, who is who, where to type. No tokens."""
    seed = server.sandbox.workspace
    people = "\n".join(f"    {h.name:<8} {h.id:<10} {h.title}" for h in HUMANS)
    groups = "\n".join(f"    @{g.handle} ({g.id}): " + ", ".join(seed.users[u].name for u in g.users)
                       for g in seed.usergroups.values())
    channels = ", ".join(f"#{c.name}" for c in seed.channels.values() if not c.is_im)
    names = ", ".join(sorted(processes)) or "(none: set SHEPHERD_PROCESSES_PATH)"
    exposed = "" if server.config.host in LOOPBACK else (
        f"  warning: listening on {server.config.host}: the sandbox has no login, so anyone who can reach "
        f"this port can act as any of its people\n")
    return (f"Shepherd sandbox is running.\n{exposed}"
            f"  Console:   {server.url}/console/\n"
            f"  Slack API: {server.api_url} (the bot is connected over Socket Mode; a worker runs too)\n"
            f"  Redis:     {redis_label}\n"
            f"  Processes: {names}\n"
            f"  People (switch between them in the console):\n{people}\n"
            f"  User group:\n{groups}\n"
            f"  Channels:  {channels}\n"
            f"  Try: open the console, type `/run gate-demo` in #ops, then act as bob and press Approve;\n"
            f"       or declare an incident: `/run incident-response SEV-2 title=\"Checkout is down\"`.\n"
            f"Press Ctrl-C to stop.")


@dataclass
class Stack:
    """What ``run`` started, for a caller (a test) that wants to look inside."""

    server: SandboxServer
    redis: Redis
    processes: dict[str, ProcessDef] = field(default_factory=dict)


async def run(settings: Settings, *, host: str = "127.0.0.1", port: int = 8080, stop: asyncio.Event | None = None,
              ready: Callable[[Stack], None] | None = None, out: TextIO | None = None,
              handle_signals: bool = True) -> int:
    """Start everything, print the banner, wait for ``stop`` (or SIGINT/SIGTERM), stop everything.

    Returns the exit code: 0 after a clean stop, 2 for configuration problems. Tests run it in-process
    with ``handle_signals=False`` and their own ``stop`` event.
    """
    from bot.app import Bot  # Slack libraries load only here: the engine CLI stays light
    from bot.settings import SettingsProblem, load_bot_settings

    out = out or sys.stdout
    clear_proxies()
    processes = dict(load_processes(settings.processes_path))
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM) if handle_signals else ():
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)

    server = await start_server(host, port, out)
    redis: Redis | None = None
    bot = None
    worker: Worker | None = None
    worker_task: asyncio.Task[None] | None = None
    stack = contextlib.ExitStack()
    try:
        console_routes.register_commands(server.sandbox, suggestions(processes))
        stack.enter_context(worker_slack_env(server))
        redis, redis_label = await open_redis(settings)
        try:
            bot_settings = load_bot_settings(bot_token=server.bot_token, app_token=server.app_token,
                                             api_url=server.api_url, post_interval=POST_INTERVAL)
        except SettingsProblem as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        worker = Worker(redis, settings)
        worker_task = asyncio.create_task(worker.run(), name="sandbox-worker")
        bot = Bot(bot_settings, redis, consumer="sandbox-bot")
        await bot.start()
        print(banner(server, processes, redis_label), file=out, flush=True)
        if ready is not None:
            ready(Stack(server, redis, processes))
        await stop.wait()
        print("stopping: bot, worker, sandbox, Redis…", file=out, flush=True)
    finally:
        await _shutdown(server, redis, bot, worker, worker_task)
        stack.close()
        for number in handled:
            loop.remove_signal_handler(number)
    print("stopped.", file=out, flush=True)
    return 0


async def _shutdown(server: SandboxServer, redis: Redis | None, bot: object | None, worker: Worker | None,
                    worker_task: asyncio.Task[None] | None) -> None:
    """Reverse order of start; each part is stopped even if an earlier one fails to."""
    if bot is not None:
        try:
            await bot.stop()  # type: ignore[attr-defined]
        except Exception:
            log.exception("stopping the bot failed")
    if worker is not None and worker_task is not None:
        worker.stop()
        try:
            await asyncio.wait_for(worker_task, 60)
        except Exception:
            log.exception("stopping the worker failed")
    await server.stop()
    if redis is not None:
        await redis.aclose()
