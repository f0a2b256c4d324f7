"""Every Redis key Shepherd uses, in one place.

All keys of one run share the hash tag ``{run:<id>}`` so that every multi-key
script touches a single Redis Cluster slot. Global structures (queues, timers,
indexes) live outside any run's slot and are only ever touched one key at a
time.
"""

from __future__ import annotations

PREFIX = "shepherd"

TASKS_STREAM = f"{PREFIX}:queue:tasks"
WAKE_STREAM = f"{PREFIX}:queue:wake"
DEAD_LETTERS = f"{PREFIX}:queue:dead"
#: "Run X has new journal entries": a hint for front ends (the Slack notifier) to catch up.
#: The journal stays the source of truth, so this stream may be trimmed.
NOTIFY_STREAM = f"{PREFIX}:queue:notify"
CONSUMER_GROUP = "workers"
TIMERS = f"{PREFIX}:timers"
WORKERS = f"{PREFIX}:workers"
#: Indexes share one hash tag so that listing every run (a union of the status
#: indexes) stays a single-slot command on Redis Cluster.
INDEX = f"{PREFIX}:{{index}}"


def run_tag(run_id: str) -> str:
    return f"{PREFIX}:{{run:{run_id}}}"


def meta(run_id: str) -> str:
    """Hash: process, status, requester, channel, inputs, result, error ..."""
    return f"{run_tag(run_id)}:meta"


def journal(run_id: str) -> str:
    """List of JSON events; its length is the fencing token."""
    return f"{run_tag(run_id)}:journal"


def effects(run_id: str) -> str:
    """Hash: step key -> effect status, plus ``<key>#lease`` style task bookkeeping."""
    return f"{run_tag(run_id)}:effects"


def gates(run_id: str) -> str:
    """Hash: step key -> JSON state of an open or decided breakpoint / ask."""
    return f"{run_tag(run_id)}:gates"


def undispatched(run_id: str) -> str:
    """Set of step keys journaled as requested but not yet queued or scheduled, and
    ``WAKE_MARK`` while a front end's write still waits for an orchestrator (``engine.sweeper``)."""
    return f"{run_tag(run_id)}:undispatched"


#: Member of a run's undispatched set: "a start, decision, answer, signal or retry was written and no
#: orchestrator has seen it yet". Step keys written by processes cannot hold '@'.
WAKE_MARK = "@wake"


def signals(run_id: str) -> str:
    """Hash: ``channel:<name>`` -> JSON record of a signal channel the process declared (its model
    and senders, checked by front ends and the signal script); ``id:<signal id>`` -> who sent that
    signal and when (a second send with the same id is a no-op)."""
    return f"{run_tag(run_id)}:signals"


def lock(run_id: str) -> str:
    return f"{run_tag(run_id)}:lock"


def artifact(run_id: str, key: str) -> str:
    return f"{run_tag(run_id)}:artifact:{key}"


def status_index(status: str) -> str:
    return f"{INDEX}:status:{status}"


def channel_index(channel: str) -> str:
    return f"{INDEX}:channel:{channel}"


def requester_index(requester: str) -> str:
    return f"{INDEX}:requester:{requester}"


def dedup(token: str) -> str:
    """Start-request deduplication (a retried slash command must not start twice)."""
    return f"{PREFIX}:dedup:{token}"


def run_keys(run_id: str) -> list[str]:
    """The fixed keys a run's scripts take, in script order."""
    return [journal(run_id), meta(run_id), effects(run_id), gates(run_id), undispatched(run_id), signals(run_id)]


# -- the Slack front end's own records -------------------------------------------------------------
# Kept beside the engine's so that one file shows every key. The strings must never change:
# runs in flight and posted cards refer to them (tests/test_keys.py pins each one).


def slack_ledger(run_id: str) -> str:
    """Hash beside the run: the Slack messages posted for it (card, thread, gates) and the intent
    of a post in progress, so a restarted bot edits rather than posts twice."""
    return f"{run_tag(run_id)}:slack"


def slack_ledger_lock(run_id: str) -> str:
    """Held by the one notifier syncing this run's messages right now."""
    return f"{run_tag(run_id)}:slack:lock"


def slack_reminders(run_id: str) -> str:
    """Hash beside the run: what was reminded of its gates (opened, count, last, escalated)."""
    return f"{run_tag(run_id)}:reminders"


def slack_reminder_claim(run_id: str, gate: str, number: int | str) -> str:
    """One reminder (or ``escalated``) of one gate: whoever sets it first posts it."""
    return f"{run_tag(run_id)}:reminder:{gate}:{number}"


#: Set of users who have opened the bot's App Home (their homes are refreshed as gates change).
SLACK_HOME_USERS = f"{PREFIX}:slack:home_users"


def slack_delivered(identity: str) -> str:
    """A Slack delivery (event, command or click) already handled: a redelivery is dropped."""
    return f"{PREFIX}:{{slack}}:delivered:{identity}"


#: Recurring schedules share one hash tag (one Redis Cluster slot).
SCHEDULES_TAG = f"{PREFIX}:{{schedules}}"
SCHEDULES = f"{SCHEDULES_TAG}:all"
"""Hash: schedule id -> JSON schedule."""
SCHEDULES_CHECKED = f"{SCHEDULES_TAG}:checked"
"""Hash: schedule id -> ISO time up to which its occurrences were handled."""


def schedule_lock(schedule_id: str) -> str:
    """Held by the one replica looking at that schedule right now."""
    return f"{SCHEDULES_TAG}:lock:{schedule_id}"


# -- the incident processes' own records (``{incidents}`` hash tag: never meets run keys) ---------

INCIDENTS = f"{PREFIX}:{{incidents}}"
INCIDENT_STATS = f"{INCIDENTS}:stats"
"""Hash: incident id -> JSON statistics record."""
INCIDENT_STATS_BY_TIME = f"{INCIDENTS}:stats:by_time"
"""Sorted set: incident id by declaration time."""


def incident_seq(day: str) -> str:
    """INCR counter of the day's incident numbers (``yyyymmdd``)."""
    return f"{INCIDENTS}:seq:{day}"


def incident_id(idempotency_key: str) -> str:
    """The incident id a task delivery was given (a redelivery gets the same one)."""
    return f"{INCIDENTS}:id:{idempotency_key}"


def incident_done(idempotency_key: str) -> str:
    """A task's recorded result, once per idempotency key."""
    return f"{INCIDENTS}:done:{idempotency_key}"


def incident_effect(key: str) -> str:
    """An external effect's recorded outcome (a page, a channel), once per key."""
    return f"{INCIDENTS}:effect:{key}"


def incident_intent(key: str) -> str:
    """An external effect about to be attempted (what to look for after a crash)."""
    return f"{INCIDENTS}:intent:{key}"
