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
