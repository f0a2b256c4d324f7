"""The status card: one message per run, edited in place as the run moves.

The title, inputs, error and step names may hold what people typed: all are shown escaped
(``bot.render.text.shown``), so a card can neither ping a channel nor carry a disguised link.
"""

from __future__ import annotations

from typing import Any

from bot.ids import mention
from bot.render.text import elapsed, short_inputs, shown, who_may_act
from engine.journal import JournalView
from engine.mrkdwn import escape

ICONS = {"running": "🔄", "waiting": "⏸️", "completed": "✅", "failed": "❌", "cancelled": "⊘"}


def step_name(request: dict[str, Any]) -> str:
    if request["kind"] in ("breakpoint", "ask"):
        return str((request.get("args") or {}).get("title") or request["name"])
    if request["kind"] == "task":
        return str(request["name"]).rsplit(".", 1)[-1]
    if request["kind"] == "shell":  # the command as typed: `python -c ...`, not /full/path/to/python
        argv = [str(a) for a in (request.get("args") or {}).get("argv") or [request["name"]]]
        return " ".join([argv[0].rsplit("/", 1)[-1], *argv[1:]])
    return str(request["name"])


def status_text(meta: dict[str, str], gates: dict[str, dict[str, Any]]) -> str:
    status = meta.get("status", "running")
    if status == "waiting":
        open_gates = [g for g in gates.values() if g.get("status") == "open"]
        who = "; ".join(who_may_act(g) for g in open_gates)
        return f"waiting for {who}" if who else "waiting"
    if status == "failed" and meta.get("error"):
        return f"failed: {shown(meta['error'], 80)}"
    return status


def card(run_id: str, meta: dict[str, str], journal: JournalView,
         gates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``text`` (notifications, screen readers) and ``blocks`` for chat.postMessage / chat.update."""
    status = meta.get("status", "running")
    created = journal.created or {}
    inputs = short_inputs(created.get("inputs") or {})
    requests = [e for e in journal.keyed.values() if e["type"] == "effect_requested"]
    done = sum(1 for e in requests if e["key"] in journal.resolutions)
    terminal = status in ("completed", "failed", "cancelled")
    took = elapsed(meta.get("created_at", ""), meta.get("updated_at") if terminal else None)
    pending = list(journal.pending.values())
    current = step_name(pending[-1]) if pending and not terminal else ""
    title = escape(meta.get("title") or meta.get("process", "run"))
    state = f"{ICONS.get(status, '')} *{status_text(meta, gates)}*"
    head = f"*{title}*  `{escape(meta.get('process', ''))}` run `{run_id}`" + (f"\n{inputs}" if inputs else "")
    facts = [f"Requested by {mention(meta.get('requester', '?'))}", f"{done}/{len(requests)} steps"]
    if took:
        facts.append(took)
    if current:
        facts.append(f"current: {shown(current, 60)}")
    text = f"{title} ({run_id}): {status_text(meta, gates)}"
    return {"text": text, "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": head}},
        {"type": "section", "text": {"type": "mrkdwn", "text": state}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(facts)}]},
    ]}
