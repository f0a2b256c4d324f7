"""What Slack sends for text a person types in the seeded sandbox workspace (``should_escape`` on).

Tests type what a person types (``@bob``, ``#ops``, ``a & b``); the parser sees what Slack sends.
Comparing a run's recorded inputs with ``parse_command(as_slack_sends(typed))`` checks the bot
against the same text the sandbox delivered.
"""

from __future__ import annotations

from sandbox.escaping import escape_command_text
from sandbox.seed import DEPLOYS, GENERAL, HUMANS, OPS, SRE_GROUP

USERS = {human.name: human.id for human in HUMANS}
CHANNELS = {"general": GENERAL, "ops": OPS, "deploys": DEPLOYS}
GROUPS = {"sre": SRE_GROUP}


def as_slack_sends(typed: str) -> str:
    return escape_command_text(typed, users=USERS, channels=CHANNELS, groups=GROUPS)
