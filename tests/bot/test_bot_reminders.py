"""Reminders of open gates and escalation pings, end to end through the sandbox, with two bot
replicas on one Redis: each reminder and each ping is posted once."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from typing import Any

import pytest

from bot.reminders import reminder_text
from engine.client import ShepherdClient
from tests.bot.conftest import Harness, Slack, replica
from tests.helpers import wait_for
from tests.sandbox.control_client import Control, eventually


@pytest.fixture(autouse=True)
def _reminder_settings(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> float:
    """The bots' reminder interval (seconds): long unless a test asks for a short one."""
    interval = float(getattr(request, "param", 3600))
    monkeypatch.setenv("SHEPHERD_REMINDER_INTERVAL", str(interval))
    monkeypatch.setenv("SHEPHERD_SCHEDULE_POLL", "60")  # no schedules here
    return interval


def short_interval(seconds: float) -> Any:
    return pytest.mark.parametrize("_reminder_settings", [seconds], indirect=True)


def reminders(thread: list[dict[str, Any]], kind: str = "") -> list[dict[str, Any]]:
    found = [m for m in thread if (m.get("metadata") or {}).get("event_type") == "shepherd_reminder"]
    if kind == "escalated":
        return [m for m in found if m["metadata"]["event_payload"]["number"] == "escalated"]
    if kind == "numbered":
        return [m for m in found if m["metadata"]["event_payload"]["number"] != "escalated"]
    return found


