"""``python -m benchmarks [name ...]``: run the benchmarks (all, or those named) and print JSON.

stdout carries one pretty-printed JSON object (figures, targets, ``meets_target``);
progress goes to stderr. The exit status is 0 whether or not targets are met:
these are measurements, and a machine under load should not fail a build.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks import bot_ack, bot_approve, decision_latency, engine_overhead, parked_runs, resume
from benchmarks.harness import Harness, log, session

BENCHMARKS: dict[str, Callable[[Harness], Awaitable[dict[str, Any]]]] = {
    engine_overhead.NAME: engine_overhead.run,
    decision_latency.NAME: decision_latency.run,
    resume.NAME: resume.run,
    parked_runs.NAME: parked_runs.run,
    bot_ack.NAME: bot_ack.run,
    bot_approve.NAME: bot_approve.run,
}


async def main(names: list[str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with session() as h:
        results["environment"] = await h.environment()
        for name in names:
            started = time.perf_counter()
            log(f"--- {name}")
            results[name] = await BENCHMARKS[name](h)
            results[name]["benchmark_wall_s"] = round(time.perf_counter() - started, 1)
            log(f"--- {name}: done in {results[name]['benchmark_wall_s']} s, "
                f"meets target: {results[name]['meets_target']}")
    results["all_targets_met"] = all(results[n]["meets_target"] for n in names)
    return results


def cli(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    results = asyncio.run(main(names))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
