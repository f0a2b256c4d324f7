"""``python -m sandbox``: run the sandbox until interrupted and print where it listens."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from sandbox.server import SandboxServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Local Slack-compatible sandbox.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (0 picks a free one; default 8080)")
    parser.add_argument("--request-url", default=None, help="deliver to this HTTP-mode app instead of Socket Mode")
    parser.add_argument("--public-url", default=None, help="base URL apps should use to reach the sandbox")
    return parser


async def serve(host: str, port: int, request_url: str | None = None, public_url: str | None = None) -> None:
    """Start, announce the URLs on stdout, and run until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with SandboxServer(host, port, request_url=request_url, public_url=public_url) as server:
        print(f"Slack sandbox listening on {server.url}", flush=True)
        print(f"  Web API:   {server.api_url}  (bot token {server.bot_token}, app token {server.app_token})")
        print(f"  Control:   {server.control_url}/seed   events: {server.control_url}/events")
        print(f"  Signing secret: {server.signing_secret}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        asyncio.run(serve(args.host, args.port, args.request_url, args.public_url))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"sandbox: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0