async def started(slack: Slack, client: ShepherdClient, text: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Start a run with ``/run <text>``; return its id, card and gate message once shown."""
    await slack.command("U0ALICE", text)
    card = await slack.wait_card("Escalation demo")
    gate = await slack.wait_gate(card["ts"])
    runs = await client.list_runs()
    assert len(runs) == 1, runs
    return runs[0]["id"], card, gate


async def opened_at(client: ShepherdClient, run_id: str) -> float:
    """When the run's gate opened (its request's time in the journal), in epoch seconds."""
    request = next(e for e in await client.store.read_journal(run_id)
                   if e["type"] == "effect_requested" and e["kind"] == "breakpoint")
    return datetime.fromisoformat(request["at"]).timestamp()


async def test_one_reminder_per_interval_once_across_replicas(harness: Harness, slack: Slack,
                                                            client: ShepherdClient) -> None:
    """Clock driven by the test: reminder n is due an interval after reminder n-1 (or the opening),
    and two replicas checking at the same moment post it once."""
    run_id, card, _ = await started(slack, client, "escalation-demo approver=U0BOB timeout=36000")
    opened = await opened_at(client, run_id)
    assert harness.bot is not None
    async with replica(harness) as other:
        first, second = harness.bot.jobs.reminders, other.jobs.reminders
        assert await first.check(now=opened + 60) == 0  # open for a minute: not yet
        posted = await asyncio.gather(first.check(now=opened + 3601), second.check(now=opened + 3601))
        assert sorted(posted) == [0, 1]
        assert await first.check(now=opened + 3602) + await second.check(now=opened + 3602) == 0
        assert await second.check(now=opened + 3601 + 1800) == 0  # half an interval after the reminder
        posted = await asyncio.gather(second.check(now=opened + 7202), first.check(now=opened + 7202))
        assert sorted(posted) == [0, 1]

    thread = await slack.thread(card["ts"])
    sent = reminders(thread)
    assert [m["metadata"]["event_payload"]["number"] for m in sent] == [1, 2]
    for message in sent:
        assert message["thread_ts"] == card["ts"]
        assert "Roll back checkout?" in message["text"] and "<@U0BOB>" in message["text"]
        assert "Deadline: <!date^" in message["text"]
    assert "waiting 1h 00m" in sent[0]["text"] and "waiting 2h 00m" in sent[1]["text"]
    assert all(m["ts"] != s["ts"] for m in await slack.top() for s in sent)  # only in the thread


@short_interval(1.0)
async def test_reminders_in_real_time_stop_when_decided(harness: Harness, slack: Slack, control: Control,
                                                       client: ShepherdClient) -> None:
    run_id, card, gate = await started(slack, client, "escalation-demo approver=U0BOB timeout=36000")
    opened = await opened_at(client, run_id)
    async with replica(harness):
        async def two() -> bool:
            return len(reminders(await slack.thread(card["ts"]))) >= 2

        await eventually(two, 15)
        sent = reminders(await slack.thread(card["ts"]))
        numbers = [m["metadata"]["event_payload"]["number"] for m in sent]
        assert numbers == list(range(1, len(numbers) + 1)), numbers  # no number posted twice
        assert len(sent) <= time.time() - opened  # never more than one per interval (1 s)
        assert all("<@U0BOB>" in m["text"] for m in sent)

        await control.post("/actions", {"user": "U0BOB", "channel": "C0OPS", "ts": gate["ts"],
                                        "action_id": "shepherd_approve"})
        await wait_for(client, run_id)
        count = len(reminders(await slack.thread(card["ts"])))
        await asyncio.sleep(2.5)  # more than two intervals: a decided gate is not reminded of
        assert len(reminders(await slack.thread(card["ts"]))) == count


@short_interval(4.0)
async def test_escalation_pings_backups_once_and_rerenders_gate(harness: Harness, slack: Slack, control: Control,
                                                                client: ShepherdClient) -> None:
    run_id, card, gate = await started(slack, client, "escalation-demo approver=U0ALICE timeout=1")
    assert "<@U0ALICE>" in json.dumps(gate["blocks"])
    async with replica(harness):
        async def pinged() -> bool:
            return bool(reminders(await slack.thread(card["ts"]), "escalated"))

        await eventually(pinged, 15)
        await asyncio.sleep(2.5)  # both replicas look several more times
        pings = reminders(await slack.thread(card["ts"]), "escalated")
        assert len(pings) == 1, pings
        text = pings[0]["text"]
        assert text.startswith("⏫ Escalated to <@U0CAROL>, <!subteam^S0SRE>: nobody decided by <!date^"), text
        assert "Roll back checkout?" in text

        async def rerendered() -> bool:
            blocks = json.dumps((await slack.message(gate["ts"]))["blocks"])
            return ("Who may approve: <@U0CAROL>, <!subteam^S0SRE>" in blocks and "<@U0ALICE>" not in blocks
                    and "Escalated: nobody decided in time" in blocks)

        await eventually(rerendered, 10)
        refused = await control.post("/actions", {"user": "U0ALICE", "channel": "C0OPS", "ts": gate["ts"],
                                                  "action_id": "shepherd_approve"})
        assert refused["acked"]
        await slack.wait_ephemeral("U0ALICE", "not one of the approvers")
        await control.post("/actions", {"user": "U0CAROL", "channel": "C0OPS", "ts": gate["ts"],
                                        "action_id": "shepherd_approve"})
        run = await wait_for(client, run_id)
    assert run.status == "completed"
    outcome = (await client.store.read_journal(run_id))[-1]
    assert outcome["type"] == "run_completed" and outcome["result"] == {
        "approved": True, "by": "U0CAROL", "escalated": True}


async def test_escalation_ping_claimed_once_by_concurrent_replicas(harness: Harness, slack: Slack,
                                                                   client: ShepherdClient) -> None:
    """Clock driven by the test: two replicas looking at the escalated gate at once ping it once.
    (Both bots made their first periodic check when they started, before the run; the next is 15 s
    away, so only the test's checks look at the gate.)"""
    assert harness.bot is not None
    async with replica(harness) as other:
        run_id, card, _ = await started(slack, client, "escalation-demo approver=U0ALICE timeout=0.5")

        async def escalated() -> bool:
            return any(g.get("escalated") for g in (await client.store.gates(run_id)).values())

        await eventually(escalated, 10)
        now = time.time()
        posted = await asyncio.gather(harness.bot.jobs.reminders.check(now=now), other.jobs.reminders.check(now=now))
        assert sorted(posted) == [0, 1]
        assert await other.jobs.reminders.check(now=now + 1) + await harness.bot.jobs.reminders.check(now=now + 1) == 0
    pings = reminders(await slack.thread(card["ts"]), "escalated")
    assert len(pings) == 1 and "Escalated to <@U0CAROL>, <!subteam^S0SRE>" in pings[0]["text"], pings


def test_reminder_text_names_who_still_has_to_act() -> None:
    gate = {"kind": "breakpoint", "title": "Deploy?", "users": ["U0ANN", "U0BEN"], "groups": [], "quorum": 2,
            "votes": [{"by": "U0ANN", "approved": True}], "deadline_ms": 1_800_000_000_000}
    text = reminder_text(gate, opened_ms=0, now_ms=5_400_000)
    assert text == ("⏰ Reminder: *Deploy?* has been waiting 1h 30m for a decision from <@U0BEN>. "
                    "Deadline: <!date^1800000000^{date_short_pretty} {time}|2027-01-15 08:00 UTC>.")
    question = {"kind": "ask", "title": "Release notes", "users": [], "groups": ["S0SRE"]}
    assert reminder_text(question, 0, 90_000_000).endswith(
        "waiting 1d 1h for an answer from <!subteam^S0SRE>. No deadline.")
    everyone_voted = {**gate, "users": ["U0ANN"]}  # nobody else listed: still name them
    assert "from <@U0ANN>." in reminder_text(everyone_voted, 0, 60_000)
