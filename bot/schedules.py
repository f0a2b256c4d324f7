"""Recurring schedules (``/run schedule|schedules|unschedule``), their firing, and the bot's
apscheduler, which also drives gate reminders.

Firing is a poll, not one apscheduler job per schedule: every ``SHEPHERD_SCHEDULE_POLL`` seconds
each replica looks at every schedule (one replica at a time, under a per-schedule lock), computes
the cron occurrences since the schedule was last checked and starts a run for the latest one with
``dedup="schedule:<id>:<occurrence>"``; the engine's dedup key (SET NX) makes that occurrence one
run however many replicas reach it. Occurrences missed while every bot was down are coalesced,
as cron tools do: only the latest one fires.

Cron expressions are standard 5-field crontab (minute hour day month weekday) with crontab's
weekday numbers (0 and 7 = Sunday), or ``@hourly``, ``@daily``, ``@weekly``, ``@monthly``,
``@yearly``; apscheduler's ``CronTrigger`` evaluates them in the schedule's time zone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from redis.asyncio import Redis
from redis.exceptions import LockError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ids import mention
from bot.pacer import ChannelPacer
from bot.reminders import Reminders
from bot.schedule_store import Schedule, ScheduleStore, lock_key, new_schedule_id
from bot.settings import BotSettings
from engine.arguments import ArgumentError, parse_command
from engine.client import ShepherdClient
from engine.errors import NotAllowed, ShepherdError
from engine.mrkdwn import escape
from engine.registry import get_process
from state.connection import UNAVAILABLE

log = logging.getLogger(__name__)

VERBS = ("schedule", "schedules", "unschedule")
MAX_STEPS = 200_000  # occurrences walked to find the latest missed one (a year of every-minute crons)
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NUMERIC_DOW = re.compile(r"^(\*|\d+(?:-\d+)?)(?:/(\d+))?$")
MACROS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
          "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"}


# -- cron -----------------------------------------------------------------------------------


def _weekdays(field: str) -> str:
    """Crontab weekday numbers (0 or 7 = Sunday) as names: apscheduler 3 counts 0 as Monday, so
    ``1-5`` must reach it as ``mon,tue,wed,thu,fri``. Names and ``*`` pass through unchanged."""
    parts = []
    for part in field.split(","):
        match = _NUMERIC_DOW.match(part)
        if not match or part == "*":
            parts.append(part)
            continue
        span, step = match[1], int(match[2] or 1)
        first, last = (0, 6) if span == "*" else (int(span.split("-")[0]), int(span.split("-")[-1]))
        if not 0 <= first <= 7 or not 0 <= last <= 7 or first > last or step < 1:
            raise ValueError(f"weekday '{part}' is out of range (0-7, 0 and 7 are Sunday)")
        parts.append(",".join(dict.fromkeys(_DAYS[day % 7] for day in range(first, last + 1, step))))
    return ",".join(parts)


def parse_cron(cron: str, timezone: str = "UTC") -> CronTrigger:
    """A trigger for a 5-field crontab expression, or an ``ArgumentError`` saying what is wrong."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ArgumentError(f"unknown time zone '{timezone}' (use an IANA name such as Europe/Paris)") from None
    fields = MACROS.get(cron.strip().lower(), cron).split()
    if len(fields) != 5:
        raise ArgumentError(f"cron '{cron}' has {len(fields)} field(s); expected 5: minute hour day month weekday "
                            "(quote it: \"*/5 * * * *\")")
    try:
        return CronTrigger(minute=fields[0], hour=fields[1], day=fields[2], month=fields[3],
                           day_of_week=_weekdays(fields[4]), timezone=zone)
    except ValueError as exc:
        raise ArgumentError(f"cron '{cron}' is not valid: {exc}") from None


