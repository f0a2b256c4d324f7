"""incident-stats through the sandbox: counts and mean / median / p90 per severity, over a window."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from engine.client import ShepherdClient
from processes.incident.figures import p90, spread, summarize
from processes.incident.store import save_stats
from tests.bot.conftest import Harness, Slack
from tests.helpers import wait_for
from tests.processes.incident_fixtures import control, harness, server, slack  # noqa: F401 - fixtures
from tests.sandbox.control_client import Control, eventually


def _record(n: int, severity: str, days_ago: float, tta: float, ttm: float, ttr: float) -> dict:
    declared = datetime.now(UTC) - timedelta(days=days_ago)
    return {"incident_id": f"INC-TEST-{n}", "severity": severity, "title": f"test {n}",
            "declared_at": declared.isoformat(), "tta": tta, "ttm": ttm, "ttr": ttr}


async def test_stats_per_severity_over_the_window(harness: Harness, slack: Slack, control: Control,  # noqa: F811
                                                  client: ShepherdClient, redis: Redis) -> None:
    for record in (_record(1, "SEV-2", 1, 60, 600, 1200), _record(2, "SEV-2", 2, 120, 900, 1800),
                   _record(3, "SEV-2", 3, 300, 1500, 3600), _record(4, "SEV-1", 5, 30, 300, 900),
                   _record(5, "SEV-2", 45, 9999, 9999, 9999)):  # outside the default 30 days
        await save_stats(redis, record)
    await slack.command("U0ALICE", "incident-stats")
    card = await slack.wait_card("Incident statistics")
    run_id = (await client.list_runs())[0]["id"]
    run = await wait_for(client, run_id)
    assert run.status == "completed", run
    stats = {s["severity"]: s for s in json.loads(run.meta["result"])["stats"]}
    assert stats["SEV-2"]["count"] == 3 and stats["SEV-1"]["count"] == 1
    assert stats["SEV-2"]["measures"]["tta"] == {"n": 3, "mean": 160.0, "median": 120.0, "p90": 300.0}
    assert stats["SEV-2"]["measures"]["ttr"] == {"n": 3, "mean": 2200.0, "median": 1800.0, "p90": 3600.0}
    expected = ("Incidents over the past 30 days: SEV-1 (1): TTA 30s, TTM 5m 00s, TTR 15m 00s (median); "
                "SEV-2 (3): TTA 2m 00s, TTM 15m 00s, TTR 30m 00s (median)")
    assert run.notes == [expected]

    async def posted() -> bool:
        thread = json.dumps(await slack.thread(card["ts"]))
        return expected in thread and "incident-stats.md" in thread

    await eventually(posted, 10)


async def test_stats_for_one_severity_and_empty_window(harness: Harness, client: ShepherdClient,  # noqa: F811
                                                       slack: Slack, redis: Redis) -> None:  # noqa: F811
    await save_stats(redis, _record(1, "SEV-2", 1, 60, 600, 1200))
    await save_stats(redis, _record(2, "SEV-1", 1, 30, 300, 900))
    await slack.command("U0ALICE", "incident-stats severity=sev-1 since=7d")
    await slack.wait_card("Incident statistics")
    run = await wait_for(client, (await client.list_runs())[0]["id"])
    assert [s["severity"] for s in json.loads(run.meta["result"])["stats"]] == ["SEV-1"]
    assert run.notes[0].startswith("Incidents over the past 7 days, SEV-1 only: SEV-1 (1)")

    empty = await client.start("incident-stats", {"since": timedelta(hours=1), "severity": "SEV-4"},
                               requester="U0ALICE")
    run = await wait_for(client, empty)
    assert run.notes == ["No incidents recorded over the past 1 hour, SEV-4 only."]


def test_percentiles() -> None:
    assert p90([5.0]) == 5.0
    assert p90([float(v) for v in range(1, 11)]) == 9.0
    assert p90([float(v) for v in range(1, 12)]) == 10.0
    assert spread([]).model_dump() == {"n": 0, "mean": None, "median": None, "p90": None}
    out = summarize([{"severity": "SEV-3", "tta": 10, "ttm": None, "ttr": 40}])
    assert out[0].measures["ttm"].n == 0 and out[0].measures["ttr"].median == 40
