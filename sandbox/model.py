"""The workspace's objects and their Slack JSON shapes.

Apps read these shapes field by field (``message["thread_ts"]``, ``channel["is_member"]``,
``user["profile"]["display_name"]``), so each ``to_slack`` follows Slack's documented object
types; fields Slack sends that the sandbox has no use for are filled with Slack's defaults.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class User:
    """A person or bot user; ``to_slack`` is Slack's user object (users.info, users.list)."""

    id: str
    name: str
    real_name: str
    display_name: str = ""
    email: str | None = None
    title: str = ""
    is_bot: bool = False
    is_admin: bool = False
    bot_id: str | None = None
    app_id: str | None = None
    tz: str = "Europe/London"
    tz_label: str = "Greenwich Mean Time"
    tz_offset: int = 0
    deleted: bool = False
    updated: int = field(default_factory=lambda: int(time.time()))

    def to_slack(self, team_id: str) -> dict[str, Any]:
        profile: dict[str, Any] = {
            "title": self.title,
            "phone": "",
            "skype": "",
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.display_name,
            "display_name_normalized": self.display_name,
            "fields": None,
            "status_text": "",
            "status_emoji": "",
            "status_expiration": 0,
            "avatar_hash": "g" + self.id[-11:].lower(),
            "first_name": self.real_name.split(" ")[0],
            "last_name": " ".join(self.real_name.split(" ")[1:]),
            "image_24": f"https://secure.gravatar.com/avatar/{self.id}.jpg?s=24",
            "image_48": f"https://secure.gravatar.com/avatar/{self.id}.jpg?s=48",
            "image_72": f"https://secure.gravatar.com/avatar/{self.id}.jpg?s=72",
            "team": team_id,
        }
        if self.email:
            profile["email"] = self.email
        if self.bot_id:
            profile["bot_id"] = self.bot_id
            profile["api_app_id"] = self.app_id or ""
            profile["always_active"] = True
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": self.deleted,
            "color": "9f69e7",
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": self.tz_label,
            "tz_offset": self.tz_offset,
            "profile": profile,
            "is_admin": self.is_admin,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": self.updated,
            "is_email_confirmed": not self.is_bot,
            "who_can_share_contact_card": "EVERYONE",
        }


@dataclass
class Channel:
    """A public or private channel, or the bot's DM with someone (``is_im``)."""

    id: str
    name: str
    creator: str
    members: list[str] = field(default_factory=list)
    is_private: bool = False
    is_im: bool = False
    im_user: str | None = None
    is_general: bool = False
    is_archived: bool = False
    topic: dict[str, Any] = field(default_factory=lambda: {"value": "", "creator": "", "last_set": 0})
    purpose: dict[str, Any] = field(default_factory=lambda: {"value": "", "creator": "", "last_set": 0})
    created: int = field(default_factory=lambda: int(time.time()))

    def to_slack(self, team_id: str, viewer: str) -> dict[str, Any]:
        """Slack's conversation object; ``is_member`` is relative to the calling token's user."""
        if self.is_im:
            return {
                "id": self.id,
                "created": self.created,
                "is_archived": False,
                "is_im": True,
                "is_org_shared": False,
                "context_team_id": team_id,
                "updated": self.created * 1000,
                "user": self.im_user,
                "is_user_deleted": False,
                "priority": 0,
            }
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "created": self.created,
            "is_archived": self.is_archived,
            "is_general": self.is_general,
            "unlinked": 0,
            "name_normalized": self.name,
            "is_shared": False,
            "is_org_shared": False,
            "is_pending_ext_shared": False,
            "pending_shared": [],
            "context_team_id": team_id,
            "updated": self.created * 1000,
            "parent_conversation": None,
            "creator": self.creator,
            "is_ext_shared": False,
            "shared_team_ids": [team_id],
            "pending_connected_team_ids": [],
            "is_member": viewer in self.members,
            "topic": dict(self.topic),
            "purpose": dict(self.purpose),
            "previous_names": [],
            "num_members": len(self.members),
        }


