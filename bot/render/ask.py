"""An ask's message: the question, whom it is for (mentioned), and a "Fill in" button.

Once answered (or closed) the same message is edited: the button removed, who answered and
the answer in its place.
"""

from __future__ import annotations

from typing import Any

from bot.ids import ActionId, BlockId, GateRef, mention
from bot.render.gate import verdict
from bot.render.text import hhmm, short_inputs, shown, who_may_act


def ask_message(run_id: str, gate: dict[str, Any], answer: dict[str, Any] | None = None) -> dict[str, Any]:
    title = shown(gate.get("title", "Question"), 200)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": f"❓ *{title}*"}}]
    if gate.get("status") == "open":
        who = who_may_act(gate)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"For: {who}"}]})
        blocks.append({"type": "actions", "block_id": BlockId.ASK_ACTIONS, "elements": [
            {"type": "button", "action_id": ActionId.FILL_IN, "style": "primary",
             "value": GateRef(run=run_id, gate=gate["key"]).model_dump_json(),
             "text": {"type": "plain_text", "text": "Fill in"}}]})
        return {"text": f"Question for {who}: {title}", "blocks": blocks}
    if gate.get("status") == "answered":
        text = f"✅ Answered by {mention(gate.get('decided_by', '?'))} at {hhmm(gate.get('decided_at', ''))}"
        if answer:
            text += f": {short_inputs(answer, 500)}"
    elif gate.get("status") == "timed_out":
        text = f"⏱️ Nobody answered in time ({hhmm(gate.get('decided_at', ''))})"
    else:
        text = verdict(gate)
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
    return {"text": f"{title} {text}", "blocks": blocks}
