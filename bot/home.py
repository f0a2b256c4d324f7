"""The App Home tab: published when someone opens it, refreshed when their gates open or close.

Opening the tab (``app_home_opened``) records the person in a Redis set, so the notifier can
refresh the homes of the people a run change concerns (``HomeTab.run_changed``, called after
each sync): the requester, the gate's approvers (group members asked of Slack) and, for a
gate anyone may decide, everyone who has a home. A run is looked at again only when its
status or a gate's state changed, so the steady stream of step updates costs no publishes.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.acks import in_background
from bot.ledger import LedgerStore
from bot.render.home import MAX_RUNS, HomeData, HomeGate, HomeRun, home_view
from engine.client import ShepherdClient
from engine.journal import HUMAN_KINDS
from state import keys

log = logging.getLogger(__name__)

HOME_USERS = keys.SLACK_HOME_USERS
"""People who opened the App Home: the only ones whose home is worth refreshing."""
WAITING_SCAN = 200  # waiting runs looked at for someone's gates
MINE_SCAN = 50  # the person's latest runs looked at for active ones
MAX_REFRESH = 100  # homes refreshed for one run change
SEEN_CAP = 2000


def permalink(base: str, channel: str, ts: str, thread_ts: str | None = None) -> str:
    """Slack's message link: ``<workspace url>archives/<channel>/p<ts without the dot>``."""
    link = f"{base.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
    return f"{link}?thread_ts={thread_ts}&cid={channel}" if thread_ts and thread_ts != ts else link


class GroupMembers:
    """User group members from ``usergroups.users.list``, asked once per group per use."""

    def __init__(self, web: AsyncWebClient) -> None:
        self.web = web
        self._members: dict[str, set[str]] = {}

    async def of(self, group: str) -> set[str]:
        if group not in self._members:
            reply: AsyncSlackResponse | dict[str, Any]
            try:
                reply = await self.web.usergroups_users_list(usergroup=group)
            except SlackApiError as exc:  # a group gone from Slack has no members to show gates to
                log.warning("home: user group %s: %s", group, exc.response.get("error"))
                reply = {}
            self._members[group] = set(reply.get("users") or [])
        return self._members[group]


async def may_decide(gate: dict[str, Any], user: str, groups: GroupMembers) -> bool:
    """The decide and answer scripts' rule (the engine still checks on the click): listed, or
    nobody listed; never the requester of a four-eyes gate."""
    if gate.get("four_eyes") and gate.get("requester") == user:
        return False
    if not gate.get("users") and not gate.get("groups"):
        return True
    if user in gate.get("users", []):
        return True
    for group in gate.get("groups", []):
        if user in await groups.of(group):
            return True
    return False


@dataclass
class Snapshot:
    waiting: list[tuple[dict[str, str], list[dict[str, Any]]]]
    """(run meta with its id, its open gates and questions) for every waiting run that has some."""
    groups: GroupMembers


