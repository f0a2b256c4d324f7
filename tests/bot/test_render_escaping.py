"""Every renderer shows typed text as text: no ping, no disguised link (issue 10, item 1).

Each surface is fed the same hostile strings in every field that can hold what a person typed
(inputs, titles, facts, comments, answers, errors, reasons); the sandbox's ``notifies`` reads the
result as Slack would, and the raw mrkdwn must hold no live ``<https://evil…>``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.errors import user_message
from bot.reminders import escalation_text, reminder_text
from bot.render.ask import ask_message
from bot.render.card import card
from bot.render.gate import gate_message
from bot.render.home import HomeData, HomeGate, HomeRun, home_view
from bot.render.thread import line
from engine.arguments import ArgumentError
from engine.errors import GateClosed, UnknownProcess
from engine.journal import JournalView
from engine.mrkdwn import channel, escape, group, mention
from sandbox.escaping import notifies

EVIL = "<!channel> <!here> <!everyone> <!subteam^S0SRE> <@U0MALLORY> <#C0OPS> <https://evil.example|Approve here> &"
NOW = "2026-01-01T10:00:00Z"


def harmless(rendered: Any) -> None:
    text = json.dumps(rendered)
    blocks = rendered.get("blocks") if isinstance(rendered, dict) else None
    said = rendered.get("text", "") if isinstance(rendered, dict) else str(rendered)
    assert notifies(said, blocks, (rendered.get("attachments") if isinstance(rendered, dict) else None)) \
        in ([], ["U0BOB"]), text
    assert "<https://evil" not in text and "<#C0OPS>" not in text, text
    assert "&lt;https://evil.example|Approve here&gt;" in text or "&lt;!channel&gt;" in text, text  # still shown


def gate(kind: str, status: str = "open", **more: Any) -> dict[str, Any]:
    return {"key": "g1", "kind": kind, "title": EVIL, "status": status, "users": ["U0BOB"], "groups": [],
            "decided_by": "U0BOB", "decided_at": NOW, "comment": EVIL, "approved": False, **more}


def test_card() -> None:
    journal = JournalView([
        {"type": "run_created", "seq": 1, "inputs": {"title": EVIL, "service": EVIL}},
        {"type": "effect_requested", "seq": 2, "key": "s1", "kind": "breakpoint", "name": "gate",
         "args": {"title": EVIL}},
    ])
    meta = {"status": "failed", "error": EVIL, "title": EVIL, "process": EVIL, "requester": "U0BOB",
            "created_at": NOW}
    harmless(card("r1", meta, journal, {}))


@pytest.mark.parametrize("status", ["open", "decided", "cancelled"])
def test_gate(status: str) -> None:
    harmless(gate_message("r1", gate("breakpoint", status), {EVIL: EVIL, "long": EVIL * 20}))


@pytest.mark.parametrize("status", ["open", "answered"])
def test_ask(status: str) -> None:
    harmless(ask_message("r1", gate("ask", status), {"summary": EVIL}))


def test_home() -> None:
    run = HomeRun("r1", {"title": EVIL, "status": "waiting", "requester": "U0BOB", "created_at": NOW})
    data = HomeData("U0BOB", gates=[HomeGate(run, gate("breakpoint")), HomeGate(run, gate("ask"))], active=[run])
    harmless(home_view(data))


@pytest.mark.parametrize("event", [
    {"type": "effect_resolved", "key": "s1", "ok": False, "error": {"message": EVIL}},
    {"type": "effect_resolved", "key": "b1", "ok": True,
     "value": {"approved": False, "by": "U0BOB", "comment": EVIL, "at": NOW}},
    {"type": "effect_resolved", "key": "a1", "ok": True, "by": "U0BOB", "value": {"summary": EVIL}},
    {"type": "effect_requested", "key": "s1", "kind": "task"},
    {"type": "run_completed", "result": {"title": EVIL}},
    {"type": "run_failed", "error": {"message": EVIL}},
    {"type": "run_cancelled", "by": "U0BOB", "reason": EVIL},
    {"type": "artifact", "name": EVIL, "size": 1},
])
def test_thread_lines(event: dict[str, Any]) -> None:
    requests = {"s1": {"kind": "shell", "name": "sh", "args": {"argv": ["echo", EVIL]}},
                "b1": {"kind": "breakpoint", "name": "gate", "args": {"title": EVIL}},
                "a1": {"kind": "ask", "name": "ask", "args": {"title": EVIL}}}
    harmless(line(event, requests))


def test_reminders() -> None:
    harmless(reminder_text(gate("breakpoint"), 0, 60_000))
    harmless(escalation_text(gate("breakpoint"), 60_000))


@pytest.mark.parametrize("error", [ArgumentError([f"input 'since': got '{EVIL}'"]),
                                   UnknownProcess(EVIL, ["echo-inputs"]), GateClosed(f"already {EVIL}")])
def test_error_replies(error: Exception) -> None:
    harmless(user_message(error)[0])


def test_mentions_only_from_well_formed_ids() -> None:
    assert mention("U0BOB") == "<@U0BOB>" and channel("C0OPS") == "<#C0OPS>" and group("S0SRE") == "<!subteam^S0SRE>"
    assert mention("x><!channel") == "x&gt;&lt;!channel" and mention("bob") == "bob"
    assert channel("C1> <!here") == "C1&gt; &lt;!here" and group("sre><!here") == "@sre&gt;&lt;!here"
    assert escape("a & <b>") == "a &amp; &lt;b&gt;"
