"""The in-memory workspace: people, channels, messages, threads, ephemerals, files, reactions.

Every Web API method and every control call goes through these operations, so Slack's rules
(membership, threads, who may edit what) live in one place and every change is published on
the event bus exactly once.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from sandbox.config import SandboxConfig
from sandbox.errors import SlackError
from sandbox.escaping import notifies
from sandbox.events import EventBus
from sandbox.ids import TsClock, new_id
from sandbox.model import Channel, Ephemeral, File, Message, User, Usergroup
from sandbox.seed import seed

_NAME_OK = re.compile(r"^[a-z0-9_\-\u00c0-\uffff]+$")
_TS = re.compile(r"^\d{1,12}\.\d{6}$")


def valid_ts(value: Any) -> bool:
    """Slack timestamps are strings like ``1700000000.000100``; numbers are not accepted here."""
    return isinstance(value, str) and bool(_TS.match(value))


class Workspace:
    """One team's state. Not thread-safe: the sandbox runs on a single event loop."""

    def __init__(self, config: SandboxConfig, bus: EventBus, base_url: str = "") -> None:
        self.config = config
        self.bus = bus
        self.base_url = base_url
        self.clock = TsClock()
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.messages: dict[str, dict[str, Message]] = {}
        self.ephemerals: list[Ephemeral] = []
        self.files: dict[str, File] = {}
        self.uploads: dict[str, str] = {}
        """Upload URL token -> file id, for files.getUploadURLExternal's one-off URLs."""
        self.usergroups: dict[str, Usergroup] = {}
        self.refuse_channel_creation = False
        seed(self)

    @property
    def bot(self) -> str:
        return self.config.bot_user_id

    # ---- lookups -------------------------------------------------------------------------

    def user(self, user_id: Any) -> User:
        if not isinstance(user_id, str) or user_id not in self.users:
            raise SlackError("user_not_found")
        return self.users[user_id]

    def channel(self, ref: Any, *, names: bool = False, users: bool = False) -> Channel:
        """Resolve a conversation id; with ``names`` also ``#name``/``name``, with ``users`` a user id (DM).

        Most methods take ids only; chat.postMessage also takes names and user ids, and the
        sandbox refuses names elsewhere as Slack does, so a bot relying on them fails here first.
        """
        if not isinstance(ref, str) or not ref:
            raise SlackError("channel_not_found")
        if ref in self.channels:
            return self.channels[ref]
        if users and ref[0] in "UW" and ref in self.users:
            return self.open_dm(ref)
        name = ref.removeprefix("#")
        for channel in self.channels.values():
            if names and channel.name == name and not channel.is_im:
                return channel
        raise SlackError("channel_not_found")

    def open_dm(self, user_id: str) -> Channel:
        """The bot's direct-message conversation with a person (``D`` + the user id's tail)."""
        self.user(user_id)
        dm_id = "D" + user_id[1:]
        if dm_id not in self.channels:
            self.channels[dm_id] = Channel(dm_id, dm_id, creator=user_id, members=[user_id, self.bot], is_im=True,
                                           im_user=user_id)
            self.messages[dm_id] = {}
        return self.channels[dm_id]

    def require_member(self, channel: Channel, user: str, error: str = "not_in_channel") -> None:
        if user not in channel.members:
            raise SlackError(error)

    def require_bot_can_post(self, channel: Channel) -> None:
        """chat.postMessage's membership rule (https://api.slack.com/methods/chat.postMessage#errors).

        A member posts anywhere. Otherwise a private channel or DM does not exist as far as the bot
        can tell (``channel_not_found``); a public one takes the ``chat:write.public`` scope
        (https://api.slack.com/scopes/chat:write.public), else ``not_in_channel``.
        """
        if self.bot in channel.members:
            return
        if channel.is_private or channel.is_im:
            raise SlackError("channel_not_found")
        if "chat:write.public" not in self.config.bot_scopes:
            raise SlackError("not_in_channel")

    def message(self, channel_id: str, ts: Any, error: str = "message_not_found") -> Message:
        found = self.messages.get(channel_id, {}).get(ts) if isinstance(ts, str) else None
        if found is None:
            raise SlackError(error)
        return found

    def history(self, channel_id: str) -> list[Message]:
        """Top-level messages (and thread broadcasts), oldest first."""
        return [m for m in self.messages.get(channel_id, {}).values()
                if not m.is_reply or m.subtype == "thread_broadcast"]

    def thread(self, channel_id: str, ts: str) -> list[Message]:
        """A thread's parent followed by its replies; a reply's ts finds its whole thread."""
        message = self.message(channel_id, ts, error="thread_not_found")
        parent = self.message(channel_id, message.thread_ts) if message.is_reply else message
        return [parent] + [self.messages[channel_id][r] for r in parent.replies]

    def ephemerals_for(self, user: str) -> list[Ephemeral]:
        return [e for e in self.ephemerals if e.user == user and not e.deleted]

    def ephemeral(self, channel_id: str, ts: str, user: str | None = None) -> Ephemeral | None:
        for item in self.ephemerals:
            if item.channel == channel_id and item.ts == ts and not item.deleted and user in (None, item.user):
                return item
        return None

    # ---- rendering -----------------------------------------------------------------------

    def bot_profile(self) -> dict[str, Any]:
        cfg = self.config
        return {"id": cfg.bot_id, "deleted": False, "name": cfg.bot_display_name, "updated": 1700000000,
                "app_id": cfg.app_id, "icons": {"image_36": "", "image_48": "", "image_72": ""},
                "team_id": cfg.team_id}

    def render(self, m: Message) -> dict[str, Any]:
        """A message as conversations.history / chat.postMessage return it."""
        out: dict[str, Any] = {"user": m.user, "type": "message", "ts": m.ts}
        if m.subtype:
            out["subtype"] = m.subtype
        if m.bot_id:
            out.update(bot_id=m.bot_id, app_id=m.app_id, bot_profile=self.bot_profile())
        out["text"] = m.text
        out["team"] = self.config.team_id
        if m.client_msg_id:
            out["client_msg_id"] = m.client_msg_id
        if m.blocks is not None:
            out["blocks"] = copy.deepcopy(m.blocks)
        if m.attachments:
            out["attachments"] = copy.deepcopy(m.attachments)
        if m.thread_ts:
            out["thread_ts"] = m.thread_ts
            if m.is_reply:
                parent = self.messages.get(m.channel, {}).get(m.thread_ts)
                out["parent_user_id"] = parent.user if parent else m.user
        if m.replies:
            reply_users = list(dict.fromkeys(self.messages[m.channel][r].user for r in m.replies))
            out.update(reply_count=len(m.replies), reply_users_count=len(reply_users), latest_reply=m.replies[-1],
                       reply_users=reply_users, is_locked=False, subscribed=False)
        if m.edited:
            out["edited"] = dict(m.edited)
        if m.reactions:
            out["reactions"] = [{"name": n, "users": list(u), "count": len(u)} for n, u in m.reactions.items()]
        if m.files:
            out["files"] = [self.render_file(self.files[f]) for f in m.files]
            out.update(upload=True, display_as_bot=False)
        if m.metadata:
            out["metadata"] = copy.deepcopy(m.metadata)
        return out

    def shown(self, m: Message) -> dict[str, Any]:
        """``render`` plus what tests and the console need and Slack's API does not return:
        ``notifies``, whom the message would notify (``sandbox.escaping.notifies``); Slack's own
        system messages (``channel_join`` …) notify nobody."""
        said = m.subtype in (None, "thread_broadcast", "bot_message")  # not "X has joined" and such
        return self.render(m) | {"notifies": notifies(m.text, m.blocks, m.attachments) if said else []}

    # ---- messages ------------------------------------------------------------------------

    def post(self, channel: Channel, user: str, *, text: str = "", blocks: list[dict[str, Any]] | None = None,
             attachments: list[dict[str, Any]] | None = None, thread_ts: str | None = None,
             broadcast: bool = False, metadata: dict[str, Any] | None = None, files: list[str] | None = None,
             subtype: str | None = None, client_msg_id: str | None = None) -> Message:
        """Store a message (a thread reply when ``thread_ts`` is set) and announce it."""
        parent = None
        if thread_ts is not None:
            parent = self.message(channel.id, thread_ts, error="thread_not_found")
            if parent.is_reply:  # Slack threads a reply-to-a-reply under the original parent
                parent = self.message(channel.id, parent.thread_ts)
        is_bot = user == self.bot
        message = Message(
            channel=channel.id, ts=self.clock.next(), user=user, text=text, blocks=blocks, attachments=attachments,
            thread_ts=parent.ts if parent else None, metadata=metadata, files=list(files or []),
            subtype=subtype or ("thread_broadcast" if parent and broadcast else None),
            bot_id=self.config.bot_id if is_bot else None, app_id=self.config.app_id if is_bot else None,
            client_msg_id=client_msg_id,
        )
        self.messages.setdefault(channel.id, {})[message.ts] = message
        if parent is not None:
            parent.thread_ts = parent.ts
            parent.replies.append(message.ts)
        for file_id in message.files:
            self.files[file_id].shares.setdefault(channel.id, []).append(message.ts)
        self.bus.publish("message_posted", channel=channel.id, message=self.render(message))
        if parent is not None:
            self.bus.publish("message_updated", channel=channel.id, message=self.render(parent), reason="reply")
        return message

    def update(self, channel: Channel, ts: str, by: str, *, text: str | None = None,
               blocks: list[dict[str, Any]] | None = None, attachments: list[dict[str, Any]] | None = None,
               metadata: dict[str, Any] | None = None, mark_edited: bool = True) -> Message:
        """Edit a message in place; only its author may (``cant_update_message`` otherwise)."""
        message = self.message(channel.id, ts)
        if message.user != by or message.subtype == "tombstone":
            raise SlackError("cant_update_message")
        if text is not None:
            message.text = text
        if blocks is not None:
            message.blocks = blocks or None
        if attachments is not None:
            message.attachments = attachments or None
        if metadata is not None:
            message.metadata = metadata
        if mark_edited:
            message.edited = {"user": by, "ts": self.clock.next()}
        self.bus.publish("message_updated", channel=channel.id, message=self.render(message), reason="edit")
        return message

    def delete(self, channel: Channel, ts: str, by: str) -> None:
        """Delete a message; a parent with replies leaves Slack's "This message was deleted." tombstone."""
        message = self.message(channel.id, ts)
        if message.user != by:
            raise SlackError("cant_delete_message")
        if message.replies:
            message.subtype, message.text, message.blocks, message.attachments = "tombstone", \
                "This message was deleted.", None, None
            message.user, message.bot_id, message.app_id = "USLACKBOT", None, None
            self.bus.publish("message_updated", channel=channel.id, message=self.render(message), reason="tombstone")
            return
        del self.messages[channel.id][ts]
        if message.is_reply and message.thread_ts in self.messages[channel.id]:
            parent = self.messages[channel.id][message.thread_ts]
            parent.replies.remove(ts)
            self.bus.publish("message_updated", channel=channel.id, message=self.render(parent), reason="reply")
        self.bus.publish("message_deleted", channel=channel.id, ts=ts, thread_ts=message.thread_ts)

    def post_ephemeral(self, channel: Channel, user: str, *, text: str = "",
                       blocks: list[dict[str, Any]] | None = None, attachments: list[dict[str, Any]] | None = None,
                       thread_ts: str | None = None, source: str = "chat.postEphemeral",
                       author: str | None = None) -> Ephemeral:
        item = Ephemeral(channel.id, self.clock.next(), user, text, blocks, attachments, thread_ts, source,
                         author or self.bot)
        self.ephemerals.append(item)
        self.bus.publish("ephemeral_posted", user=user, channel=channel.id, message=item.to_json())
        return item

    def replace_ephemeral(self, item: Ephemeral, *, text: str, blocks: list[dict[str, Any]] | None,
                          attachments: list[dict[str, Any]] | None) -> None:
        item.text, item.blocks, item.attachments = text, blocks, attachments
        self.bus.publish("ephemeral_updated", user=item.user, channel=item.channel, message=item.to_json())

    def delete_ephemeral(self, item: Ephemeral) -> None:
        item.deleted = True
        self.bus.publish("ephemeral_deleted", user=item.user, channel=item.channel, ts=item.ts)

    def react(self, channel: Channel, ts: str, name: str, user: str) -> Message:
        message = self.message(channel.id, ts)
        users = message.reactions.setdefault(name, [])
        if user in users:
            raise SlackError("already_reacted")
        users.append(user)
        self.bus.publish("reaction_added", channel=channel.id, ts=ts, name=name, user=user)
        self.bus.publish("message_updated", channel=channel.id, message=self.render(message), reason="reaction")
        return message

    # ---- channels ------------------------------------------------------------------------

    def create_channel(self, name: Any, creator: str, *, is_private: bool = False,
                       members: list[str] | None = None) -> Channel:
        """conversations.create's rules: lower-case letters, digits, ``-`` and ``_``, at most 80, unique."""
        if self.refuse_channel_creation:
            raise SlackError("restricted_action")
        if not isinstance(name, str) or not name:
            raise SlackError("invalid_name_required")
        if len(name) > 80:
            raise SlackError("invalid_name_maxlength")
        if not _NAME_OK.match(name):
            raise SlackError("invalid_name_specials")
        if not name.strip("-_"):
            raise SlackError("invalid_name_punctuation")
        if any(c.name == name for c in self.channels.values()):
            raise SlackError("name_taken")
        channel = Channel(new_id("C"), name, creator=creator, members=[creator], is_private=is_private)
        self.channels[channel.id] = channel
        self.messages[channel.id] = {}
        self.bus.publish("channel_created", channel=channel.to_slack(self.config.team_id, creator))
        self._joined(channel, creator)
        for member in members or []:
            if member not in channel.members:
                channel.members.append(member)
                self._joined(channel, member)
        return channel

    def invite(self, channel: Channel, users: list[str], by: str) -> None:
        """conversations.invite: every id must exist and not already be a member."""
        if not users:
            raise SlackError("no_user")
        for user in users:
            if user not in self.users:
                raise SlackError("user_not_found", errors=[{"user": user, "ok": False, "error": "user_not_found"}])
            if user == by:
                raise SlackError("cant_invite_self")
            if user in channel.members:
                raise SlackError("already_in_channel",
                                 errors=[{"user": user, "ok": False, "error": "already_in_channel"}])
        for user in users:
            channel.members.append(user)
            self._joined(channel, user, inviter=by)

    def _joined(self, channel: Channel, user: str, inviter: str | None = None) -> None:
        text = f"<@{user}> has joined the channel"
        self.post(channel, user, text=text, subtype="channel_join")
        self.bus.publish("member_joined", channel=channel.id, user=user, inviter=inviter)

    def set_topic(self, channel: Channel, topic: str, by: str) -> None:
        channel.topic = {"value": topic, "creator": by, "last_set": int(self.clock.next().split(".")[0])}
        self.post(channel, by, text=f"set the channel topic: {topic}", subtype="channel_topic")
        self.bus.publish("topic_set", channel=channel.id, topic=topic, user=by)

    # ---- files ---------------------------------------------------------------------------

    def new_file(self, name: str, length: int, user: str, alt_txt: str | None, snippet_type: str | None) -> File:
        file = File(new_id("F"), name, name, user, length, alt_txt, snippet_type)
        self.files[file.id] = file
        return file

    def render_file(self, file: File) -> dict[str, Any]:
        private = frozenset(c for c in file.shares if c in self.channels and self.channels[c].is_private
                            and not self.channels[c].is_im)
        ims = frozenset(c for c in file.shares if c in self.channels and self.channels[c].is_im)
        return file.to_slack(self.base_url, self.config.team_id, private, ims)
