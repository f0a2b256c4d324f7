"""Recurring schedules: ``/run schedule|schedules|unschedule`` through the sandbox, firing once per
occurrence with two bot replicas, misfire coalescing, and crontab weekday numbers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from bot.schedule_store import CHECKED, Schedule, ScheduleStore
from bot.schedules import latest_due, next_times, parse_cron
from engine.arguments import ArgumentError
from engine.client import ShepherdClient
from state import keys
from tests.bot.conftest import Harness, Slack, replica
from tests.sandbox.control_client import eventually


@pytest.fixture(autouse=True)
def _poll(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bots' schedule poll: slow (so tests drive firing with synthetic times) unless asked."""
    monkeypatch.setenv("SHEPHERD_SCHEDULE_POLL", str(getattr(request, "param", 60)))
    monkeypatch.setenv("SHEPHERD_REMINDER_INTERVAL", "3600")


async def scheduled(slack: Slack, redis: Redis, user: str, text: str) -> Schedule:
    """Run ``/run schedule ...`` and return the schedule its reply names."""
    before = len(await slack.ephemerals(user))
    await slack.command(user, f"schedule {text}")

    async def replied() -> bool:
        return len(await slack.ephemerals(user)) > before

    await eventually(replied, 10)
    reply = (await slack.ephemerals(user))[-1]
    assert reply.startswith("Scheduled `sch-"), reply
    schedule = await ScheduleStore(redis).get(reply.split("`")[1])
    assert schedule is not None
    return schedule


# -- commands ---------------------------------------------------------------------------------


async def test_bad_schedules_are_refused_and_nothing_is_stored(harness: Harness, slack: Slack, redis: Redis) -> None:
    cases = [
        ('nope "* * * * *"', "Unknown process 'nope'"),
        ('gate-demo "61 * * * *"', "cron '61 * * * *' is not valid"),
        ("gate-demo */5 * * * *", "has 1 field(s); expected 5"),
        ('gate-demo "* * * * 9"', "weekday '9' is out of range"),
        ('gate-demo "0 9 * * *" --tz Mars/Olympus', "unknown time zone 'Mars/Olympus'"),
        ('escalation-demo "0 9 * * *" timeout=soon', "timeout"),
        ('escalation-demo "0 9 * * 1-5" colour=red', "colour"),
        ("gate-demo", 'usage: /run schedule &lt;process&gt; "&lt;cron&gt;"'),  # mrkdwn: shows <process>
    ]
    for text, needle in cases:
        await slack.command("U0ALICE", f"schedule {text}")
        await slack.wait_ephemeral("U0ALICE", needle)
    texts = await slack.ephemerals("U0ALICE")
    assert not any("Scheduled" in t for t in texts), texts
    assert await ScheduleStore(redis).all() == []
    assert await redis.hlen(CHECKED) == 0


async def test_schedule_list_and_reply(harness: Harness, slack: Slack, redis: Redis) -> None:
    schedule = await scheduled(slack, redis, "U0ALICE", 'gate-demo "30 9 * * 1-5" nightly --tz Europe/Paris')
    assert (schedule.process, schedule.cron, schedule.timezone) == ("gate-demo", "30 9 * * 1-5", "Europe/Paris")
    assert (schedule.channel, schedule.creator, schedule.inputs) == ("C0OPS", "U0ALICE", {"name": "nightly"})
    reply = (await slack.ephemerals("U0ALICE"))[-1]
    upcoming = reply.split("Next: ")[1].split(". Remove")[0].split(", ")
    assert len(upcoming) == 3 and all("09:30 Europe/Paris" in t for t in upcoming), upcoming
    assert all(t[:3] in ("Mon", "Tue", "Wed", "Thu", "Fri") for t in upcoming), upcoming  # 1-5: weekdays
    await slack.command("U0BOB", "schedules")
    listing = await slack.wait_ephemeral("U0BOB", "*Schedules*")
    assert f"`{schedule.id}` `gate-demo nightly` at `30 9 * * 1-5` (Europe/Paris) in <#C0OPS> by <@U0ALICE>" \
        in listing[-1]