def next_times(trigger: CronTrigger, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times strictly after ``after``."""
    times: list[datetime] = []
    moment = after
    while len(times) < count:
        nxt = trigger.get_next_fire_time(None, moment + timedelta(microseconds=1))
        if nxt is None:
            break
        times.append(nxt)
        moment = nxt
    return times


def latest_due(trigger: CronTrigger, after: datetime, until: datetime) -> tuple[datetime | None, int]:
    """The latest occurrence in ``(after, until]`` and how many there were (misfires coalesce)."""
    latest, count, moment = None, 0, after
    while count < MAX_STEPS:
        nxt = trigger.get_next_fire_time(None, moment + timedelta(microseconds=1))
        if nxt is None or nxt > until:
            break
        latest, count, moment = nxt, count + 1, nxt
    return latest, count


def show_time(moment: datetime, timezone: str) -> str:
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%a %d %b %H:%M} {timezone}"


# -- /run schedule, /run schedules, /run unschedule ------------------------------------------


def _take_timezone(args: list[str]) -> tuple[str, list[str]]:
    """``--tz=Europe/Paris`` or ``--tz Europe/Paris`` among the arguments (default UTC)."""
    rest, zone, index = [], "UTC", 0
    while index < len(args):
        token = args[index]
        if token.startswith("--tz="):
            zone = token[5:]
        elif token == "--tz":
            if index + 1 >= len(args):
                raise ArgumentError("--tz needs a time zone, e.g. --tz Europe/Paris")
            zone, index = args[index + 1], index + 1
        else:
            rest.append(token)
        index += 1
    return zone, rest


async def add_schedule(store: ScheduleStore, command: str, tokens: list[str], user: str, channel: str, *,
                       may_start: Callable[[str], Awaitable[None]] | None = None,
                       now: datetime | None = None) -> str:
    """Validate everything (process, permission, cron, time zone, arguments) before storing anything."""
    if len(tokens) < 3:
        raise ArgumentError(f'usage: {command} schedule <process> "<cron>" [args] [--tz Europe/Paris]')
    definition = get_process(tokens[1])
    if may_start is not None:
        await may_start(definition.id)
    timezone, args = _take_timezone(tokens[3:])
    problems: list[str] = []
    trigger = None
    try:
        trigger = parse_cron(tokens[2], timezone)
    except ArgumentError as exc:
        problems += exc.lines
    try:
        inputs = parse_command(definition.inputs, definition.positional, args)
    except ArgumentError as exc:
        problems += exc.lines
    if problems or trigger is None:
        raise ArgumentError(problems)
    created = now or datetime.now(UTC)
    schedule = Schedule(id=new_schedule_id(), process=definition.id, inputs=inputs.model_dump(mode="json"),
                        args=" ".join(args), cron=tokens[2], timezone=timezone, channel=channel, creator=user,
                        created_at=created)
    await store.add(schedule)
    upcoming = ", ".join(show_time(t, timezone) for t in next_times(trigger, created, 3))
    return (f"Scheduled `{schedule.id}`: *{definition.title}* at `{schedule.cron}` ({timezone}) in <#{channel}>, "
            f"started on your behalf. Next: {upcoming or 'never (the expression matches no future time)'}. "
            f"Remove it with `{command} unschedule {schedule.id}`.")


async def list_schedules(store: ScheduleStore, command: str, now: datetime | None = None) -> str:
    schedules = await store.all()
    if not schedules:
        return f'No schedules. Add one: `{command} schedule <process> "<cron>" [args]`'
    lines = ["*Schedules*"]
    for s in schedules:
        upcoming = next_times(parse_cron(s.cron, s.timezone), now or datetime.now(UTC), 1)
        nxt = show_time(upcoming[0], s.timezone) if upcoming else "never"
        args = f" {escape(s.args)}" if s.args else ""  # as typed: shown, never a ping
        lines.append(f"• `{s.id}` `{s.process}{args}` at `{s.cron}` ({s.timezone}) in <#{s.channel}> "
                     f"by {mention(s.creator)} — next {nxt}")
    return "\n".join(lines)


async def remove_schedule(store: ScheduleStore, command: str, tokens: list[str], user: str) -> str:
    if len(tokens) != 2:
        raise ArgumentError(f"usage: {command} unschedule <schedule id>")
    schedule = await store.get(tokens[1])
    if schedule is None:
        raise ArgumentError(f"no schedule '{tokens[1]}' (see `{command} schedules`)")
    if schedule.creator != user:
        raise NotAllowed(f"only its creator ({mention(schedule.creator)}) can remove schedule `{schedule.id}`")
    await store.remove(schedule.id)
    return f"Removed schedule `{schedule.id}` ({schedule.process} at `{schedule.cron}`)."


async def schedule_command(store: ScheduleStore, command: str, tokens: list[str], body: dict[str, Any], *,
                           may_start: Callable[[str], Awaitable[None]] | None = None) -> str:
    """``/run schedule ...``, ``/run schedules``, ``/run unschedule <id>`` (``tokens[0]`` is the verb).

    ``may_start(process)`` raises ``NotAllowed`` when the person may not start that process here:
    a schedule's runs are started on its creator's behalf, so the creator must be allowed now."""
    verb = tokens[0].lower()
    if verb == "schedule":
        return await add_schedule(store, command, tokens, body["user_id"], body["channel_id"], may_start=may_start)
    if verb == "schedules":
        return await list_schedules(store, command)
    return await remove_schedule(store, command, tokens, body["user_id"])


# -- firing -----------------------------------------------------------------------------------


class ScheduleRunner:
    """Starts the runs that schedules owe; ``fire_due(now)`` is the periodic job."""

    def __init__(self, redis: Redis, engine: ShepherdClient, web: AsyncWebClient | None = None,
                 pacer: ChannelPacer | None = None) -> None:
        self.redis, self.engine, self.web = redis, engine, web
        self.pacer = pacer or ChannelPacer(1.0)
        self.store = ScheduleStore(redis)

    async def fire_due(self, now: datetime | None = None) -> list[str]:
        """Start every schedule's latest occurrence in (last check, now]; returns the run ids this
        call started or found already started."""
        moment = now or datetime.now(UTC)
        started = []
        for schedule in await self.store.all():
            lock = self.redis.lock(lock_key(schedule.id), timeout=30)
            if not await lock.acquire(blocking=True, blocking_timeout=5):
                continue  # another replica has been at it for a while: it will do it
            try:
                run_id = await self._fire(schedule, moment)
            finally:
                with contextlib.suppress(LockError):  # held past its timeout: already free
                    await lock.release()
            if run_id:
                started.append(run_id)
        return started

    async def _fire(self, schedule: Schedule, now: datetime) -> str | None:
        since = await self.store.checked(schedule.id) or schedule.created_at
        if now <= since:
            return None
        occurrence, count = latest_due(parse_cron(schedule.cron, schedule.timezone), since, now)
        run_id = None
        if occurrence is not None:
            at = occurrence.astimezone(UTC).isoformat()
            if count > 1:
                log.info("schedule %s: %d occurrences missed; starting only the latest (%s)",
                         schedule.id, count, at)
            try:
                run_id = await self.engine.start(schedule.process, schedule.inputs, requester=schedule.creator,
                                                 channel=schedule.channel, dedup=f"schedule:{schedule.id}:{at}")
            except ShepherdError as exc:  # the process was removed or its inputs changed since
                log.warning("schedule %s could not start %s: %s", schedule.id, schedule.process, exc)
                await self._tell(schedule, f"⚠️ Schedule `{schedule.id}` could not start "
                                           f"`{schedule.process}` for {show_time(occurrence, schedule.timezone)}: "
                                           f"{escape(exc)}")
        await self.store.set_checked(schedule.id, now)
        return run_id

    async def _tell(self, schedule: Schedule, text: str) -> None:
        if self.web is None:
            return
        try:
            await self.pacer.wait(schedule.channel)
            await self.web.chat_postMessage(channel=schedule.channel, text=text)
        except SlackApiError as exc:
            log.warning("schedule %s: Slack refused the notice: %s", schedule.id, exc.response.get("error"))


# -- the bot's apscheduler -------------------------------------------------------------------


class BotScheduler:
    """The bot's periodic jobs on an apscheduler ``AsyncIOScheduler``: gate reminders and
    schedule firing, as interval jobs. ``stop`` lets a job in progress finish (apscheduler would
    cancel it mid-post)."""

    def __init__(self, redis: Redis, engine: ShepherdClient, web: AsyncWebClient, settings: BotSettings,
                 pacer: ChannelPacer | None = None) -> None:
        self.settings = settings
        self.reminders = Reminders(redis, web, interval=settings.reminder_interval, pacer=pacer)
        self.runner = ScheduleRunner(redis, engine, web, pacer)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        # apscheduler logs two INFO lines per job run: every few seconds, forever. Failures stay visible.
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
        self._running: set[asyncio.Task[Any]] = set()
        self._stopping = False

    @property
    def reminder_tick(self) -> float:
        """How often to look for due reminders: a quarter of the interval, between 0.2 s and 15 s
        (also how soon an escalation is pinged)."""
        return min(max(self.settings.reminder_interval / 4, 0.2), 15.0)

    def start(self) -> None:
        now = datetime.now(UTC)
        for name, job, every in (("reminders", self.reminders.check, self.reminder_tick),
                                 ("schedules", self.runner.fire_due, self.settings.schedule_poll)):
            self.scheduler.add_job(self._guarded(name, job), IntervalTrigger(seconds=every), id=f"shepherd-{name}",
                                   next_run_time=now, coalesce=True, max_instances=1, misfire_grace_time=None)
        self.scheduler.start()

    async def stop(self) -> None:
        self._stopping = True
        if self._running:
            await asyncio.wait(set(self._running), timeout=30)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # the shutdown itself runs on the loop's next turn

    def _guarded(self, name: str, job: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            task = asyncio.current_task()
            if self._stopping or task is None:
                return
            self._running.add(task)
            try:
                await job()
            except UNAVAILABLE as exc:
                log.warning("%s: Redis unavailable (%s); trying again next time", name, type(exc).__name__)
            except Exception:
                log.exception("%s: periodic job failed; trying again next time", name)
            finally:
                self._running.discard(task)

        return run
