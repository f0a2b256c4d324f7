"""``shepherd serve``: the bot, its notifier and (unless ``--no-worker``) an engine worker on one
event loop, stopped together on Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from bot.app import Bot
from bot.settings import SettingsProblem, load_bot_settings
from engine.settings import Settings
from engine.worker import Worker
from shepherd.discovery import load_processes
from state.connection import connect, resolve_url

log = logging.getLogger(__name__)


async def serve(settings: Settings, *, port: int | None = None, worker: bool = True) -> int:
    try:
        bot_settings = load_bot_settings(**({"port": port} if port is not None else {}))
    except SettingsProblem as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    load_processes(settings.processes_path)
    redis = await connect(resolve_url(settings.redis_url, settings.data_dir))
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    bot = Bot(bot_settings, redis)
    if worker:  # supervised like the bot's own tasks: restarted if it crashes, shown on /healthz
        engine_worker = Worker(redis, settings)
        bot.supervisor.spawn("worker", engine_worker.run, stop=engine_worker.stop)
    try:
        await bot.start()
        print(f"shepherd bot running ({'Socket Mode' if bot_settings.socket_mode else f'HTTP on port {bot.port}'}"
              f"{', with a worker' if worker else ''}); Ctrl-C stops it", file=sys.stderr, flush=True)
        await stopping.wait()
    finally:
        await bot.stop()  # and the worker, if any
        await redis.aclose()
    return 0