async def test_unschedule_by_creator_only(harness: Harness, slack: Slack, redis: Redis) -> None:
    schedule = await scheduled(slack, redis, "U0ALICE", 'gate-demo "0 3 * * *"')
    await slack.command("U0BOB", f"unschedule {schedule.id}")
    await slack.wait_ephemeral("U0BOB", f"Only its creator (<@U0ALICE>) can remove schedule `{schedule.id}`")
    assert await ScheduleStore(redis).get(schedule.id) is not None
    await slack.command("U0ALICE", f"unschedule {schedule.id}")
    await slack.wait_ephemeral("U0ALICE", f"Removed schedule `{schedule.id}`")
    assert await ScheduleStore(redis).all() == []
    await slack.command("U0ALICE", f"unschedule {schedule.id}")
    await slack.wait_ephemeral("U0ALICE", f"no schedule '{schedule.id}'")


# -- firing -----------------------------------------------------------------------------------


async def test_each_occurrence_fires_once_with_two_replicas(harness: Harness, slack: Slack, redis: Redis,
                                                           client: ShepherdClient) -> None:
    """Clock driven by the test: an every-minute cron, checked by two replicas at synthetic times."""
    schedule = await scheduled(slack, redis, "U0ALICE", 'gate-demo "* * * * *" minutely')
    # Move the schedule to a synthetic past so that the bots' own real-time polls find nothing due.
    base = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
    await ScheduleStore(redis).set_checked(schedule.id, base + timedelta(days=3650))
    assert harness.bot is not None
    async with replica(harness) as other:
        runners = (harness.bot.jobs.runner, other.jobs.runner)
        store = ScheduleStore(redis)
        started: list[str] = []
        for minute in range(3):  # 12:00:20, 12:01:20, 12:02:20, each looked at by both replicas twice
            at = base + timedelta(minutes=minute, seconds=20)
            await redis.hset(CHECKED, schedule.id, (at - timedelta(seconds=30)).isoformat())
            results = await asyncio.gather(*(r.fire_due(now=at) for r in runners))
            results += await asyncio.gather(*(r.fire_due(now=at + timedelta(seconds=5)) for r in runners))
            ids = {run_id for result in results for run_id in result}
            assert len(ids) == 1, results
            started += ids
            assert await store.checked(schedule.id) == at + timedelta(seconds=5)
        # A replica that read a stale check mark starts nothing new: the engine dedups the occurrence.
        await redis.hset(CHECKED, schedule.id, (base + timedelta(minutes=1, seconds=50)).isoformat())
        assert await runners[1].fire_due(now=base + timedelta(minutes=2, seconds=40)) == [started[-1]]

    runs = await client.list_runs(limit=100)
    assert sorted(r["id"] for r in runs) == sorted(started) and len(set(started)) == 3
    assert {(r["process"], r["requester"], r["channel"]) for r in runs} == {("gate-demo", "U0ALICE", "C0OPS")}
    for minute, run_id in enumerate(started):
        occurrence = (base + timedelta(minutes=minute)).isoformat()
        assert await redis.get(keys.dedup(f"schedule:{schedule.id}:{occurrence}")) == run_id


async def test_missed_occurrences_coalesce_into_the_latest(harness: Harness, slack: Slack, redis: Redis,
                                                          client: ShepherdClient) -> None:
    schedule = await scheduled(slack, redis, "U0ALICE", 'gate-demo "0 3 * * *" nightly')
    down_since = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)  # bots down for five nights
    await redis.hset(CHECKED, schedule.id, down_since.isoformat())
    assert harness.bot is not None
    back = datetime(2031, 5, 6, 8, 0, tzinfo=UTC)
    started = await harness.bot.jobs.runner.fire_due(now=back)
    assert len(started) == 1
    latest = datetime(2031, 5, 6, 3, 0, tzinfo=UTC).isoformat()
    assert await redis.get(keys.dedup(f"schedule:{schedule.id}:{latest}")) == started[0]
    assert await harness.bot.jobs.runner.fire_due(now=back + timedelta(hours=1)) == []
    assert [r["id"] for r in await client.list_runs()] == started


