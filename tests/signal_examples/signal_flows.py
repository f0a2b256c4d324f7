"""Processes for the signal, ``ctx.first`` and ``ctx.log`` tests (``tests/test_signals.py``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from engine import Approvers, Context, SignalRequest, process


class Update(BaseModel):
    text: str
    level: int = 1


class SeverityChange(BaseModel):
    severity: Literal["SEV-1", "SEV-2", "SEV-3"]
    reason: str = ""


class Handover(BaseModel):
    to: str


def on_call_only(request: SignalRequest) -> bool:
    """A sender policy: only on-call accounts may hand over command."""
    return request.sender.startswith("oncall-")


def broken_policy(request: SignalRequest) -> bool:
    """A sender policy with a bug: it must refuse everyone, not let everyone in."""
    raise KeyError(request.sender)


class InboxInputs(BaseModel):
    count: int = 3
    hold: bool = True
    """Wait at a gate first, so signals can be sent before the run waits for them."""


@process("signal-inbox", title="Signal inbox", inputs=InboxInputs)
async def signal_inbox(inputs: InboxInputs, ctx: Context) -> dict:
    """Open an 'update' channel (the requester may send), then take ``count`` updates in order."""
    updates = ctx.signal("update", Update)
    if inputs.hold:
        await ctx.breakpoint("Start listening?")
    ctx.log.info("listening for %d updates", inputs.count)
    received = []
    for i in range(inputs.count):
        update = await ctx.wait(updates, key=f"update-{i}")
        ctx.log.info("update %d: %s", i, update.text)
        received.append(f"{update.text}/{update.level}")
    return {"received": received}


@process("signal-senders", title="Signal senders", inputs=InboxInputs)
async def signal_senders(inputs: InboxInputs, ctx: Context) -> dict:
    """Severity from listed approvers (bob or group S0SRE); a handover only from on-call accounts."""
    severity = ctx.signal("severity", SeverityChange, senders=Approvers(users=["bob"], groups=["S0SRE"]))
    handover = ctx.signal("handover", Handover, senders=on_call_only)
    change = await ctx.wait(severity)
    to = await ctx.wait(handover)
    return {"severity": change.severity, "reason": change.reason, "commander": to.to}


@process("signal-broken-policy", title="Signal with a broken policy", inputs=InboxInputs)
async def signal_broken_policy(inputs: InboxInputs, ctx: Context) -> str:
    """A channel whose sender policy raises."""
    return (await ctx.wait(ctx.signal("update", Update, senders=broken_policy))).text


class LoopInputs(BaseModel):
    cadences: list[float] = Field(default_factory=lambda: [30.0, 0.05])
    """Seconds each round's timer waits for an update before it ticks."""
    gate: bool = False
    """Also race a 'Resolved?' gate (bob decides) in the first round."""
    ask: bool = False
    """Also race a 'Status' question (bob answers) in the first round."""
    update_senders: list[str] = Field(default_factory=list)
    """Who may post an update (empty: anyone)."""


@process("status-loop", title="Status loop", inputs=LoopInputs)
async def status_loop(inputs: LoopInputs, ctx: Context) -> dict:
    """An incident's status loop: each round, the cadence timer or an update, whichever first."""
    updates = ctx.signal("update", Update, senders=Approvers(users=inputs.update_senders))
    rounds = []
    for i, cadence in enumerate(inputs.cadences):
        tick = ctx.sleep(cadence, key=f"tick-{i}")
        update = ctx.wait(updates, key=f"update-{i}")
        racers = {"tick": tick, "update": update}
        if inputs.gate and i == 0:
            racers["resolved"] = ctx.breakpoint("Resolved?", approvers=Approvers(users=["bob"]), key="resolved")
        if inputs.ask and i == 0:
            racers["status"] = ctx.ask("Status", Update, assignees=Approvers(users=["bob"]), key="status")
        won = await ctx.first(**racers, key=f"round-{i}")
        if (got := won.get(update)) is not None:
            ctx.note(f"Update: {got.text}", key=f"note-{i}")
            rounds.append(f"update:{got.text}")
        elif won.name == "status":
            rounds.append(f"status:{won.value.text}")
        else:
            rounds.append(won.name)
        if won.name == "resolved":
            break
    return {"rounds": rounds}


@process("patch-parallel", title="Patched in a parallel branch", inputs=InboxInputs)
async def patch_parallel(inputs: InboxInputs, ctx: Context) -> list:
    """One branch reaches a patch while its sibling has steps journaled ahead of it."""

    async def left() -> bool:
        await ctx.sleep(1, key="wait")
        return ctx.patched("left-change")

    async def right() -> str:
        await ctx.sleep(1, key="a")
        await ctx.sleep(1, key="b")
        return "right"

    return await ctx.parallel(left(), right())
