"""incident-response's outside effects under the unlucky day: a channel the bot was never invited
to, a worker that dies right after a call, and PagerDuty failing on acknowledge or resolve.

"Dies right after a call" is the client method (a Slack post, a channel, a PagerDuty event)
raising once the real call has returned, so nothing after it runs and nothing is recorded; the
task is then delivered again, as the worker's queue would. ``test_incident_kill_matrix`` does
the same with real SIGKILLs of real worker processes, at the failpoints after each call.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from engine import TaskContext
from engine.client import ShepherdClient
from integrations.pagerduty import PagerDuty
from integrations.slack import WorkerSlack
from processes.incident import tasks
from processes.incident.models import OpenChannelArgs, PageArgs, PagerEventArgs, PostArgs
from sandbox import SandboxServer
from state.store import RunStore
from tests.bot.conftest import Harness, Slack
from tests.helpers import wait_for
from tests.processes.incident_fixtures import (  # noqa: F401 - fixtures
    FakePagerDuty,
    People,
    control,
    harness,
    open_gate,
    pagerduty,
    server,
    slack,
    worker_slack,
)
from tests.sandbox.control_client import Control, eventually


class Died(BaseException):
    """The worker's death at a failpoint: not an Exception, so no handler in the task catches it."""


Target = tuple[type, str]
POST: Target = (WorkerSlack, "post")
CREATE: Target = (WorkerSlack, "create_channel")
TOPIC: Target = (WorkerSlack, "set_topic")
PAGERDUTY: Target = (PagerDuty, "event")


@pytest.fixture
def die_at(monkeypatch: pytest.MonkeyPatch) -> Callable[[Target], None]:
    """``die_at(POST)``: the next call of that client method is made, then the task dies there."""
    armed: set[Target] = set()

    def arm(target: Target) -> None:
        cls, name = target
        real = getattr(cls, name)

        async def call_then_die(*args: object, **kwargs: object) -> object:
            result = await real(*args, **kwargs)
            if target in armed:
                armed.discard(target)
                raise Died(name)
            return result

        if target not in patched:
            monkeypatch.setattr(cls, name, call_then_die)
            patched.add(target)
        armed.add(target)

    patched: set[Target] = set()
    return arm


async def _beat() -> None:
    return None


def tctx(redis: Redis, step: str, attempt: int = 1) -> TaskContext:
    return TaskContext(run_id="r-effects", step=step, attempt=attempt, heartbeat=_beat, redis=redis)


async def messages(control: Control, channel: str) -> list[str]:  # noqa: F811
    return [m["text"] for m in (await control.get(f"/channels/{channel}/messages"))["messages"]]


# -- item 6: the exec channel the bot was never invited to ------------------------------------------