@pytest.mark.parametrize("_poll", [0.2], indirect=True)
async def test_every_minute_schedule_fires_in_real_time(harness: Harness, slack: Slack, redis: Redis,
                                                       client: ShepherdClient) -> None:
    """The bots' own apscheduler jobs (poll 0.2 s, two replicas) start the current minute's
    occurrence once; its card shows in the schedule's channel with the creator as requester."""
    schedule = await scheduled(slack, redis, "U0ALICE", 'gate-demo "* * * * *" realtime')
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    # As if the last check was just before this minute's occurrence (rather than waiting up to a minute).
    await redis.hset(CHECKED, schedule.id, (minute - timedelta(seconds=1)).isoformat())
    async with replica(harness):
        async def one_run() -> bool:
            return len(await client.list_runs()) >= 1

        await eventually(one_run, 10)
        await asyncio.sleep(1.0)  # five more polls on each replica
        runs = await client.list_runs()
    # One run per occurrence: this minute's, and the next one's only if the minute turned meanwhile.
    owners = {o.isoformat(): await redis.get(keys.dedup(f"schedule:{schedule.id}:{o.isoformat()}"))
              for o in (minute, minute + timedelta(minutes=1))}
    assert owners[minute.isoformat()] is not None
    # Every run listed owns an occurrence, and this minute's is among them. The next minute's may
    # have started after the list was read (the bot outside the replica block goes on polling).
    listed = {r["id"] for r in runs}
    assert owners[minute.isoformat()] in listed and listed <= {o for o in owners.values() if o}
    assert len(listed) == len(runs)
    assert {(r["process"], r["requester"], r["channel"]) for r in runs} == {("gate-demo", "U0ALICE", "C0OPS")}

    async def cards_shown() -> bool:
        cards = [m for m in await slack.top() if (m.get("metadata") or {}).get("event_type") == "shepherd_card"]
        return len(cards) >= len(runs) and all("Requested by <@U0ALICE>" in str(c["blocks"]) for c in cards)

    await eventually(cards_shown, 10)


# -- cron -------------------------------------------------------------------------------------


def test_crontab_weekday_numbers() -> None:
    start = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)  # a Saturday
    weekdays = [t.strftime("%a") for t in next_times(parse_cron("0 9 * * 1-5"), start, 5)]
    assert weekdays == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    assert [t.strftime("%a") for t in next_times(parse_cron("0 9 * * 0"), start, 2)] == ["Sun", "Sun"]
    assert [t.strftime("%a") for t in next_times(parse_cron("0 9 * * 7"), start, 1)] == ["Sun"]
    assert [t.strftime("%a") for t in next_times(parse_cron("0 9 * * */2"), start, 4)] == ["Sun", "Tue", "Thu", "Sat"]
    assert [t.strftime("%a") for t in next_times(parse_cron("0 9 * * sat,mon"), start, 2)] == ["Mon", "Sat"]
    paris = next_times(parse_cron("30 9 * * *", "Europe/Paris"), start, 1)[0]
    assert paris.astimezone(UTC).hour == 8  # 09:30 in Paris is 08:30 UTC in winter
    assert next_times(parse_cron("@weekly"), start, 1)[0] == datetime(2026, 11, 29, 0, 0, tzinfo=UTC)
    with pytest.raises(ArgumentError, match="expected 5"):
        parse_cron("* * * *")


def test_latest_due_counts_missed_occurrences() -> None:
    trigger = parse_cron("*/15 * * * *")
    after = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    latest, count = latest_due(trigger, after, after + timedelta(hours=1))
    assert (latest, count) == (after + timedelta(hours=1), 4)  # 10:15, 10:30, 10:45, 11:00; not 10:00
    assert latest_due(trigger, after, after + timedelta(minutes=14)) == (None, 0)
