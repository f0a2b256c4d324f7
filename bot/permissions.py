"""Who may start which process: the ``start:`` rules of the operators' permissions file.

The file (``SHEPHERD_PERMISSIONS``, YAML, see docs/permissions.md) is the only source: chat
text never grants anything. Its gate defaults (``approvers``, ``four_eyes``, ``gates``) are the
engine's (``engine.policy``, applied by workers when a gate is created); this module adds the
start rules and validates the whole file strictly, so a typo fails the bot's startup instead
of silently allowing everyone. Without a file everyone may start everything.

A start rule limits *who* (listed users, members of listed user groups) and *where* (listed
channels); a dimension left out is not limited. Group membership is asked of Slack
(``usergroups.users.list``) at the moment someone starts, so a change in Slack applies at once.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ids import group_mention, mention
from engine.errors import NotAllowed
from engine.policy import ANY_PROCESS, GatePolicy, GroupId, ProcessGates, read_policy
from engine.registry import PROCESSES

log = logging.getLogger(__name__)

UserId = Annotated[str, StringConstraints(pattern=r"^[UW][A-Z0-9]+$")]
ChannelId = Annotated[str, StringConstraints(pattern=r"^[CG][A-Z0-9]+$")]


class StartRule(BaseModel):
    """Who may start a process, and where. ``users: []`` with no groups: nobody."""

    model_config = ConfigDict(extra="forbid")

    users: list[UserId] | None = None
    groups: list[GroupId] | None = None
    channels: list[ChannelId] | None = None

    @property
    def limits_who(self) -> bool:
        return self.users is not None or self.groups is not None

    def who(self) -> str:
        people = [mention(u) for u in self.users or []]
        people += [f"members of {group_mention(g)}" for g in self.groups or []]
        if len(people) > 1:
            return ", ".join(people[:-1]) + " or " + people[-1]
        return people[0] if people else "nobody"

    def where(self) -> str:
        names = [f"<#{c}>" for c in self.channels or []]
        return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else "".join(names)


class ProcessRules(ProcessGates):
    start: StartRule | None = None  # the engine carries it unread


class Permissions(GatePolicy):
    """The whole permissions file, as the bot reads it."""

    processes: dict[str, ProcessRules] = Field(default_factory=dict)  # type: ignore[assignment]

    def start_rule(self, process: str) -> StartRule | None:
        """The process's own ``start`` rule, else the ``"*"`` entry's, else None (anyone, anywhere)."""
        for name in (process, ANY_PROCESS):
            entry = self.processes.get(name)
            if entry is not None and entry.start is not None:
                return entry.start
        return None

    def unknown_processes(self, known: set[str]) -> list[str]:
        return sorted(name for name in self.processes if name != ANY_PROCESS and name not in known)


def load_permissions(path: Path | str | None) -> Permissions:
    """The file's rules, or an empty set of rules (everyone may start everything) without one.
    Raises ``engine.policy.PolicyProblem`` with one line naming every problem."""
    return read_policy(path, Permissions) if path else Permissions()


async def in_groups(web: AsyncWebClient | None, user: str, groups: list[str]) -> bool:
    """Whether ``user`` is in any of ``groups``, asked of Slack now."""
    if web is None:
        return False
    for group in groups:
        try:
            reply = await web.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:  # e.g. a group deleted in Slack: nobody is its member
            log.warning("permissions: user group %s: %s", group, exc.response.get("error"))
            continue
        if user in (reply.get("users") or []):
            return True
    return False


async def check_start(web: AsyncWebClient | None, permissions: Permissions | None, process: str, *,
                      user: str, channel: str | None) -> None:
    """Raise ``NotAllowed`` naming what would allow it when ``user`` may not start ``process`` in
    ``channel``; return quietly otherwise."""
    rule = permissions.start_rule(process) if permissions is not None else None
    if rule is None:
        return
    who_ok = not rule.limits_who or user in (rule.users or []) or await in_groups(web, user, rule.groups or [])
    where_ok = rule.channels is None or channel in rule.channels
    if who_ok and where_ok:
        return
    if rule.limits_who and not (rule.users or rule.groups):
        raise NotAllowed(f"nobody may start `{process}`: the operators' permissions file allows no one")
    if rule.channels is not None and not rule.channels:
        raise NotAllowed(f"`{process}` cannot be started from any channel: the permissions file lists none")
    if not who_ok:
        place = f" in {rule.where()}" if rule.channels is not None else ""
        raise NotAllowed(f"only {rule.who()} may start `{process}`{place}")
    by = f" (by {rule.who()})" if rule.limits_who else ""
    raise NotAllowed(f"`{process}` can only be started in {rule.where()}{by}, not here")


def warn_unknown_processes(permissions: Permissions) -> None:
    """Rules for a process that is not registered (a typo?) would silently never apply: say so."""
    unknown = permissions.unknown_processes(set(PROCESSES))
    if unknown and PROCESSES:
        log.warning("SHEPHERD_PERMISSIONS names unknown process(es) %s (known: %s)",
                    ", ".join(unknown), ", ".join(sorted(PROCESSES)))
