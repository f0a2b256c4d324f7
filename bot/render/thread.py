"""Thread lines: what each journal event adds to the run's thread (or nothing).

Step names, errors, comments, answers and results are data (often typed by people) and are
shown escaped. A note is the process's own mrkdwn: the process escapes what it quotes in it
(``engine.mrkdwn.escape``), as the shipped processes do.
"""

from __future__ import annotations

from typing import Any

from bot.ids import mention
from bot.render.card import step_name
from bot.render.text import short, short_inputs, shown
from engine.mrkdwn import escape
from engine.types import Decision


def line(event: dict[str, Any], requests: dict[str, dict[str, Any]]) -> str | None:
    """One mrkdwn line for a journal event; ``requests`` maps step keys to their requests.

    Breakpoint requests are not lines: they get their own gate message.
    """
    kind = event["type"]
    request = requests.get(event.get("key", ""))
    name = f"`{shown(step_name(request), 60)}`" if request else escape(event.get("key", ""))
    if kind == "effect_requested":
        if event["kind"] in ("task", "shell"):
            return f"▸ {name} started"
        if event["kind"] == "sleep":
            return f"⏲️ waiting ({name})"
        if event["kind"] == "ask":
            return f"❓ question: {name}"
        return None
    if kind == "effect_resolved":
        if not event.get("ok"):
            error = (event.get("error") or {}).get("message", "failed")
            return f"✗ {name} failed: {shown(error, 200)}"
        if request and request["kind"] == "breakpoint":
            decision = Decision.model_validate(event["value"])
            word = "approved" if decision.approved else "rejected"
            by = "its timeout" if decision.by == "timeout" else mention(decision.by)
            return f"{'✓' if decision.approved else '✗'} {name} {word} by {by}" + (
                f" — {shown(decision.comment, 200)}" if decision.comment else "")
        if request and request["kind"] == "ask":
            value = event.get("value")
            answer = f": {short_inputs(value, 300)}" if isinstance(value, dict) and short_inputs(value) else ""
            return f"✓ {name} answered by {mention(event.get('by', '?'))}{answer}"
        return f"✓ {name} done"
    if kind == "effect_cancelled":
        return f"⊘ {name} cancelled"
    if kind == "note":
        return f"• {short(event.get('text', ''), 500)}"
    if kind == "artifact":
        return f"📎 {escape(event.get('name'))} ({event.get('size', 0)} bytes)"
    if kind == "gate_escalated":
        return f"⏫ {name} escalated"
    if kind == "run_completed":
        result = event.get("result")
        return "✅ *Run completed*" + (f": `{shown(result, 200)}`" if result not in (None, {}, []) else "")
    if kind == "run_failed":
        return f"❌ *Run failed*: {shown((event.get('error') or {}).get('message', ''), 300)}"
    if kind == "run_retried":
        steps = event.get("reset") or []
        what = f"step {escape(', '.join(steps))} runs again" if steps else "replaying with the current code"
        return f"↻ *Retried* by {mention(event.get('by', '?'))}: {what}"
    if kind == "run_cancelled":
        reason = f" — {shown(event['reason'], 200)}" if event.get("reason") else ""
        return f"⊘ *Run cancelled* by {mention(event.get('by', '?'))}{reason}"
    return None
