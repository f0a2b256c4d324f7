"""Every Redis key Shepherd writes, pinned byte for byte.

Runs in flight, posted Slack cards, schedules and incident counters live under these names: a key
that changes spelling orphans them. The expected strings are written out literally, not built
from ``state.keys``, so a change there fails here. And no module outside ``state/keys.py`` spells
a key itself (one home per concept)."""

from __future__ import annotations

import re

from state import keys
from tests.helpers import ROOT

PINNED = [
    # the engine's
    (keys.TASKS_STREAM, "shepherd:queue:tasks"),
    (keys.WAKE_STREAM, "shepherd:queue:wake"),
    (keys.DEAD_LETTERS, "shepherd:queue:dead"),
    (keys.NOTIFY_STREAM, "shepherd:queue:notify"),
    (keys.TIMERS, "shepherd:timers"),
    (keys.WORKERS, "shepherd:workers"),
    (keys.meta("r1"), "shepherd:{run:r1}:meta"),
    (keys.journal("r1"), "shepherd:{run:r1}:journal"),
    (keys.effects("r1"), "shepherd:{run:r1}:effects"),
    (keys.gates("r1"), "shepherd:{run:r1}:gates"),
    (keys.undispatched("r1"), "shepherd:{run:r1}:undispatched"),
    (keys.signals("r1"), "shepherd:{run:r1}:signals"),
    (keys.lock("r1"), "shepherd:{run:r1}:lock"),
    (keys.artifact("r1", "s3"), "shepherd:{run:r1}:artifact:s3"),
    (keys.status_index("waiting"), "shepherd:{index}:status:waiting"),
    (keys.channel_index("C1"), "shepherd:{index}:channel:C1"),
    (keys.requester_index("U1"), "shepherd:{index}:requester:U1"),
    (keys.dedup("t1"), "shepherd:dedup:t1"),
    # the Slack front end's (bot/ledger.py, reminders.py, home.py, redelivery.py, schedule_store.py)
    (keys.slack_ledger("r1"), "shepherd:{run:r1}:slack"),
    (keys.slack_ledger_lock("r1"), "shepherd:{run:r1}:slack:lock"),
    (keys.slack_reminders("r1"), "shepherd:{run:r1}:reminders"),
    (keys.slack_reminder_claim("r1", "s2", 3), "shepherd:{run:r1}:reminder:s2:3"),
    (keys.slack_reminder_claim("r1", "s2", "escalated"), "shepherd:{run:r1}:reminder:s2:escalated"),
    (keys.SLACK_HOME_USERS, "shepherd:slack:home_users"),
    (keys.slack_delivered("ev1"), "shepherd:{slack}:delivered:ev1"),
    (keys.SCHEDULES, "shepherd:{schedules}:all"),
    (keys.SCHEDULES_CHECKED, "shepherd:{schedules}:checked"),
    (keys.schedule_lock("sch-1"), "shepherd:{schedules}:lock:sch-1"),
    # the incident processes' (processes/_incident/store.py, effects.py)
    (keys.incident_seq("20261208"), "shepherd:{incidents}:seq:20261208"),
    (keys.incident_id("k1"), "shepherd:{incidents}:id:k1"),
    (keys.incident_done("k1"), "shepherd:{incidents}:done:k1"),
    (keys.incident_effect("k1"), "shepherd:{incidents}:effect:k1"),
    (keys.incident_intent("k1"), "shepherd:{incidents}:intent:k1"),
    (keys.INCIDENT_STATS, "shepherd:{incidents}:stats"),
    (keys.INCIDENT_STATS_BY_TIME, "shepherd:{incidents}:stats:by_time"),
]


def test_every_key_is_spelled_as_runs_in_flight_have_it() -> None:
    assert [(built, pinned) for built, pinned in PINNED if built != pinned] == []


def test_the_modules_that_use_the_keys_use_these() -> None:
    from bot import home, ledger, redelivery, reminders, schedule_store
    from processes.incident import effects, store

    assert ledger.ledger_key("r1") == "shepherd:{run:r1}:slack"
    assert ledger.lock_key("r1") == "shepherd:{run:r1}:slack:lock"
    assert reminders.state_key("r1") == "shepherd:{run:r1}:reminders"
    assert reminders.claim_key("r1", "s2", 1) == "shepherd:{run:r1}:reminder:s2:1"
    assert home.HOME_USERS == "shepherd:slack:home_users"
    assert redelivery.seen_key("ev1") == "shepherd:{slack}:delivered:ev1"
    assert (schedule_store.ALL, schedule_store.CHECKED) == ("shepherd:{schedules}:all", "shepherd:{schedules}:checked")
    assert schedule_store.lock_key("sch-1") == "shepherd:{schedules}:lock:sch-1"
    assert store.seq_key("20261208") == "shepherd:{incidents}:seq:20261208"
    assert effects._record("k1") == "shepherd:{incidents}:effect:k1"
    assert effects._intent("k1") == "shepherd:{incidents}:intent:k1"


#: A key spelled in place: a "shepherd:" literal, or a key built on state.keys' prefix or run tag.
SPELLED = re.compile(r"""["']shepherd:|keys\.PREFIX\b|keys\.run_tag\(|\{PREFIX\}:""")


def test_no_module_but_state_keys_spells_a_key() -> None:
    packages = ("bot", "engine", "integrations", "processes", "sandbox", "shepherd", "state")
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
             for package in packages for path in sorted((ROOT / package).rglob("*.py"))
             if path != ROOT / "state" / "keys.py"
             for n, line in enumerate(path.read_text().splitlines(), 1) if SPELLED.search(line)]
    assert found == []
