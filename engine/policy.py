"""Operators' gate defaults, from the permissions file (``SHEPHERD_PERMISSIONS``), never from chat.

A breakpoint that names no approvers gets the approvers the file gives for its process (or
for that one gate, matched by key or title); a file may also force four-eyes on, but never
turns off what the process declares. The policy is applied once, when the gate record is
written (``RunStore.append``); the journal keeps what the process asked for, so replays stay
deterministic whatever the file says later, and the decide script stays the one place
where a click is checked against the record.

The same file also says who may start what (``start:``); that is the front end's business
(``bot.permissions``), so here it is carried along unread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from engine.errors import ShepherdError

ANY_PROCESS = "*"

UserName = Annotated[str, StringConstraints(pattern=r"^[\w.@-]+$")]
"""A Slack user id (``U0BOB``) or a terminal user's name: no spaces or mention markup."""
GroupId = Annotated[str, StringConstraints(pattern=r"^S[A-Z0-9]+$")]
"""A Slack user group id (``S0SRE``), resolved with usergroups.users.list at click time."""


ID_KINDS = {"users": "a Slack user id (U…)", "groups": "a Slack user group id (S…, not a @handle)",
            "channels": "a Slack channel id (C… or G…, not a #name)"}


class PolicyProblem(ShepherdError):
    """The permissions file cannot be used: one line for the operator (the CLI exits 2)."""

    exit_code = 2


class DefaultApprovers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    users: list[UserName] = Field(default_factory=list)
    groups: list[GroupId] = Field(default_factory=list)


class GateRule(BaseModel):
    """Defaults for a gate; a field left out defers to the less specific rule."""

    model_config = ConfigDict(extra="forbid")

    approvers: DefaultApprovers | None = None
    """Who decides when the breakpoint itself names nobody."""
    four_eyes: bool | None = None
    """True forces four-eyes on; False only stops a less specific rule forcing it."""


class ProcessGates(GateRule):
    """One process's entry: defaults for all its gates, and per gate (by key or title)."""

    gates: dict[str, GateRule] = Field(default_factory=dict)
    start: Any = None
    """Who may start the process: checked by the front end, not here."""


F = TypeVar("F", bound="GatePolicy")


class GatePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    processes: dict[str, ProcessGates] = Field(default_factory=dict)

    def rules(self, process: str, gate: dict[str, Any]) -> list[GateRule]:
        """Rules that apply to a gate, most specific first: this gate of this process, the
        process, then the same for the ``"*"`` entry."""
        found: list[GateRule] = []
        for name in (process, ANY_PROCESS):
            entry = self.processes.get(name)
            if entry is None:
                continue
            for ref in (gate.get("key"), gate.get("title")):
                if ref is not None and str(ref) in entry.gates:
                    found.append(entry.gates[str(ref)])
                    break
            found.append(entry)
        return found

    def apply(self, process: str, gate: dict[str, Any]) -> dict[str, Any]:
        """The gate record with the defaults filled in (breakpoints only; asks are unchanged)."""
        if gate.get("kind") != "breakpoint":
            return gate
        rules = self.rules(process, gate)
        approvers = next((r.approvers for r in rules if r.approvers is not None), None)
        if approvers is not None and not gate.get("users") and not gate.get("groups"):
            gate = {**gate, **{k: v for k, v in (("users", approvers.users), ("groups", approvers.groups)) if v}}
        if next((r.four_eyes for r in rules if r.four_eyes is not None), False):
            gate = {**gate, "four_eyes": True}
        return gate


def read_policy(path: Path | str, model: type[F]) -> F:
    """Read and validate the YAML file as ``model``; every problem becomes one ``PolicyProblem`` line."""
    label = f"SHEPHERD_PERMISSIONS file {path}"
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyProblem(f"{label}: cannot read it ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise PolicyProblem(f"{label}: not valid YAML{at} ({getattr(exc, 'problem', None) or exc})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise PolicyProblem(f"{label}: expected a mapping with a 'processes' key, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            loc = ".".join(str(part) for part in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "string_pattern_mismatch":
                kind = next((ID_KINDS[p] for p in reversed(error["loc"]) if p in ID_KINDS), "an id")
                message = f"{error.get('input')!r} is not {kind}"
            elif error["type"] == "extra_forbidden":
                message = "unknown key"
            problems.append(f"{loc}: {message}")
        raise PolicyProblem(f"{label}: {'; '.join(problems)}") from None


def unset_if_blank(value: Any) -> Any:
    """``SHEPHERD_PERMISSIONS=`` (empty) means no file, not the current directory."""
    return None if isinstance(value, str) and not value.strip() else value


def load_gate_policy(path: Path | str | None) -> GatePolicy | None:
    """The gate defaults of ``SHEPHERD_PERMISSIONS`` (None without a file: nothing changes)."""
    return read_policy(path, GatePolicy) if path else None
