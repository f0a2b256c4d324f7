"""A breakpoint's message: the question, key facts, who may decide, and the buttons.

Once the gate closes the same message is edited: buttons removed, the verdict in their place,
so a late click finds nothing to press and the thread shows who decided. Title, facts and
comments are shown escaped: whatever they hold, they ping nobody and link nowhere.
"""

from __future__ import annotations

from typing import Any

from bot.ids import ActionId, BlockId, GateRef, mention
from bot.render.text import hhmm, short, shown, slack_date, who_may_act
from engine.mrkdwn import escape

SHOWN_FACTS, FACT_NAME, FACT_VALUE = 10, 30, 80
"""The key facts an approver reads first, on a phone: at most ten, each short."""
DETAIL_CHUNK = 2900  # a section's text may hold 3,000 characters


def _facts(facts: dict[str, Any]) -> list[dict[str, Any]]:
    fields = [{"type": "mrkdwn", "text": f"*{shown(k, FACT_NAME)}*\n{shown(v, FACT_VALUE)}"}
              for k, v in list(facts.items())[:SHOWN_FACTS]]
    return [{"type": "section", "fields": fields}] if fields else []


def _overflows(facts: dict[str, Any]) -> bool:
    return len(facts) > SHOWN_FACTS or any(
        len(str(k)) > FACT_NAME or len(str(v)) > FACT_VALUE for k, v in facts.items())


def details_attachment(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """Everything the fields had to shorten or leave out, in full, as a secondary attachment
    (Slack folds long attachments behind "Show more"); nothing when every fact fit."""
    if not _overflows(facts):
        return []
    text = "\n".join(f"*{escape(k)}*: {escape(v)}" for k, v in facts.items())
    chunks = [text[i:i + DETAIL_CHUNK] for i in range(0, min(len(text), DETAIL_CHUNK * 10), DETAIL_CHUNK)]
    if len(text) > DETAIL_CHUNK * 10:
        chunks[-1] = short(chunks[-1], DETAIL_CHUNK - 40) + " (cut: see the run's artifacts)"
    blocks: list[dict[str, Any]] = [{"type": "context", "elements": [{"type": "mrkdwn", "text": "All details"}]}]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": chunk}} for chunk in chunks]
    return [{"color": "#8c8c8c", "fallback": short(text, 300), "blocks": blocks}]


def verdict(gate: dict[str, Any]) -> str:
    status = gate.get("status")
    at = hhmm(gate.get("decided_at", ""))
    comment = f" — {shown(gate['comment'], 300)}" if gate.get("comment") else ""
    if status == "decided":
        word = "Approved" if gate.get("approved") else "Rejected"
        icon = "✅" if gate.get("approved") else "❌"
        return f"{icon} {word} by {mention(gate.get('decided_by', '?'))} at {at}{comment}"
    if status == "timed_out":
        word = "approved" if gate.get("approved") else "rejected"
        return f"⏱️ Timed out at {at}: {word} by default"
    if status == "cancelled":
        return "⊘ Cancelled with the run"
    return f"Closed ({status})"


def gate_message(run_id: str, gate: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    """``text`` and ``blocks`` for the gate, open (with buttons) or closed (with the verdict)."""
    title = shown(gate.get("title", "Approve?"), 200)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}}]
    blocks += _facts(facts)
    if gate.get("status") == "open":
        details = [f"Who may approve: {who_may_act(gate)}"]
        if gate.get("quorum", 1) > 1:
            details.append(f"{len(gate.get('votes', []))} of {gate['quorum']} approvals")
        if gate.get("deadline_ms"):
            details.append(f"Deadline: {slack_date(int(gate['deadline_ms']))}")
        if gate.get("escalated"):
            details.append("⏫ Escalated: nobody decided in time")
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(details)}]})
        value = GateRef(run=run_id, gate=gate["key"]).model_dump_json()
        blocks.append({"type": "actions", "block_id": BlockId.GATE_ACTIONS, "elements": [
            {"type": "button", "action_id": ActionId.APPROVE, "style": "primary", "value": value,
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": ActionId.REJECT, "style": "danger", "value": value,
             "text": {"type": "plain_text", "text": "Reject"}},
        ]})
        return {"text": f"Approval needed: {title}", "blocks": blocks, "attachments": details_attachment(facts)}
    text = verdict(gate)
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
    return {"text": f"{title} {text}", "blocks": blocks, "attachments": details_attachment(facts)}