@dataclass
class File:
    """An uploaded file; ``content`` is None until the bytes reach the upload URL."""

    id: str
    name: str
    title: str
    user: str
    length: int
    alt_txt: str | None = None
    snippet_type: str | None = None
    content: bytes | None = None
    complete: bool = False
    shares: dict[str, list[str]] = field(default_factory=dict)
    """channel id -> ts of the messages that share the file."""
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def filetype(self) -> str:
        return self.snippet_type or (self.name.rsplit(".", 1)[-1].lower() if "." in self.name else "binary")

    @property
    def mimetype(self) -> str:
        known = {"txt": "text/plain", "md": "text/markdown", "json": "application/json", "yaml": "text/yaml",
                 "yml": "text/yaml", "csv": "text/csv", "png": "image/png", "jpg": "image/jpeg",
                 "svg": "image/svg+xml", "pdf": "application/pdf", "html": "text/html", "py": "text/x-python"}
        return known.get(self.filetype, "application/octet-stream")

    def to_slack(self, base_url: str, team_id: str, private_channels: frozenset[str] = frozenset(),
                 ims: frozenset[str] = frozenset()) -> dict[str, Any]:
        """Slack's file object (https://api.slack.com/types/file): public channels are listed in
        ``channels`` and ``shares.public``, private ones in ``groups`` and ``shares.private``,
        direct messages in ``ims`` (and ``shares.private``)."""
        private = f"{base_url}/files-pri/{team_id}-{self.id}/{self.name}"
        public_shares = {c: [{"ts": ts, "channel_name": "", "reply_count": 0} for ts in tss]
                         for c, tss in self.shares.items() if c not in private_channels and c not in ims}
        private_shares = {c: [{"ts": ts, "reply_count": 0} for ts in tss]
                          for c, tss in self.shares.items() if c in private_channels or c in ims}
        shares = {"public": public_shares} if public_shares else {}
        if private_shares:
            shares["private"] = private_shares
        return {
            "id": self.id,
            "created": self.created,
            "timestamp": self.created,
            "name": self.name,
            "title": self.title,
            "mimetype": self.mimetype,
            "filetype": self.filetype,
            "pretty_type": self.filetype.upper(),
            "user": self.user,
            "user_team": team_id,
            "editable": False,
            "size": len(self.content) if self.content is not None else self.length,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": bool(public_shares),
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": private,
            "url_private_download": f"{base_url}/files-pri/{team_id}-{self.id}/download/{self.name}",
            "permalink": f"{base_url}/files/{self.user}/{self.id}/{self.name}",
            "permalink_public": f"{base_url}/files-pub/{team_id}-{self.id}",
            "alt_txt": self.alt_txt or "",
            "channels": list(public_shares),
            "groups": [c for c in self.shares if c in private_channels],
            "ims": [c for c in self.shares if c in ims],
            "shares": shares,
            "comments_count": 0,
            "has_rich_preview": False,
        }


@dataclass
class Message:
    """A channel message or thread reply; ``Workspace.render`` gives its Slack JSON."""

    channel: str
    ts: str
    user: str
    text: str = ""
    blocks: list[dict[str, Any]] | None = None
    attachments: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    subtype: str | None = None
    bot_id: str | None = None
    app_id: str | None = None
    metadata: dict[str, Any] | None = None
    files: list[str] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)
    replies: list[str] = field(default_factory=list)
    """ts of the replies, oldest first (only on a thread parent)."""
    edited: dict[str, str] | None = None
    client_msg_id: str | None = None

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts


@dataclass
class Ephemeral:
    """A message only one user sees; it never appears in history or threads."""

    channel: str
    ts: str
    user: str
    """The recipient."""
    text: str = ""
    blocks: list[dict[str, Any]] | None = None
    attachments: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    source: str = "chat.postEphemeral"
    """chat.postEphemeral, response_url, ack (a slash command's acknowledgement) or slackbot."""
    author: str = ""
    deleted: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"type": "message", "subtype": "ephemeral", "channel": self.channel, "ts": self.ts,
                "user": self.author, "recipient": self.user, "text": self.text, "blocks": self.blocks or [],
                "attachments": self.attachments or [], "thread_ts": self.thread_ts, "source": self.source,
                "deleted": self.deleted}


@dataclass
class Usergroup:
    """A user group (``@sre``), used by apps to decide who may approve."""

    id: str
    handle: str
    name: str
    users: list[str]
    description: str = ""
    created: int = field(default_factory=lambda: int(time.time()))

    def to_slack(self, team_id: str, include_users: bool = False) -> dict[str, Any]:
        group: dict[str, Any] = {
            "id": self.id, "team_id": team_id, "is_usergroup": True, "is_subteam": True, "name": self.name,
            "description": self.description, "handle": self.handle, "is_external": False,
            "date_create": self.created, "date_update": self.created, "date_delete": 0, "auto_type": None,
            "created_by": "", "updated_by": "", "deleted_by": None, "prefs": {"channels": [], "groups": []},
            "user_count": len(self.users),
        }
        if include_users:
            group["users"] = list(self.users)
        return group
