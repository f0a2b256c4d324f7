"""A gate shows its key facts first and short; what had to be shortened or left out goes, in
full, into a secondary attachment. Posted to the sandbox, which checks Block Kit's limits."""

from __future__ import annotations

import json

from slack_sdk.web.async_client import AsyncWebClient

from bot.render.gate import SHOWN_FACTS, gate_message
from bot.render.text import MAX_NAMED, who_may_act
from sandbox import SandboxServer

GATE = {"key": "3", "title": "Deploy checkout 2.4.1 to production?", "status": "open", "users": ["U0BOB"]}


def test_short_facts_need_no_attachment() -> None:
    payload = gate_message("run1", GATE, {"version": "2.4.1", "canary": "healthy"})
    assert payload["attachments"] == []
    assert "*version*\\n2.4.1" in json.dumps(payload["blocks"])


def test_long_and_many_facts_go_in_full_into_the_attachment() -> None:
    diff = "\n".join(f"~ aws_instance.web[{i}]: instance_type t3.small -> t3.large" for i in range(400))
    facts = {"plan": diff, **{f"check {i}": "passed" for i in range(SHOWN_FACTS + 5)}}
    payload = gate_message("run1", GATE, facts)
    fields = next(b for b in payload["blocks"] if "fields" in b)["fields"]
    assert len(fields) == SHOWN_FACTS and fields[0]["text"].endswith("…") and len(fields[0]["text"]) < 120
    [attachment] = payload["attachments"]
    full = "".join(b["text"]["text"] for b in attachment["blocks"] if b["type"] == "section")
    assert "aws_instance.web[61]" in full and f"*check {SHOWN_FACTS + 4}*: passed" in full
    assert "(cut" not in full

    huge = gate_message("run1", GATE, {"plan": "y" * 50_000})["attachments"][0]
    sections = [b["text"]["text"] for b in huge["blocks"] if b["type"] == "section"]
    assert all(len(t) <= 3000 for t in sections) and sections[-1].endswith("(cut: see the run's artifacts)")


async def test_the_sandbox_accepts_both_shapes() -> None:
    async with SandboxServer(port=0) as sb:
        web = AsyncWebClient(token=sb.bot_token, base_url=sb.api_url)
        for facts in ({"version": "2.4.1"}, {"plan": "x" * 5000, **{f"k{i}": i for i in range(20)}}):
            posted = await web.chat_postMessage(channel="C0OPS", **gate_message("run1", GATE, facts))
            assert posted["ok"]
            await web.chat_update(channel="C0OPS", ts=posted["ts"],
                                  **gate_message("run1", {**GATE, "status": "decided", "approved": True,
                                                          "decided_by": "U0BOB", "decided_at": "2026-11-28T14:02:00Z"},
                                                 facts))


def test_a_gate_open_to_many_people_names_twenty_and_still_fits() -> None:
    gate = {"users": [f"U{n:08d}" for n in range(200)], "groups": ["S0SRE"], "four_eyes": True}
    text = who_may_act(gate)
    assert text.count("<@U") == MAX_NAMED and text.endswith(" and 181 more (not the requester)")
    assert len(text) < 1000
