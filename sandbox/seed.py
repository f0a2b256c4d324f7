"""The workspace every sandbox starts from (and returns to on reset).

Shepherd's stories need a requester, two approvers who share an on-call group, an outsider
who must be refused, a few channels the bot already sits in, and two it was never invited to
(#exec, public, and #leadership, private), where Slack refuses its posts as it would: the app
may post in public #exec only with ``chat:write.public``, never in private #leadership. Ids are
fixed so tests and docs can name them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from sandbox.model import Channel, User, Usergroup

if TYPE_CHECKING:
    from sandbox.workspace import Workspace

ALICE, BOB, CAROL, MALLORY = "U0ALICE", "U0BOB", "U0CAROL", "U0MALLORY"
SLACKBOT = "USLACKBOT"
GENERAL, OPS, DEPLOYS = "C0GENERAL", "C0OPS", "C0DEPLOYS"
EXEC, LEADERSHIP = "C0EXEC", "C0LEADERSHIP"
"""Channels without the bot: public #exec and private #leadership."""
SRE_GROUP = "S0SRE"

HUMANS = [
    User(ALICE, "alice", "Alice Archer", "alice", "alice@sandbox.example", title="Developer (requester)"),
    User(BOB, "bob", "Bob Baker", "bob", "bob@sandbox.example", title="SRE (approver)"),
    User(CAROL, "carol", "Carol Chen", "carol", "carol@sandbox.example", title="SRE (approver)"),
    User(MALLORY, "mallory", "Mallory Moss", "mallory", "mallory@sandbox.example", title="Contractor (outsider)"),
]


def seed(ws: Workspace) -> None:
    """Fill an empty workspace with the standard people, bot, channels and user group."""
    cfg = ws.config
    for human in HUMANS:
        ws.users[human.id] = replace(human)
    ws.users[SLACKBOT] = User(SLACKBOT, "slackbot", "Slackbot", "Slackbot")
    ws.users[cfg.bot_user_id] = User(cfg.bot_user_id, cfg.bot_name, cfg.bot_display_name, cfg.bot_display_name,
                                     is_bot=True, bot_id=cfg.bot_id, app_id=cfg.app_id)
    everyone = [ALICE, BOB, CAROL, MALLORY, cfg.bot_user_id]
    for channel_id, name, purpose in (
        (GENERAL, "general", "Company-wide announcements"),
        (OPS, "ops", "Operations: incidents, runbooks and on-call"),
        (DEPLOYS, "deploys", "Deployments and releases"),
    ):
        ws.channels[channel_id] = Channel(channel_id, name, creator=ALICE, members=list(everyone),
                                          is_general=name == "general",
                                          purpose={"value": purpose, "creator": ALICE, "last_set": 0})
        ws.messages[channel_id] = {}
    people = [ALICE, BOB, CAROL]
    for channel_id, name, purpose, private in (
        (EXEC, "exec", "Leadership: executive notices of SEV-1 incidents", False),
        (LEADERSHIP, "leadership", "Leadership, private", True),
    ):
        ws.channels[channel_id] = Channel(channel_id, name, creator=ALICE, members=list(people), is_private=private,
                                          purpose={"value": purpose, "creator": ALICE, "last_set": 0})
        ws.messages[channel_id] = {}
    ws.usergroups[SRE_GROUP] = Usergroup(SRE_GROUP, "sre", "SRE on-call", [BOB, CAROL], "Site reliability approvers")