async def test_sev1_exec_notice_where_the_bot_is_not_invited_is_reported_and_pings_once(
        harness: Harness, slack: Slack, control: Control, client: ShepherdClient,  # noqa: F811
        worker_slack: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """The app without chat:write.public: Slack answers not_in_channel for #exec. The page goes on,
    the on-call group is mentioned once, and the thread says to invite the bot; the run goes on."""
    for name in ("PAGERDUTY_ROUTING_KEY", "PAGERDUTY_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SHEPHERD_INCIDENT_ONCALL_GROUP", "S0SRE")
    monkeypatch.setenv("SHEPHERD_INCIDENT_EXEC_CHANNEL", "C0EXEC")
    scopes = set((await control.get("/settings"))["settings"]["bot_scopes"])
    await control.post("/settings", {"bot_scopes": sorted(scopes - {"chat:write.public"})})
    people = People(slack, control, client)
    run_id = await people.declare("U0ALICE", "incident-response SEV-1 title='Payments down'")
    await people.answer("U0ALICE", "who takes which role", {"commander": "U0BOB", "tech_lead": "U0CAROL"})
    run = await client.view(run_id)

    async def paged() -> bool:
        nonlocal run
        run = await client.view(run_id)
        assert run.status not in ("failed", "cancelled"), run
        return any("Roles:" in n for n in run.notes)

    await eventually(paged, 15)
    assert ("⚠️ The executive notice could not be posted in <#C0EXEC> (Slack: not_in_channel — invite @shepherd "
            "to <#C0EXEC>): tell leadership yourself." in run.notes), run.notes
    [page] = [s for s in run.steps if s.name.endswith("page_oncall")]
    assert page.state == "done"
    events = [e for e in await RunStore(client.redis).read_journal(run_id) if e.get("key") == page.key]
    assert [e.get("attempt", 1) for e in events if e["type"] == "effect_resolved"] == [1]  # not retried
    channel = next(n for n in run.notes if "Incident channel" in n).split("<#")[1].split(">")[0]
    pings = [t for t in await messages(control, channel) if t.startswith("<!subteam^S0SRE> SEV-1 declared")]
    assert len(pings) == 1, pings
    assert await messages(control, "C0EXEC") == []
    await people.answer("U0BOB", "status update #1", {"status": "Failing over", "mitigated": ["yes"]})
    await open_gate(client, run_id, "is the impact mitigated?")  # the incident goes on
    await client.cancel(run_id, by="U0ALICE", reason="test over")


async def test_exec_notice_with_chat_write_public_and_in_a_private_channel(
        redis: Redis, control: Control, worker_slack: SandboxServer,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With chat:write.public the notice reaches public #exec uninvited; private #leadership answers
    channel_not_found, which is reported, not retried."""
    for name in ("PAGERDUTY_ROUTING_KEY", "PAGERDUTY_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    args = PageArgs(incident_id="INC-20300101-1", severity="SEV-1", summary="INC-20300101-1 SEV-1: x",
                    source="api", channel="C0OPS", oncall_group="S0SRE", exec_channel="C0EXEC", exec_notice=True)
    public = await tasks.page_oncall.fn(args, tctx(redis, "p1"))
    assert public.exec_notice == "Executive notice posted in <#C0EXEC>"
    assert await messages(control, "C0EXEC") == [
        "🚨 SEV-1 INC-20300101-1: INC-20300101-1 SEV-1: x. Response under way in <#C0OPS>."]
    private = await tasks.page_oncall.fn(args.model_copy(update={"exec_channel": "C0LEADERSHIP"}),
                                         tctx(redis, "p2"))
    assert private.exec_notice == ("⚠️ The executive notice could not be posted in <#C0LEADERSHIP> (Slack: "
                                   "channel_not_found — invite @shepherd to <#C0LEADERSHIP>): tell leadership "
                                   "yourself.")
    assert private.via == "usergroup"


# -- item 12: a worker killed right after each call --------------------------------------------------


async def test_redelivered_post_is_not_posted_twice(redis: Redis, control: Control,  # noqa: F811
                                                    worker_slack: SandboxServer,  # noqa: F811
                                                    die_at: Callable[[Target], None]) -> None:
    args = PostArgs(channel="C0OPS", text="🟢 *INC-1* resolved. TTA 1m")
    die_at(POST)
    with pytest.raises(Died):
        await tasks.post_message.fn(args, tctx(redis, "resolved"))
    again = await tasks.post_message.fn(args, tctx(redis, "resolved", attempt=2))
    assert again.posted and again.ts
    assert (await messages(control, "C0OPS")).count(args.text) == 1


async def test_redelivered_channel_is_found_not_created_again(redis: Redis, control: Control,  # noqa: F811
                                                              worker_slack: SandboxServer,  # noqa: F811
                                                              die_at: Callable[[Target], None]) -> None:
    """Killed after conversations.create (before the topic), and after the topic: the next delivery
    finds the channel by its name, creator and topic; no ``-2``, one announcement."""
    for step, point in (("open-a", CREATE), ("open-b", TOPIC)):
        args = OpenChannelArgs(incident_id=f"INC-20300101-{step}", name=f"inc-20300101-{step}",
                               topic=f"SEV-2 INC-20300101-{step}: x | status: investigating", fallback="C0OPS",
                               invite=["U0ALICE"], announce=f"🚨 INC-20300101-{step} declared")
        die_at(point)
        with pytest.raises(Died):
            await tasks.open_channel.fn(args, tctx(redis, step))
        result = await tasks.open_channel.fn(args, tctx(redis, step, attempt=2))
        names = [c["name"] for c in (await control.get("/channels"))["channels"]]
        assert result.created and result.name == args.name and names.count(args.name) == 1, (result, names)
        assert f"{args.name}-2" not in names
        info = (await control.get(f"/channels/{args.name}"))["channel"]
        assert info["id"] == result.channel and info["topic"]["value"] == args.topic
        assert (await messages(control, info["id"])).count(args.announce) == 1


async def test_redelivered_page_sends_each_event_once(redis: Redis, pagerduty: FakePagerDuty,  # noqa: F811
                                                      worker_slack: SandboxServer,  # noqa: F811
                                                      die_at: Callable[[Target], None]) -> None:
    args = PageArgs(incident_id="INC-20300101-9", severity="SEV-2", summary="INC-20300101-9 SEV-2: x",
                    source="api", channel="C0OPS")
    die_at(PAGERDUTY)
    with pytest.raises(Died):
        await tasks.page_oncall.fn(args, tctx(redis, "page"))
    paged = await tasks.page_oncall.fn(args, tctx(redis, "page", attempt=2))
    assert paged.via == "pagerduty"
    for action in ("acknowledge", "resolve"):
        die_at(PAGERDUTY)
        with pytest.raises(Died):
            await tasks.pagerduty_event.fn(PagerEventArgs(action=action, dedup_key=args.incident_id),
                                           tctx(redis, action))
        sent = await tasks.pagerduty_event.fn(PagerEventArgs(action=action, dedup_key=args.incident_id),
                                              tctx(redis, action, attempt=2))
        assert sent.sent, sent
    assert pagerduty.actions() == [("trigger", args.incident_id), ("acknowledge", args.incident_id),
                                   ("resolve", args.incident_id)]
    assert len(pagerduty.incident_queries) == 3  # each redelivery read the incident back instead


async def test_redelivered_group_ping_and_exec_notice_are_posted_once(
        redis: Redis, control: Control, worker_slack: SandboxServer,  # noqa: F811
        die_at: Callable[[Target], None], monkeypatch: pytest.MonkeyPatch) -> None:
    """The ping in the incident channel can be read back; the notice in #exec (posted there through
    chat:write.public, unreadable) is not repeated, and the thread says it may be missing."""
    for name in ("PAGERDUTY_ROUTING_KEY", "PAGERDUTY_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    args = PageArgs(incident_id="INC-20300101-3", severity="SEV-1", summary="INC-20300101-3 SEV-1: x",
                    source="api", channel="C0OPS", oncall_group="S0SRE", exec_channel="C0GENERAL", exec_notice=True)
    for step, exec_channel in (("ping", "C0GENERAL"), ("ping-exec", "C0EXEC")):
        for _ in range(2):  # killed after the ping, then after the notice
            die_at(POST)
            with pytest.raises(Died):
                await tasks.page_oncall.fn(args.model_copy(update={"exec_channel": exec_channel}), tctx(redis, step))
        result = await tasks.page_oncall.fn(args.model_copy(update={"exec_channel": exec_channel}),
                                            tctx(redis, step, attempt=3))
        assert result.via == "usergroup"
        if exec_channel == "C0GENERAL":
            assert result.exec_notice == "Executive notice posted in <#C0GENERAL>"
        else:
            assert result.exec_notice.startswith("⚠️ The executive notice to <#C0EXEC> may not have been posted")
    ops = await messages(control, "C0OPS")
    assert sum(t.startswith("<!subteam^S0SRE> SEV-1 declared: INC-20300101-3") for t in ops) == 2  # one per step
    assert sum("INC-20300101-3" in t for t in await messages(control, "C0GENERAL")) == 1
    assert sum("INC-20300101-3" in t for t in await messages(control, "C0EXEC")) == 1


# -- item 15: PagerDuty failing on acknowledge or resolve --------------------------------------------


async def test_pagerduty_event_errors_are_reported_after_retries(redis: Redis,
                                                                 pagerduty: FakePagerDuty) -> None:  # noqa: F811
    args = PagerEventArgs(action="acknowledge", dedup_key="INC-20300101-5")
    pagerduty.fail_with = 503  # transient: raised, so the worker retries ...
    with pytest.raises(Exception, match=r"\(503\)"):
        await tasks.pagerduty_event.fn(args, tctx(redis, "ack", 1))
    result = await tasks.pagerduty_event.fn(args, tctx(redis, "ack", tasks.EVENT_RETRIES + 1))  # ... not forever
    assert not result.sent and result.detail == (
        "⚠️ PagerDuty acknowledge failed: PagerDuty refused the acknowledge event (503): try later. "
        "Acknowledge incident INC-20300101-5 in PagerDuty yourself; the response goes on.")
    pagerduty.fail_with = 400  # permanent: reported at once
    refused = await tasks.pagerduty_event.fn(args.model_copy(update={"action": "resolve"}), tctx(redis, "res", 1))
    assert not refused.sent and refused.detail.startswith("⚠️ PagerDuty resolve failed")


async def test_incident_goes_on_when_pagerduty_refuses_acknowledge_and_resolve(
        worker: object, client: ShepherdClient, pagerduty: FakePagerDuty,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_API_URL", "GITHUB_TOKEN", "SHEPHERD_INCIDENT_GITHUB_REPO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SHEPHERD_INCIDENT_CADENCE_SECONDS", "0.2")
    pagerduty.fail_actions = {"acknowledge": 400, "resolve": 400}
    run_id = await client.start("incident-response", {"severity": "SEV-2", "title": "Queue backlog"},
                                requester="alice")
    await client.answer(run_id, await open_gate(client, run_id, "who takes which role"), user="alice",
                        values={"commander": "bob", "tech_lead": "carol"})
    await client.answer(run_id, await open_gate(client, run_id, "status update #1"), user="bob",
                        values={"status": "Drained", "mitigated": True})
    await client.decide(run_id, await open_gate(client, run_id, "mitigated?"), user="bob", approve=True)
    await client.decide(run_id, await open_gate(client, run_id, "resolve the incident?"), user="bob", approve=True)
    await client.answer(run_id, await open_gate(client, run_id, "postmortem details"), user="bob",
                        values={"summary": "Backlog.", "impact": "Slow emails."})
    await client.answer(run_id, await open_gate(client, run_id, "action item #1"), user="bob", values={})
    await client.decide(run_id, await open_gate(client, run_id, "revision 1"), user="carol", approve=True)
    run = await wait_for(client, run_id, timeout=30)
    assert run.status == "completed", run
    incident = json.loads(run.meta["result"])["incident"]
    for action in ("acknowledge", "resolve"):
        assert any(n.startswith(f"⚠️ PagerDuty {action} failed") and incident in n for n in run.notes), run.notes
    assert [a for a, _ in pagerduty.actions()] == ["trigger", "acknowledge", "resolve"]
