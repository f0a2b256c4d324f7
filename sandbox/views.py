"""Modals (a per-user stack of up to three views) and App Home tabs.

Slack keeps the views an app opened and lets it update them by id or external_id, guarded by
a hash against lost updates; form submissions and ``response_action`` acknowledgements act on
the same stack. Keeping that model here lets tests see exactly what a person would be looking at.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from sandbox.blocks import fill_ids
from sandbox.config import SandboxConfig
from sandbox.errors import SlackError, invalid_arguments
from sandbox.events import EventBus
from sandbox.ids import new_id, new_view_hash

MAX_STACK = 3


@dataclass
class View:
    """A modal or Home tab as the app defined it, plus what the person has entered and been told."""

    id: str
    user: str
    definition: dict[str, Any]
    hash: str = field(default_factory=new_view_hash)
    root_view_id: str = ""
    previous_view_id: str | None = None
    state_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, str] | None = None
    """The last ``response_action: errors`` the app answered with, shown under the inputs."""
    is_open: bool = True

    @property
    def type(self) -> str:
        return str(self.definition.get("type"))

    @property
    def external_id(self) -> str:
        return str(self.definition.get("external_id") or "")


class ViewStore:
    """Every view, each person's modal stack and each person's Home tab."""

    def __init__(self, config: SandboxConfig, bus: EventBus) -> None:
        self.config = config
        self.bus = bus
        self.views: dict[str, View] = {}
        self.stacks: dict[str, list[str]] = {}
        self.homes: dict[str, str] = {}

    # ---- reading -------------------------------------------------------------------------

    def render(self, view: View) -> dict[str, Any]:
        """Slack's view object, as views.* return it and as interaction payloads carry it."""
        d = view.definition
        cfg = self.config
        return {
            "id": view.id,
            "team_id": cfg.team_id,
            "type": view.type,
            "blocks": copy.deepcopy(d.get("blocks") or []),
            "private_metadata": d.get("private_metadata") or "",
            "callback_id": d.get("callback_id") or "",
            "state": {"values": copy.deepcopy(view.state_values)},
            "hash": view.hash,
            "title": copy.deepcopy(d.get("title")),
            "clear_on_close": bool(d.get("clear_on_close", False)),
            "notify_on_close": bool(d.get("notify_on_close", False)),
            "close": copy.deepcopy(d.get("close")),
            "submit": copy.deepcopy(d.get("submit")),
            "previous_view_id": view.previous_view_id,
            "root_view_id": view.root_view_id,
            "app_id": cfg.app_id,
            "external_id": view.external_id,
            "app_installed_team_id": cfg.team_id,
            "bot_id": cfg.bot_id,
        }

    def snapshot(self, view: View) -> dict[str, Any]:
        """The view plus what only the sandbox knows (owner, errors shown, open or closed)."""
        return {**self.render(view), "user": view.user, "errors": view.errors, "is_open": view.is_open}

    def get(self, view_id: Any) -> View:
        view = self.views.get(view_id) if isinstance(view_id, str) else None
        if view is None:
            raise SlackError("not_found")
        return view

    def by_external_id(self, external_id: str) -> View:
        for view in self.views.values():
            if view.external_id == external_id and (view.is_open or view.type == "home"):
                return view
        raise SlackError("not_found")

    def stack(self, user: str) -> list[View]:
        return [self.views[v] for v in self.stacks.get(user, [])]

    def top(self, user: str) -> View | None:
        stack = self.stacks.get(user)
        return self.views[stack[-1]] if stack else None

    def home(self, user: str) -> View | None:
        view_id = self.homes.get(user)
        return self.views[view_id] if view_id else None

    # ---- changing ------------------------------------------------------------------------

    def _new(self, user: str, definition: dict[str, Any]) -> View:
        external_id = definition.get("external_id")
        if external_id and any(v.external_id == external_id and v.is_open for v in self.views.values()):
            raise SlackError("duplicate_external_id")
        fill_ids(definition.get("blocks"))
        view = View(new_id("V"), user, definition)
        view.root_view_id = view.id
        self.views[view.id] = view
        return view

    def open(self, user: str, definition: dict[str, Any]) -> View:
        """views.open: a new modal stack for the user (any modal they had open is replaced)."""
        if definition.get("type") != "modal":
            raise invalid_arguments("must be modal [json-pointer:/view/type]")
        view = self._new(user, definition)
        for old in self.stack(user):
            old.is_open = False
            self.bus.publish("view_closed", user=user, view_id=old.id)
        self.stacks[user] = [view.id]
        self.bus.publish("view_opened", user=user, view=self.snapshot(view))
        return view

    def push(self, user: str, definition: dict[str, Any]) -> View:
        stack = self.stacks.get(user)
        if not stack:
            raise SlackError("not_found")
        if len(stack) >= MAX_STACK:
            raise SlackError("push_limit_reached")
        view = self._new(user, definition)
        view.root_view_id, view.previous_view_id = stack[0], stack[-1]
        stack.append(view.id)
        self.bus.publish("view_pushed", user=user, view=self.snapshot(view))
        return view

    def update(self, view: View, definition: dict[str, Any], hash_: str | None = None) -> View:
        """Replace a view's content in place (same id, new hash); a stale hash is ``hash_conflict``."""
        if hash_ is not None and hash_ != view.hash:
            raise SlackError("hash_conflict")
        if definition.get("type") != view.type:
            raise invalid_arguments("view type cannot change [json-pointer:/view/type]")
        fill_ids(definition.get("blocks"))
        keep = {(b.get("block_id")) for b in definition.get("blocks") or [] if isinstance(b, dict)}
        view.state_values = {k: v for k, v in view.state_values.items() if k in keep}
        view.definition = definition
        view.hash = new_view_hash()
        view.errors = None
        kind = "home_published" if view.type == "home" else "view_updated"
        self.bus.publish(kind, user=view.user, view=self.snapshot(view))
        return view

    def publish_home(self, user: str, definition: dict[str, Any], hash_: str | None = None) -> View:
        if definition.get("type") != "home":
            raise invalid_arguments("must be home [json-pointer:/view/type]")
        current = self.home(user)
        if current is not None:
            return self.update(current, definition, hash_)
        view = self._new(user, definition)
        self.homes[user] = view.id
        self.bus.publish("home_published", user=user, view=self.snapshot(view))
        return view

    def close(self, user: str, *, everything: bool = False) -> list[View]:
        """Close the top view (or the whole stack, for ``response_action: clear``)."""
        stack = self.stacks.get(user, [])
        closing = stack[:] if everything else stack[-1:]
        del stack[len(stack) - len(closing):]
        closed = [self.views[v] for v in closing]
        for view in closed:
            view.is_open = False
            self.bus.publish("view_closed", user=user, view_id=view.id)
        return closed

    def clear(self) -> None:
        self.views.clear()
        self.stacks.clear()
        self.homes.clear()
