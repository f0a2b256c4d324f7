"""A gate that escalates: nobody of the first approvers decides in time, so the engine hands
it to a second list (a person and a user group), who then decide with no further deadline."""

from __future__ import annotations

from pydantic import BaseModel, Field

from engine import Approvers, Context, process


class EscalationInputs(BaseModel):
    approver: str = Field(default="U0ALICE", description="who may decide first")
    backup: str = Field(default="U0CAROL", description="who may decide once the gate escalates")
    backup_group: str = Field(default="S0SRE", description="user group that may decide once it escalates")
    timeout: float = Field(default=1.0, description="seconds before the gate escalates")


@process("escalation-demo", title="Escalation demo", inputs=EscalationInputs)
async def escalation_demo(inputs: EscalationInputs, ctx: Context) -> dict:
    """Ask one person for a rollback, escalate to the backups if they do not decide in time."""
    decision = await ctx.breakpoint(
        "Roll back checkout?", facts={"service": "checkout"},
        approvers=Approvers(users=[inputs.approver]), timeout=inputs.timeout, on_timeout="escalate",
        escalate_to=Approvers(users=[inputs.backup], groups=[inputs.backup_group]),
    )
    return {"approved": decision.approved, "by": decision.by, "escalated": decision.escalated}
