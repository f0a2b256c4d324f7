"""The App Home tab: gates and questions waiting for this person, their active runs, recent runs.

A view holds at most 100 blocks; each list is capped and says how many it left out, so the
tab stays the same size whatever the workspace does. Gates get working Approve / Reject
buttons and questions a Fill in button (the same actions as in the thread); runs link to
their status card. Titles are what people typed: shown escaped, they cannot ping or link.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.ids import ActionId, GateRef, mention
from bot.render.card import ICONS
from bot.render.text import elapsed, short, shown, who_may_act

MAX_GATES = 10
MAX_RUNS = 10
TERMINAL = ("completed", "failed", "cancelled")


@dataclass
class HomeRun:
    """A run as the Home shows it: its meta hash and where its card is (if posted)."""

    id: str
    meta: dict[str, str]
    link: str = ""

    @property
    def title(self) -> str:
        return self.meta.get("title") or self.meta.get("process", "run")

    def took(self) -> str:
        terminal = self.meta.get("status") in TERMINAL
        return elapsed(self.meta.get("created_at", ""), self.meta.get("updated_at") if terminal else None)


@dataclass
class HomeGate:
    run: HomeRun
    gate: dict[str, Any]
    link: str = ""


@dataclass
class HomeData:
    user: str
    gates: list[HomeGate] = field(default_factory=list)
    active: list[HomeRun] = field(default_factory=list)
    recent: list[HomeRun] = field(default_factory=list)


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _more(shown: int, total: int) -> list[dict[str, Any]]:
    return [_context(f"…and {total - shown} more")] if total > shown else []


def run_line(run: HomeRun) -> str:
    status = run.meta.get("status", "?")
    parts = [f"{ICONS.get(status, '•')} *{shown(run.title, 60)}* `{run.id}` — {status}"]
    took = run.took()
    if took:
        parts.append(took)
    parts.append(f"by {mention(run.meta.get('requester', '?'))}")
    if run.link:
        parts.append(f"<{run.link}|status card>")
    return " · ".join(parts)


def gate_blocks(item: HomeGate) -> list[dict[str, Any]]:
    gate, run = item.gate, item.run
    details = [f"{shown(run.title, 60)} `{run.id}`", f"requested by {mention(run.meta.get('requester', '?'))}"]
    took = run.took()
    if took:
        details.append(f"running {took}")
    if gate.get("quorum", 1) > 1:
        details.append(f"{len(gate.get('votes', []))} of {gate['quorum']} approvals")
    if item.link:
        details.append(f"<{item.link}|open in thread>")
    value = GateRef(run=run.id, gate=gate["key"]).model_dump_json()
    if gate.get("kind") == "ask":  # a question: its form opens from here as from the thread
        text = f"❓ *{shown(gate.get('title', 'Question'), 200)}*\n{' · '.join(details)}\nFor: {who_may_act(gate)}"
        buttons = [{"type": "button", "action_id": ActionId.FILL_IN, "style": "primary", "value": value,
                    "text": {"type": "plain_text", "text": "Fill in"}}]
    else:
        title = shown(gate.get("title", "Approve?"), 200)
        text = f"*{title}*\n{' · '.join(details)}\nWho may approve: {who_may_act(gate)}"
        buttons = [{"type": "button", "action_id": ActionId.APPROVE, "style": "primary", "value": value,
                    "text": {"type": "plain_text", "text": "Approve"}},
                   {"type": "button", "action_id": ActionId.REJECT, "style": "danger", "value": value,
                    "text": {"type": "plain_text", "text": "Reject"}}]
    return [{"type": "section", "text": {"type": "mrkdwn", "text": short(text, 3000)}},
            {"type": "actions", "elements": buttons}]


def _run_list(runs: list[HomeRun], empty: str) -> list[dict[str, Any]]:
    if not runs:
        return [_context(empty)]
    lines = "\n".join(run_line(r) for r in runs[:MAX_RUNS])
    return [{"type": "section", "text": {"type": "mrkdwn", "text": short(lines, 3000)}}, *_more(MAX_RUNS, len(runs))]


def home_view(data: HomeData) -> dict[str, Any]:
    """The ``views.publish`` view: at most 3 + 2*MAX_GATES + 10 blocks, far below Slack's 100."""
    blocks: list[dict[str, Any]] = [_header("Waiting for you")]
    if data.gates:
        for item in data.gates[:MAX_GATES]:
            blocks += gate_blocks(item)
        blocks += _more(MAX_GATES, len(data.gates))
    else:
        blocks.append(_context("Nothing is waiting for you."))
    blocks += [{"type": "divider"}, _header("Your active runs"), *_run_list(data.active, "You have no active runs.")]
    blocks += [{"type": "divider"}, _header("Recent runs"), *_run_list(data.recent, "No runs yet.")]
    return {"type": "home", "blocks": blocks}
