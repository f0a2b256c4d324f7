"""Ids Slack echoes back to us, and the typed values carried in buttons and modals.

Enums keep action and callback ids in one place (a typo cannot route a click nowhere); the
pydantic models make a button's ``value`` or a modal's ``private_metadata`` parse or fail loudly.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from engine import mrkdwn


class ActionId(StrEnum):
    APPROVE = "shepherd_approve"
    REJECT = "shepherd_reject"
    FILL_IN = "shepherd_fill_in"


class CallbackId(StrEnum):
    REJECT_REASON = "shepherd_reject_reason"
    START_FORM = "shepherd_start_form"
    ANSWER_FORM = "shepherd_answer_form"


class BlockId(StrEnum):
    GATE_ACTIONS = "shepherd_gate_actions"
    REASON = "shepherd_reason"
    ASK_ACTIONS = "shepherd_ask_actions"


REASON_INPUT = "reason"


class GateRef(BaseModel):
    """What an Approve / Reject button points at: a run's gate, by its step key."""

    model_config = ConfigDict(frozen=True)

    run: str
    gate: str


class RejectContext(GateRef):
    """The reject modal's ``private_metadata``: the gate, and where to answer the person."""

    channel: str
    thread_ts: str | None = None


class AnswerContext(RejectContext):
    """The answer modal's ``private_metadata``: the ask, where to answer, and its form's import path
    (so a submission is checked without reading the journal before the ack). Modals opened before
    the form was carried here have none, and fall back to the journal."""

    form: str | None = None


class StartContext(BaseModel):
    """The start form's ``private_metadata``: which process, and where ``/run`` was typed."""

    process: str
    channel: str
    thread_ts: str | None = None


def mention(user: str) -> str:
    """A Slack mention for a user id; the terminal's plain names are shown as plain text."""
    return mrkdwn.mention(user)


def group_mention(group: str) -> str:
    """A user group's mention for its id; a handle is shown as ``@handle`` and pings nobody."""
    return mrkdwn.group(group)