class HomeTab:
    def __init__(self, engine: ShepherdClient, web: AsyncWebClient, redis: Redis) -> None:
        """``engine`` for runs; ``redis`` for the bot's own records (who opened a home, the ledgers)."""
        self.engine, self.web, self.redis = engine, web, redis
        self.ledgers = LedgerStore(redis)
        self._base: str | None = None
        self._seen: OrderedDict[str, tuple[Any, ...]] = OrderedDict()
        self._lock = asyncio.Lock()  # one refresh at a time: a later state is never overwritten by an earlier
        self.published_at: dict[str, float] = {}
        """Loop time of each person's latest publish (``HomeRefresher`` paces from it)."""

    async def opened(self, user: str) -> None:
        await self.redis.sadd(HOME_USERS, user)
        async with self._lock:
            await self.publish(user, await self.snapshot())

    async def publish(self, user: str, snapshot: Snapshot) -> None:
        self.published_at[user] = asyncio.get_running_loop().time()
        await self.web.views_publish(user_id=user, view=home_view(await self.gather(user, snapshot)))

    async def snapshot(self) -> Snapshot:
        """The open gates and questions of waiting runs, read once for all the homes of one refresh."""
        runs = await self.engine.list_runs(status="waiting", limit=WAITING_SCAN)
        gates = await asyncio.gather(*(self.engine.gates(r["id"]) for r in runs))
        found = [(raw, [g for g in run_gates.values() if g.get("kind") in HUMAN_KINDS and g.get("status") == "open"])
                 for raw, run_gates in zip(runs, gates, strict=True)]
        return Snapshot([(raw, open_gates) for raw, open_gates in found if open_gates], GroupMembers(self.web))

    async def base_url(self) -> str:
        if self._base is None:
            self._base = str((await self.web.auth_test()).get("url") or "")
        return self._base

    async def _run(self, raw: dict[str, str]) -> HomeRun:
        run = HomeRun(raw["id"], raw)
        ledger = await self.ledgers.load(run.id)
        if ledger.card and raw.get("channel"):
            run.link = permalink(await self.base_url(), raw["channel"], ledger.card)
        return run

    async def gather(self, user: str, snapshot: Snapshot) -> HomeData:
        data = HomeData(user)
        for raw, open_gates in snapshot.waiting:
            mine = [g for g in open_gates if await may_decide(g, user, snapshot.groups)]
            if not mine:
                continue
            run = await self._run(raw)
            ledger = await self.ledgers.load(run.id)
            for gate in mine:
                ts = ledger.gates.get(gate["key"])
                link = permalink(await self.base_url(), raw["channel"], ts, ledger.card) if ts and raw.get(
                    "channel") else run.link
                data.gates.append(HomeGate(run, gate, link))
        mine_runs = await self.engine.list_runs(requester=user, limit=MINE_SCAN)
        data.active = [await self._run(r) for r in mine_runs if r.get("status") in ("running", "waiting")]
        data.recent = [await self._run(r) for r in await self.engine.list_runs(limit=MAX_RUNS)]
        return data

    async def run_changed(self, run_id: str) -> None:
        """Refresh now the homes ``run_id``'s change concerns (``HomeRefresher`` does it paced)."""
        await self.refresh(await self.affected(run_id))

    async def affected(self, run_id: str) -> list[str]:
        """The people with a home whom ``run_id``'s latest change concerns, or none if its status,
        a gate's state and whether the gate's message is posted are as last seen."""
        meta = await self.engine.meta(run_id)
        gates = [g for g in (await self.engine.gates(run_id)).values() if g.get("kind") in HUMAN_KINDS]
        posted = (await self.ledgers.load(run_id)).gates  # a gate's link appears once its message is posted
        signature = (meta.get("status"), tuple(sorted((g["key"], g.get("status"), len(g.get("votes", [])),
                                                       g["key"] in posted) for g in gates)))
        if self._seen.get(run_id) == signature:
            return []
        self._seen[run_id] = signature
        self._seen.move_to_end(run_id)
        while len(self._seen) > SEEN_CAP:
            self._seen.popitem(last=False)
        homes = set(await self.redis.smembers(HOME_USERS))
        if not homes:
            return []
        affected = {meta.get("requester", "")}
        members = GroupMembers(self.web)
        for gate in gates:
            if not gate.get("users") and not gate.get("groups"):
                affected |= homes
                break
            affected |= set(gate.get("users", []))
            for group in gate.get("groups", []):
                affected |= await members.of(group)
        return sorted(affected & homes)[:MAX_REFRESH]

    async def refresh(self, users: list[str]) -> None:
        """Publish these people's homes from one snapshot of the open gates."""
        if not users:
            return
        async with self._lock:
            snapshot = await self.snapshot()
            for user in users:
                try:
                    await self.publish(user, snapshot)
                except Exception:  # one person's home must not stop the others' (or the notifier)
                    log.exception("could not refresh the App Home of %s", user)


def register_home(app: AsyncApp, home: HomeTab) -> None:
    @app.event("app_home_opened")
    @in_background
    async def on_home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        try:
            await home.opened(event["user"])
        except Exception:
            log.exception("could not publish the App Home of %s", event.get("user"))
